"""What the sync and async faces share besides the operations: settings and the collection state."""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from typing import Any, Generic

from pymesync._operations import Kind, M, Session, check_filters
from pymesync._transport import Timeout

DEFAULT_TIMEOUT: Timeout = (5.0, 60.0)
DEFAULT_MAX_CONNECTIONS = 16


def timeout_pair(timeout: float | tuple[float, float]) -> Timeout:
    """``(connect, read)`` seconds from one number or a pair; each must be a finite number > 0."""
    pair = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if len(pair) != 2 or not all(
        isinstance(part, (int, float)) and not isinstance(part, bool) and math.isfinite(part) and part > 0
        for part in pair
    ):
        raise ValueError("timeout must be a number > 0 or a (connect, read) pair of them")
    return float(pair[0]), float(pair[1])


def base_url(baseurl: str) -> str:
    """The API root including the version (``http://host/v1``), without trailing slashes."""
    if not isinstance(baseurl, str) or not baseurl.startswith(("http://", "https://")):
        raise ValueError("baseurl must be an http(s) URL such as 'https://timesync.example.com/v1'")
    return baseurl.rstrip("/")


def new_session(username: str | None, password: str | None, auth_type: str, token: str | None) -> Session:
    if (username is None) != (password is None):
        raise ValueError("give both username and password, or neither")
    if username is None and token is None:
        raise ValueError("give a username and password, a token, or both")
    return Session(username=username, password=password, auth_type=auth_type, token=token)


def describe(kind_name: str, baseurl: str, session: Session) -> str:
    return f"<{kind_name} {baseurl!r} user={session.username!r}>"


def parse_day(value: datetime.date | str, name: str) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a date or a 'YYYY-MM-DD' string") from None


class CollectionState(Generic[M]):
    """A collection's kind, session and fixed filters; both faces' collection classes derive from it."""

    def __init__(self, session: Session, kind: Kind[M], filters: Mapping[str, Any] | None = None) -> None:
        self._session = session
        self._kind = kind
        self._filters: dict[str, Any] = dict(filters or {})

    def _merged(self, filters: Mapping[str, Any]) -> dict[str, Any]:
        check_filters(self._kind, filters, self._kind.filters)
        return {**self._filters, **filters}

    def __repr__(self) -> str:
        shown = "".join(f" {key}={value!r}" for key, value in self._filters.items())
        return f"<{type(self).__name__} {self._kind.path}{shown}>"
