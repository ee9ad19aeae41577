"""Secrets: the password in the OS keyring (or a 0600 file where none works), the token in a 0600 cache.

The keyring is only touched by ``login``, ``logout`` and when a token must be renewed; every other command
runs on the cached token. A keyring call that hangs (a locked or absent Secret Service) is abandoned after
:data:`KEYRING_TIMEOUT` seconds and the file is used instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pymesync.cli._files import (
    cache_file,
    config_file,
    dump_toml,
    profile_file_part,
    read_json,
    read_toml,
    remove,
    write_atomic,
    write_json,
)

T = TypeVar("T")

KEYRING_SERVICE = "timesync"
KEYRING_TIMEOUT = 5.0
KEYRING, FILE = "keyring", "file"


class KeyringUnavailable(Exception):
    """No usable keyring: none installed, none running, or it did not answer in time."""


def _with_timeout(call: Callable[[], T]) -> T:
    """Run a keyring call in a daemon thread, so a hung D-Bus call cannot hang the command line."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except Exception as exc:  # any backend failure means "no keyring here"
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="timesync-keyring", daemon=True)
    worker.start()
    worker.join(KEYRING_TIMEOUT)
    if worker.is_alive():
        raise KeyringUnavailable(f"the keyring did not answer within {KEYRING_TIMEOUT:g} s")
    if "error" in outcome:
        raise KeyringUnavailable(f"the keyring failed ({type(outcome['error']).__name__})")
    value: T = outcome["value"]
    return value


def _keyring() -> Any:
    """The keyring backend, or KeyringUnavailable when it is one of keyring's do-nothing backends."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        raise KeyringUnavailable("the keyring package is not installed") from None
    backend = _with_timeout(keyring.get_keyring)
    if isinstance(backend, fail.Keyring) or type(backend).__module__.endswith("null"):
        raise KeyringUnavailable("no system keyring is available")
    return backend


def _account(url: str, user: str) -> str:
    return f"{user}@{url}"


def keyring_name() -> str:
    backend = _keyring()
    return str(getattr(backend, "name", type(backend).__name__))


# ----------------------------------------------------------------------------------------------------
# The fallback file: one table per profile, mode 0600


def credentials_path() -> str:
    return config_file("credentials.toml")


def _file_read() -> dict[str, Any]:
    try:
        return read_toml(credentials_path())
    except ValueError:
        return {}


def _file_write(data: dict[str, Any]) -> None:
    write_atomic(credentials_path(), dump_toml(data).encode(), private=True)


# ----------------------------------------------------------------------------------------------------


def save_password(profile: str, url: str, user: str, password: str) -> tuple[str, str]:
    """Store the password; returns the store used (``keyring``/``file``) and a phrase saying where."""
    try:
        backend = _keyring()
        _with_timeout(lambda: backend.set_password(KEYRING_SERVICE, _account(url, user), password))
    except KeyringUnavailable as exc:
        data = _file_read()
        data[profile] = {"url": url, "user": user, "password": password}
        _file_write(data)
        return FILE, f"in {credentials_path()} (mode 0600): {exc}"
    _forget_file(profile)
    name = getattr(backend, "name", type(backend).__name__)
    return KEYRING, f"in the system keyring ({name})"


def load_password(profile: str, url: str, user: str, store: str | None) -> str | None:
    """The saved password, from the store ``login`` recorded (the keyring is asked only if it was used)."""
    if store == KEYRING:
        try:
            backend = _keyring()
            found = _with_timeout(lambda: backend.get_password(KEYRING_SERVICE, _account(url, user)))
        except KeyringUnavailable:
            found = None
        if isinstance(found, str):
            return found
    entry = _file_read().get(profile)
    if isinstance(entry, dict) and entry.get("url") == url and entry.get("user") == user:
        password = entry.get("password")
        return password if isinstance(password, str) else None
    return None


def forget_password(profile: str, url: str | None, user: str | None, store: str | None) -> None:
    if store == KEYRING and url and user:
        try:
            backend = _keyring()
            _with_timeout(lambda: backend.delete_password(KEYRING_SERVICE, _account(url, user)))
        except KeyringUnavailable:
            pass
    _forget_file(profile)


def _forget_file(profile: str) -> None:
    data = _file_read()
    if profile in data:
        del data[profile]
        _file_write(data)


# ----------------------------------------------------------------------------------------------------
# The token cache


def _token_path(profile: str) -> str:
    return cache_file(f"token-{profile_file_part(profile)}.json")


def load_token(profile: str, url: str, user: str) -> str | None:
    cached = read_json(_token_path(profile))
    if isinstance(cached, dict) and cached.get("url") == url and cached.get("user") == user:
        token = cached.get("token")
        return token if isinstance(token, str) else None
    return None


def save_token(profile: str, url: str, user: str, token: str) -> None:
    write_json(_token_path(profile), {"url": url, "user": user, "token": token}, private=True)


def forget_token(profile: str) -> None:
    remove(_token_path(profile))
