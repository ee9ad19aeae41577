"""Setup commands: login, logout, whoami, config, completion."""

from __future__ import annotations

import getpass
import os
import sys

import click

from pymesync.cli._app import App, pass_app
from pymesync.cli._config import GLOBAL_KEYS, PROFILE_KEYS, READ_ONLY_KEYS, config_path, normalize_url
from pymesync.cli._errors import CliError, ExitCode, usage_error


def _read_password(app: App, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise usage_error("--password-stdin: standard input held no password")
        return password
    env = os.environ.get("TIMESYNC_PASSWORD")
    if env:
        return env
    app.require_prompt("no password: use --password-stdin or TIMESYNC_PASSWORD")
    prompted: str = click.prompt("Password", hide_input=True, err=True)
    return prompted


@click.command()
@click.option("--server", "-s", metavar="URL", help="The server's API URL (…/v1 is added if missing).")
@click.option("--user", "-u", metavar="NAME", help="Your user name (default: from the profile, or asked).")
@click.option("--profile", "-P", "profile_option", metavar="NAME", help="Profile to save the login in.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@pass_app
def login(
    app: App, server: str | None, user: str | None, profile_option: str | None, password_stdin: bool
) -> None:
    """Log in to a TimeSync server and save the credentials.

    The password goes to the system keyring, or to a private file (mode 0600) where no keyring works;
    the command says which. It is never accepted as an option, so it stays out of shell history.
    """
    from pymesync.cli import _credentials as creds
    from pymesync.client import Client

    if profile_option:
        app.chosen_profile = profile_option
    profile = app.profile
    saved = app.config.profile(profile)
    url = server or os.environ.get("TIMESYNC_URL") or saved.get("url")
    if not url:
        app.require_prompt("no server URL: use --server URL")
        url = click.prompt("Server URL (e.g. https://timesync.example.com/v1)", err=True)
    url = normalize_url(str(url))
    name = user or os.environ.get("TIMESYNC_USER") or saved.get("user")
    if not name:
        app.require_prompt("no user name: use --user NAME")
        name = click.prompt("User name", default=getpass.getuser(), err=True)
    password = _read_password(app, password_stdin)
    with Client(url, username=str(name), password=password) as client:
        client.login()
        token = client.token
    store, where = creds.save_password(profile, url, str(name), password)
    if token:
        creds.save_token(profile, url, str(name), token)
    app.config.set_profile(profile, url=url, user=str(name), password_store=store)
    if "profile" not in app.config.data:
        app.config.data["profile"] = profile
    app.config.save()
    app.term.info(f"Logged in to {url} as {name} (profile {profile!r}); password saved {where}.")


@click.command()
@pass_app
def logout(app: App) -> None:
    """Forget the saved password and token of the profile (the profile's URL and user stay)."""
    from pymesync.cli import _credentials as creds

    profile = app.profile
    saved = app.config.profile(profile)
    creds.forget_token(profile)
    creds.forget_password(profile, saved.get("url"), saved.get("user"), saved.get("password_store"))
    if "password_store" in saved:
        app.config.set_profile(profile, password_store=None)
        app.config.save()
    app.term.info(f"Logged out of profile {profile!r}: password and token removed.")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def whoami(app: App, as_json: bool) -> None:
    """Show the server, user and profile in use, and check them against the server."""
    account = app.account()
    user = app.client().users[account.user]
    info = {
        "profile": account.profile,
        "url": account.url,
        "user": account.user,
        "display_name": user.display_name,
        "site_admin": user.site_admin,
        "site_manager": user.site_manager,
        "password_store": "environment" if account.env_password else account.password_store,
    }
    if as_json:
        import json

        app.term.out(json.dumps(info, indent=2))
        return
    shown = f"{account.user}" + (f" ({user.display_name})" if user.display_name else "")
    roles = [role for role in ("site_admin", "site_manager") if info[role]]
    suffix = f" [{', '.join(roles)}]" if roles else ""
    app.term.out(f"{shown} on {account.url}, profile {account.profile!r}{suffix}")


@click.group()
def config() -> None:
    """Read or change settings. Settings never include secrets."""


_ALL_KEYS = {**GLOBAL_KEYS, **PROFILE_KEYS, **READ_ONLY_KEYS}


@config.command("get")
@click.argument("key", required=False)
@pass_app
def config_get(app: App, key: str | None) -> None:
    """Print one setting, or all of them (KEY=VALUE lines) for the current profile."""
    profile = app.profile
    if key is not None:
        value = app.config.get(key, profile)
        if value is None:
            raise CliError(f"{key} is not set", ExitCode.NOT_FOUND)
        app.term.out(str(value))
        return
    app.term.out(f"profile={profile}")
    for name in _ALL_KEYS:
        if name == "profile":
            continue
        value = app.config.get(name, profile)
        if value is not None:
            app.term.out(f"{name}={value}")


@config.command("set")
@click.argument("key", type=click.Choice(sorted({*GLOBAL_KEYS, *PROFILE_KEYS})), metavar="KEY")
@click.argument("value")
@pass_app
def config_set(app: App, key: str, value: str) -> None:
    """Change a setting: url, user, target (of the profile), profile, color (global)."""
    app.config.set(key, value, app.profile)
    app.config.save()
    app.term.info(f"{key} = {app.config.get(key, app.profile)}")


@config.command("path")
@pass_app
def config_path_command(app: App) -> None:
    """Print where the config file is."""
    app.term.out(str(config_path()))


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL, generated now from the installed commands.

    \b
    bash:  eval "$(timesync completion bash)"      (in ~/.bashrc)
    zsh:   eval "$(timesync completion zsh)"       (in ~/.zshrc)
    fish:  timesync completion fish > ~/.config/fish/completions/timesync.fish
    """
    from click.shell_completion import get_completion_class

    root = ctx.find_root().command
    completer_class = get_completion_class(shell)
    if completer_class is None:  # pragma: no cover - the choice above lists only shells click knows
        raise usage_error(f"no completion for {shell}")
    completer = completer_class(root, {}, "timesync", "_TIMESYNC_COMPLETE")
    click.echo(completer.source())
