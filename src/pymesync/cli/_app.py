"""What every command gets: the terminal, the config, and a logged-in client built on demand."""

from __future__ import annotations

import dataclasses
import datetime
import os
from typing import TYPE_CHECKING

import click

from pymesync.cli._config import Config
from pymesync.cli._errors import CliError, ExitCode
from pymesync.cli._terminal import Terminal

if TYPE_CHECKING:
    from pymesync.cli._cache import EntryCache
    from pymesync.client import Client


@dataclasses.dataclass
class Account:
    """Who we talk to and as whom, from the environment (CI) or the profile."""

    profile: str
    url: str
    user: str
    password_store: str | None
    env_password: str | None


@dataclasses.dataclass
class App:
    ctx: click.Context
    term: Terminal
    chosen_profile: str | None
    _config: Config | None = None
    _client: Client | None = None
    _entry_cache: EntryCache | None = None

    @classmethod
    def create(
        cls, ctx: click.Context, *, profile: str | None, color: str, verbose: int, no_input: bool
    ) -> App:
        return cls(ctx, Terminal.detect(color, no_input, verbose), profile)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = Config.load()
            if self.ctx.get_parameter_source("color") != click.core.ParameterSource.COMMANDLINE:
                setting = self._config.data.get("color")
                if setting in ("always", "never"):
                    self.term.color = setting == "always"
        return self._config

    @property
    def profile(self) -> str:
        return self.config.profile_name(self.chosen_profile)

    def account(self) -> Account:
        settings = self.config.profile(self.profile)
        url = os.environ.get("TIMESYNC_URL") or settings.get("url")
        user = os.environ.get("TIMESYNC_USER") or settings.get("user")
        if not url or not user:
            raise CliError(
                f"not logged in (profile {self.profile!r}); run 'timesync login'", ExitCode.AUTHENTICATION
            )
        from pymesync.cli._config import normalize_url

        return Account(
            self.profile,
            normalize_url(str(url)),
            str(user),
            settings.get("password_store"),
            os.environ.get("TIMESYNC_PASSWORD"),
        )

    def client(self) -> Client:
        """A client on the cached token; the saved password is read only if the token must be renewed."""
        if self._client is not None:
            return self._client
        from pymesync.cli import _credentials as creds
        from pymesync.client import Client

        account = self.account()
        cached = creds.load_token(account.profile, account.url, account.user)

        def password() -> str:
            found = account.env_password or creds.load_password(
                account.profile, account.url, account.user, account.password_store
            )
            if found is None:
                raise CliError(
                    f"no saved password for {account.user} (profile {account.profile!r});"
                    " run 'timesync login'",
                    ExitCode.AUTHENTICATION,
                )
            return found

        client = Client(account.url, username=account.user, password=password, token=cached)

        def finish() -> None:
            token = client.token
            if token and token != cached:
                creds.save_token(account.profile, account.url, account.user, token)
            client.close()

        self.ctx.call_on_close(finish)
        self._client = client
        return client

    def entry_cache(self) -> EntryCache:
        """The local copy of this profile's entries (see :mod:`._cache`); not synced here."""
        if self._entry_cache is None:
            from pymesync.cli._cache import EntryCache, cache_path

            account = self.account()
            self._entry_cache = EntryCache(cache_path(account.profile), f"{account.url} {account.user}")
            self.ctx.call_on_close(self._entry_cache.close)
        return self._entry_cache

    def today(self) -> datetime.date:
        return datetime.date.today()

    def require_prompt(self, what: str) -> None:
        if not self.term.may_prompt:
            raise CliError(f"{what} (no terminal to ask on, or --no-input)", ExitCode.USAGE)


pass_app = click.make_pass_decorator(App)
