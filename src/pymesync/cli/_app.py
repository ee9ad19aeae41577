"""What every command gets: the terminal, the config, and a logged-in client built on demand.

The client starts on the cached token and on the server's extensions as last asked (``GET /v1/``, kept
for :data:`EXTENSIONS_TTL`), so a command sends only the requests its own work needs. Both are checked
where a stale copy would matter: a refused token is renewed, a changes feed that is not there makes the
command ask again at once, and a write that must not overwrite someone else's (``edit``, ``undo``, a
queued edit) always asks first, so the lost-update check uses what the server offers now.
"""

from __future__ import annotations

import datetime
import os
import time
from typing import TYPE_CHECKING

import click

from pymesync.cli._config import Config
from pymesync.cli._errors import CliError, ExitCode
from pymesync.cli._files import cache_file, profile_file_part, read_json, write_json
from pymesync.cli._terminal import Terminal

if TYPE_CHECKING:
    from pymesync.cli._cache import EntryCache
    from pymesync.client import Client

#: Seconds the server's answer to ``GET /v1/`` (which extensions it has) is used without asking again.
EXTENSIONS_TTL = 86_400.0


def _extensions_path(profile: str) -> str:
    return cache_file(f"extensions-{profile_file_part(profile)}.json")


def load_extensions(profile: str, url: str, now: float) -> frozenset[str] | None:
    """The extensions saved for this server less than :data:`EXTENSIONS_TTL` ago, else None."""
    saved = read_json(_extensions_path(profile))
    if not isinstance(saved, dict) or saved.get("url") != url:
        return None
    offered, when = saved.get("extensions"), saved.get("saved")
    if not isinstance(offered, list) or not isinstance(when, (int, float)):
        return None
    if not 0 <= now - when < EXTENSIONS_TTL or not all(isinstance(name, str) for name in offered):
        return None
    return frozenset(offered)


def save_extensions(profile: str, url: str, offered: frozenset[str], now: float) -> None:
    write_json(_extensions_path(profile), {"url": url, "extensions": sorted(offered), "saved": now})


class Account:
    """Who we talk to and as whom, from the environment (CI) or the profile.

    A plain class, as are the command line's other records: a dataclass costs a few hundred microseconds
    to create at import, and every command pays for each one it imports.
    """

    __slots__ = ("env_password", "password_store", "profile", "url", "user")

    def __init__(
        self, profile: str, url: str, user: str, password_store: str | None, env_password: str | None
    ) -> None:
        self.profile = profile
        self.url = url
        self.user = user
        self.password_store = password_store
        self.env_password = env_password


class App:
    """One invocation's state; the config, client and local copy are made when first asked for."""

    __slots__ = ("_client", "_config", "_entry_cache", "_extensions_saved", "chosen_profile", "ctx", "term")

    def __init__(self, ctx: click.Context, term: Terminal, chosen_profile: str | None) -> None:
        self.ctx = ctx
        self.term = term
        self.chosen_profile = chosen_profile
        self._config: Config | None = None
        self._client: Client | None = None
        self._entry_cache: EntryCache | None = None
        #: whether the client's extensions came from the saved answer (not asked by this command)
        self._extensions_saved = False

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

        offered = load_extensions(account.profile, account.url, time.time())
        client = Client(
            account.url, username=account.user, password=password, token=cached, extensions=offered
        )
        self._extensions_saved = offered is not None

        def finish() -> None:
            token = client.token
            if token and token != cached:
                creds.save_token(account.profile, account.url, account.user, token)
            if client.extensions is not None and not self._extensions_saved:
                save_extensions(account.profile, account.url, client.extensions, time.time())
            client.close()

        self.ctx.call_on_close(finish)
        self._client = client
        return client

    def ask_extensions_again(self) -> None:
        """Before a write whose safety depends on them: the server's extensions as they are now."""
        if self._extensions_saved:
            self._extensions_saved = False
            self.client().forget_extensions()

    def sync_entries(self, *, projects: bool = True) -> int:
        """Bring the local copy up to date (see :meth:`EntryCache.sync`); returns how many changed.

        A feed the saved extensions promised but the server refuses (it was turned off, or the URL now
        leads to another server) is not an error: the extensions are asked again and the sync redone.
        """
        from pymesync.errors import MethodNotAllowedError, NotFoundError, UnexpectedResponse

        cache, client = self.entry_cache(), self.client()
        try:
            return cache.sync(client, projects=projects)
        except (NotFoundError, MethodNotAllowedError, UnexpectedResponse):
            if not self._extensions_saved:
                raise
        self.ask_extensions_again()
        return cache.sync(client, projects=projects)

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
