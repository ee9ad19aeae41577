"""The settings of ``timesync-server``: how each value is read and checked.

An option on the command line wins, then its ``TIMESYNC_*`` environment variable, then the
built-in default. Every value is checked before anything starts: a bad one is a
:class:`ConfigError` of one line that names the option or variable, says what was wrong and
what is accepted (``--port: must be a whole number from 0 to 65535, not 70000``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TypeVar

import sqlalchemy as sa

from pymesync.server.errors import ConfigError
from pymesync.server.protocol import DEFAULT_HEADER_TIMEOUT, ENV_HEADER_TIMEOUT

__all__ = ["DEFAULT_HEADER_TIMEOUT", "ENV_HEADER_TIMEOUT"]

T = TypeVar("T")

ENV_DATABASE = "TIMESYNC_DATABASE_URL"
ENV_TOKEN_LIFETIME = "TIMESYNC_TOKEN_LIFETIME"
ENV_INSTANCE_NAME = "TIMESYNC_INSTANCE_NAME"
ENV_SHUTDOWN_TIMEOUT = "TIMESYNC_SHUTDOWN_TIMEOUT"
DEFAULT_SHUTDOWN_TIMEOUT = 10
#: uvicorn's log levels, quietest first.
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
DATABASE_HINT = "use sqlite:///path/to/file.db or postgresql://user@host/db"
_DATABASE_SCHEMES = frozenset(
    {"sqlite", "postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"}
)


def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """A parser for whole numbers from ``low`` (to ``high``)."""
    accepted = f"a whole number from {low}" + (f" to {high}" if high is not None else " up")

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError(f"must be {accepted}, not {text!r}") from None
        if value < low or (high is not None and value > high):
            raise ValueError(f"must be {accepted}, not {value}")
        return value

    return parse


def seconds(*, allow_zero: bool) -> Callable[[str], float]:
    """A parser for a finite number of seconds above zero (or from zero)."""
    accepted = "a number of seconds of at least 0" if allow_zero else "a number of seconds above 0"

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise ValueError(f"must be {accepted}, not {text!r}") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            raise ValueError(f"must be {accepted}, not {text.strip()}")
        return value

    return parse


port_number = whole_number(0, 65535)
worker_count = whole_number(1)
whole_seconds = whole_number(0)
token_lifetime = seconds(allow_zero=False)
header_timeout = seconds(allow_zero=False)


def log_level(text: str) -> str:
    level = text.strip().lower()
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}, not {text!r}")
    return level


def instance_name(text: str) -> str:
    if not text.strip() or not text.isprintable():
        raise ValueError(f"must be a non-empty printable name, not {text!r}")
    return text


def database_url(text: str) -> str:
    """A URL of a database the server can use; only its scheme is shown, never a password."""
    scheme = text.partition(":")[0] if "://" in text else ""
    if not scheme:
        raise ValueError(f"not a database URL ({DATABASE_HINT})")
    if scheme.lower() not in _DATABASE_SCHEMES:
        raise ValueError(f"unknown database scheme {scheme!r} ({DATABASE_HINT})")
    try:
        sa.engine.make_url(text)
    except (sa.exc.ArgumentError, ValueError):
        raise ValueError(f"not a database URL ({DATABASE_HINT})") from None
    return text


def option_or_environment(
    option: str,
    given: str | None,
    env: Mapping[str, str],
    env_name: str | None,
    parse: Callable[[str], T],
    default: T,
) -> T:
    """``given`` (the option's text), else ``$env_name``, else ``default``; parsed, and a bad value
    is a :class:`ConfigError` naming whichever of the two it came from."""
    if given is not None:
        source, text = option, given
    elif env_name is not None and env.get(env_name, "").strip():
        source, text = env_name, env[env_name]
    else:
        return default
    try:
        return parse(text)
    except ValueError as problem:
        raise ConfigError(f"{source}: {problem}") from None
