"""The config file: a default profile name and, per profile, the server URL and user name.

It never holds a secret (passwords live in the keyring or the credentials file, tokens in the cache), so
``timesync config get`` can show all of it.
"""

from __future__ import annotations

import os
from typing import Any

from pymesync.cli._errors import CliError, usage_error
from pymesync.cli._files import config_file, dump_toml, read_toml_remembered, write_atomic

DEFAULT_PROFILE = "default"
#: settings `config set` accepts: name → what it means (shown in errors and docs)
PROFILE_KEYS = {
    "url": "the server's API URL, e.g. https://timesync.example.com/v1",
    "user": "your user name on that server",
    "target": "weekly target for 'report --target', e.g. 40h",
}
GLOBAL_KEYS = {
    "profile": "the profile used when --profile is not given",
    "color": "auto, always or never",
}
#: written by `login`, shown by `config get`, never set by hand
READ_ONLY_KEYS = {"password_store": "where login saved the password: keyring or file"}


def config_path() -> str:
    return config_file("config.toml")


class Config:
    """The config file's table (a plain class: see :class:`~pymesync.cli._app.Account`)."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @classmethod
    def load(cls) -> Config:
        try:
            return cls(read_toml_remembered(config_path()))
        except ValueError as exc:
            raise CliError(str(exc)) from None

    def save(self) -> None:
        write_atomic(config_path(), dump_toml(self.data).encode())

    def profile_name(self, chosen: str | None) -> str:
        name = chosen or os.environ.get("TIMESYNC_PROFILE") or self.data.get("profile") or DEFAULT_PROFILE
        return str(name)

    def profile(self, name: str) -> dict[str, Any]:
        profiles = self.data.get("profiles", {})
        found = profiles.get(name, {}) if isinstance(profiles, dict) else {}
        return found if isinstance(found, dict) else {}

    def set_profile(self, name: str, **values: str | None) -> None:
        profile = self.data.setdefault("profiles", {}).setdefault(name, {})
        for key, value in values.items():
            if value is None:
                profile.pop(key, None)
            else:
                profile[key] = value

    def get(self, key: str, profile: str) -> Any:
        if key in GLOBAL_KEYS:
            return self.data.get(key)
        if key in PROFILE_KEYS or key in READ_ONLY_KEYS:
            return self.profile(profile).get(key)
        raise _unknown(key)

    def set(self, key: str, value: str, profile: str) -> None:
        if key == "color" and value not in ("auto", "always", "never"):
            raise usage_error("color must be auto, always or never")
        if key == "url":
            value = normalize_url(value)
        if key == "target":
            from pymesync._duration import parse_human_duration

            try:
                parse_human_duration(value)
            except ValueError as exc:
                raise usage_error(str(exc)) from None
        if key in GLOBAL_KEYS:
            self.data[key] = value
        elif key in PROFILE_KEYS:
            self.set_profile(profile, **{key: value})
        else:
            raise _unknown(key)


def _unknown(key: str) -> CliError:
    known = ", ".join([*GLOBAL_KEYS, *PROFILE_KEYS, *READ_ONLY_KEYS])
    if key in READ_ONLY_KEYS:
        return usage_error(f"{key} is set by 'timesync login'")
    return usage_error(f"unknown setting {key!r}; known settings: {known}")


#: What a URL in normal form is made of after ``http(s)://``: no user info (@), query (?), fragment (#),
#: IPv6 brackets, space or anything else :func:`normalize_url` would need ``urlsplit`` to read.
_PLAIN_URL_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/:%")


def normalize_url(url: str) -> str:
    """An http(s) API URL ending in the version; ``/v1`` is added when no version is given."""
    url = url.strip().rstrip("/")
    if _already_normal(url):  # every run reads the profile's URL, which login saved in this form
        return url
    return _normalize_any(url)


def _normalize_any(url: str) -> str:
    """:func:`normalize_url` of any stripped URL, read by ``urlsplit`` (1.5 ms to import, with ipaddress)."""
    from urllib.parse import urlsplit

    invalid = usage_error(f"invalid server URL {url!r}; use e.g. https://timesync.example.com/v1")
    try:
        parts = urlsplit(url)
    except ValueError:  # an unmatched IPv6 bracket
        raise invalid from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid
    if parts.username or parts.password:
        raise usage_error("put no user name or password in the server URL; 'timesync login' asks for them")
    last = parts.path.rsplit("/", 1)[-1]
    if not (last[:1] == "v" and last[1:].isdigit()):
        url += "/v1"
    return url


def _already_normal(url: str) -> bool:
    """``http(s)://`` a host, a path ending in a version, nothing :func:`normalize_url` would change or
    refuse (a test holds this to its reading by ``urlsplit``)."""
    scheme, separator, rest = url.partition("://")
    last = rest.rsplit("/", 1)[-1]
    return (
        scheme in ("http", "https")
        and bool(separator)
        and rest[:1] not in ("", "/")
        and "/" in rest
        and _PLAIN_URL_CHARACTERS.issuperset(rest)
        and last[:1] == "v"
        and last[1:].isdigit()
    )
