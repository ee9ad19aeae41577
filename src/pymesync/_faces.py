"""What the sync and async faces share besides the operations: settings, client and collection state."""

from __future__ import annotations

import abc
import datetime
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from pymesync._operations import (
    ACTIVITIES,
    PROJECTS,
    TIMES,
    USERS,
    Kind,
    M,
    Session,
    check_filters,
    fields_of,
)
from pymesync._transport import Timeout
from pymesync._wire import finite_number
from pymesync.models import Activity, Project, Time, User

D = TypeVar("D")

DEFAULT_TIMEOUT: Timeout = (5.0, 60.0)
DEFAULT_MAX_CONNECTIONS = 16


def timeout_pair(timeout: float | tuple[float, float]) -> Timeout:
    """``(connect, read)`` seconds from one number or a pair; each must be a finite number > 0."""
    pair = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if len(pair) != 2 or not all(finite_number(part) and part > 0 for part in pair):
        raise ValueError("timeout must be a number > 0 or a (connect, read) pair of them")
    return float(pair[0]), float(pair[1])


def base_url(baseurl: str) -> str:
    """The API root including the version (``http://host/v1``), without trailing slashes."""
    if not isinstance(baseurl, str) or not baseurl.startswith(("http://", "https://")):
        raise ValueError("baseurl must be an http(s) URL such as 'https://timesync.example.com/v1'")
    return baseurl.rstrip("/")


def new_session(
    username: str | None, password: str | Callable[[], str] | None, auth_type: str, token: str | None
) -> Session:
    if (username is None) != (password is None):
        raise ValueError("give both username and password, or neither")
    if username is None and token is None:
        raise ValueError("give a username and password, a token, or both")
    return Session(username=username, password=password, auth_type=auth_type, token=token)


def parse_day(value: datetime.date | str, name: str) -> datetime.date:
    """A :class:`datetime.date` from a date, a datetime or a ``YYYY-MM-DD`` string; ValueError otherwise."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a date or a 'YYYY-MM-DD' string") from None


def summary_window(start: datetime.date | str, end: datetime.date | str) -> dict[str, datetime.date]:
    """The ``start``/``end`` filters of ``times.summary`` (both days inclusive)."""
    return {"start": parse_day(start, "start"), "end": parse_day(end, "end")}


class CollectionState(Generic[D, M]):
    """A collection's driver, session, kind and fixed filters: what both faces' collections share."""

    def __init__(
        self, driver: D, session: Session, kind: Kind[M], filters: Mapping[str, Any] | None = None
    ) -> None:
        self._driver = driver
        self._session = session
        self._kind = kind
        self._filters: dict[str, Any] = dict(filters or {})

    def _merged(self, filters: Mapping[str, Any]) -> dict[str, Any]:
        check_filters(self._kind, filters, self._kind.filters)
        return {**self._filters, **filters}

    def _create_fields(self, item: object, fields: Mapping[str, Any]) -> dict[str, Any]:
        """What ``create`` sends: the fields of ``item`` (a model or a mapping), then the keywords."""
        return {**(fields_of(self._kind, item) if item is not None else {}), **fields}

    def _held(self, held: Mapping[str, M] | Iterable[M]) -> dict[str, M]:
        """What a caller of ``changes`` holds, by id (uuid, or username for users)."""
        if isinstance(held, Mapping):
            return dict(held)
        return {key: item for item in held if (key := self._kind.identity(item)) is not None}

    def __repr__(self) -> str:
        shown = "".join(f" {key}={value!r}" for key, value in self._filters.items())
        return f"<{type(self).__name__} {self._kind.path}{shown}>"


class ClientBase(abc.ABC, Generic[D]):
    """The part of a client that does no I/O, written once for :class:`~pymesync.Client` and its async twin.

    A face supplies its driver (``D``, opened by :meth:`_open`), its collection classes, and the sync or
    async methods that run operations through the driver.
    """

    times: CollectionState[D, Time]
    projects: CollectionState[D, Project]
    activities: CollectionState[D, Activity]
    users: CollectionState[D, User]
    #: the face's collection classes
    _collection_class: ClassVar[type[CollectionState[Any, Any]]]
    _time_collection_class: ClassVar[type[CollectionState[Any, Time]]]

    def __init__(
        self,
        baseurl: str,
        *,
        username: str | None = None,
        password: str | Callable[[], str] | None = None,
        auth_type: str = "password",
        token: str | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        extensions: Iterable[str] | None = None,
    ) -> None:
        self.baseurl = base_url(baseurl)
        self.timeout = timeout_pair(timeout)
        self._session = new_session(username, password, auth_type, token)
        if extensions is not None:
            self._session.extensions = frozenset(extensions)
        self._driver = self._open(max_connections)
        self.times = self._time_collection_class(self._driver, self._session, TIMES)
        self.projects = self._collection_class(self._driver, self._session, PROJECTS)
        self.activities = self._collection_class(self._driver, self._session, ACTIVITIES)
        self.users = self._collection_class(self._driver, self._session, USERS)

    @abc.abstractmethod
    def _open(self, max_connections: int) -> D:
        """Open this face's transport and return the driver that runs operations over it."""

    @property
    def username(self) -> str | None:
        """Who we are: the login name, or the subject of the token."""
        return self._session.username

    @property
    def token(self) -> str | None:
        """The current token (never shown in ``repr``)."""
        return self._session.token

    @property
    def extensions(self) -> frozenset[str] | None:
        """What the server offers beyond the API (``if_match``, ``changes:<collection>``), once known:
        given to the constructor (a program that keeps it between runs spares ``GET /v1/``), or asked the
        first time a method needs it. ``None`` until then."""
        return self._session.extensions

    def forget_extensions(self) -> None:
        """Ask the server again the next time it matters (what was given or asked may be out of date)."""
        self._session.extensions = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.baseurl!r} user={self._session.username!r}>"
