"""Every operation of the pythonic clients, written once and without I/O.

An operation is a generator (an :data:`Exchange`) that yields what it needs done — a
:class:`~pymesync._wire.Request` to send, or a :class:`Blocking` computation such as a bcrypt hash — and
receives the answer (a :class:`~pymesync._wire.Response`, or the computation's result). A transport failure is
thrown into the generator at the ``yield`` that sent the request, so recovery logic (re-login, the bulk
"was it stored?" check) lives here too. :class:`Client` and :class:`AsyncClient` only drive these generators:
one with a blocking transport, the other with ``await``.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import Any, Final, Generic, TypeVar

from pymesync import _wire
from pymesync._token import token_payload
from pymesync._wire import NOT_JSON, Request, Response, finite_number, is_error_object, parse_body
from pymesync.errors import (
    AuthenticationError,
    NotFoundError,
    RevisionConflictError,
    ServerError,
    StartOverError,
    TransportError,
    UnexpectedResponse,
    ValidationError,
    error_from_body,
)
from pymesync.models import (
    Activity,
    ByFieldValues,
    Model,
    Project,
    ProjectRole,
    Time,
    User,
    frozen_dataclass,
    set_field,
)

# The list filters (pymesync._query) and the object checks (pymesync._validation: durations, bcrypt) are
# imported by the operations that use them: a command line run that only reads the changes feeds (a warm
# report) loads neither.

T = TypeVar("T")
M = TypeVar("M", bound=Model)


class Blocking:
    """A CPU-bound step (bcrypt): the sync driver calls it inline, the async driver in a worker thread.

    This module's own records are plain classes: a dataclass costs a few hundred microseconds to create at
    import, which every command line run would pay.
    """

    __slots__ = ("run",)

    def __init__(self, run: Callable[[], Any]) -> None:
        self.run = run


Step = Request | Blocking
Exchange = Generator[Step, Any, T]


class Done(Generic[T]):
    """The end of an exchange, holding its result."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value


def resume(exchange: Exchange[T], outcome: Any) -> Step | Done[T]:
    """Hand ``outcome`` to the exchange and return what it needs next, or :class:`Done`.

    Both drivers step exchanges through here: ``None`` starts one, a :class:`~pymesync.errors.TransportError`
    is thrown in at the ``yield`` that sent the request, anything else (a response, a computation's result)
    is sent in.
    """
    try:
        if isinstance(outcome, TransportError):
            return exchange.throw(outcome)
        return exchange.send(outcome)
    except StopIteration as stop:
        return Done(stop.value)


#: Items per page when listing; a server that ignores ``limit`` simply returns everything at once.
PAGE_SIZE: Final = 500


def read(response: Response) -> Any:
    """The data of a successful response (``None`` for an empty body), or the matching exception."""
    data = parse_body(response)
    status = response.status
    if 200 <= status < 300:
        if data is NOT_JSON:
            if not response.body:
                return None
            raise UnexpectedResponse(f"HTTP {status} response is not JSON", status=status)
        if is_error_object(data):
            raise error_from_body(status, data)
        return data
    if is_error_object(data):
        raise error_from_body(status, data)
    if status >= 500:
        raise ServerError(f"HTTP {status} without a TimeSync error body", status=status)
    raise UnexpectedResponse(f"HTTP {status} without a TimeSync error body", status=status)


class Session:
    """Who we are to the server: the token and, when given, the credentials to get a new one.

    Logs in lazily, again shortly before the token expires, and again when the server rejects the token,
    then resends the rejected request once (the server refused it before acting, so a POST is safe too).
    """

    def __init__(
        self,
        *,
        username: str | None,
        password: str | Callable[[], str] | None,
        auth_type: str,
        token: str | None,
    ) -> None:
        self._username = username
        self._password = password
        self._auth_type = auth_type
        self._token = token
        self._renew_at = self._renewal_time(token)
        self._renewing = False
        #: what the server offers beyond the API (see :func:`server_extensions`), once asked
        self.extensions: frozenset[str] | None = None

    def __repr__(self) -> str:
        return f"<Session user={self.username!r} token={'set' if self._token else 'none'}>"

    @property
    def token(self) -> str | None:
        return self._token

    @property
    def can_login(self) -> bool:
        return self._username is not None and self._password is not None

    @property
    def username(self) -> str | None:
        """The login name, or the token's subject when only a token was given."""
        if self._username is not None:
            return self._username
        try:
            subject = token_payload(self._token).get("sub")
        except ValueError:
            return None
        return subject if isinstance(subject, str) else None

    @staticmethod
    def _renewal_time(token: str | None, received_at: float | None = None) -> float | None:
        """When to log in again, in local epoch seconds: a tenth of the lifetime (at most 30 s) before expiry.

        For a token we just received, expiry is counted from ``received_at`` using the token's own lifetime
        (``exp - iat``), so a client clock that is off does not matter; a token given to us is read as is.
        """
        try:
            payload = token_payload(token)
        except ValueError:
            return None
        exp, iat = payload.get("exp"), payload.get("iat")
        if not finite_number(exp):
            return None
        lifetime = (exp - iat) / 1000 if finite_number(iat) else None
        margin = min(30.0, max(lifetime or 0.0, 0.0) / 10)
        if received_at is not None and lifetime is not None:
            return received_at + lifetime - margin
        return float(exp) / 1000 - margin

    def password_changed(self, password: str) -> None:
        """Our own password was changed through us: log in with the new one from now on.

        Servers may refuse tokens issued before a password change (pymesync's does), so the next request
        is refused and we log in again, which needs the new password.
        """
        if self._password is not None:
            self._password = password

    def _expiring(self) -> bool:
        return self._renew_at is not None and time.time() >= self._renew_at

    def login(self) -> Exchange[str]:
        """POST /login with the stored credentials and keep the new token."""
        if not self.can_login:
            raise AuthenticationError("no token, and no username and password to log in with")
        password = self._password
        if callable(password):  # read from a keyring only when a login is really needed
            password = yield Blocking(password)
        response = yield _wire.login(self._username, password, self._auth_type)
        data = read(response)
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise UnexpectedResponse("login response has no token", status=response.status)
        self._token = token
        self._renew_at = self._renewal_time(token, time.time())
        return token

    def ready(self) -> Exchange[str]:
        """A usable token, logging in first if there is none or it is about to expire.

        While one caller renews an expiring token, concurrent callers keep using the old one (still valid for
        the renewal margin) instead of each logging in too.
        """
        token = self._token
        if token is None:
            return (yield from self.login())
        if self._expiring() and self.can_login and not self._renewing:
            self._renewing = True
            try:
                return (yield from self.login())
            finally:
                self._renewing = False
        return token

    def call(self, build: Callable[[str], Request]) -> Exchange[Any]:
        """Send ``build(token)`` and read the answer, renewing a rejected token once when we can."""
        token = yield from self.ready()
        response: Response = yield build(token)
        if response.status == 401 and self.can_login and _token_rejected(response):
            current = self._token
            if current is None or current == token:  # nobody else logged in again meanwhile
                current = yield from self.login()
            response = yield build(current)
        return read(response)


def _token_rejected(response: Response) -> bool:
    data = parse_body(response)
    if not is_error_object(data):
        return False
    error = error_from_body(response.status, data)
    return isinstance(error, AuthenticationError) and error.token_rejected


# ----------------------------------------------------------------------------------------------------
# What differs between the four kinds of object


def _time_key(obj: Time) -> str | None:
    return obj.uuid


def _project_key(obj: Project) -> str | None:
    return obj.slugs[0] if obj.slugs else None


def _activity_key(obj: Activity) -> str | None:
    return obj.slug


def _user_key(obj: User) -> str | None:
    return obj.username


class Kind(Generic[M]):
    """One collection of the API: its path, model, filters, and how its objects are addressed."""

    __slots__ = ("filters", "get_flags", "identity", "key", "model", "name", "path")

    def __init__(
        self,
        name: str,
        path: str,
        model: type[M],
        filters: tuple[str, ...],
        get_flags: tuple[str, ...],
        key: Callable[[M], str | None],
        identity: Callable[[M], str | None],
    ) -> None:
        self.name = name
        self.path = path
        self.model = model
        #: list filters in the order they are sent; flags are sent as ``true``/``false``
        self.filters = filters
        #: flags accepted by GET of one object
        self.get_flags = get_flags
        self.key = key
        #: what identifies an object across list pages (users have no uuid)
        self.identity = identity

    def __repr__(self) -> str:
        return f"<Kind {self.path}>"


TIMES: Final = Kind(
    "time",
    "times",
    Time,
    ("user", "project", "activity", "start", "end", "include_deleted", "include_revisions"),
    ("include_deleted", "include_revisions"),
    _time_key,
    _time_key,
)
PROJECTS: Final = Kind(
    "project",
    "projects",
    Project,
    ("user", "include_deleted", "include_revisions"),
    ("include_revisions",),
    _project_key,
    lambda project: project.uuid,
)
ACTIVITIES: Final = Kind(
    "activity",
    "activities",
    Activity,
    ("include_deleted", "include_revisions"),
    ("include_revisions",),
    _activity_key,
    lambda activity: activity.uuid,
)
USERS: Final = Kind("user", "users", User, ("include_deleted",), ("include_deleted",), _user_key, _user_key)


def check_filters(kind: Kind[Any], filters: Mapping[str, object], allowed: Iterable[str]) -> None:
    """Unknown keyword filters are a caller bug, reported like any unexpected keyword argument."""
    unknown = sorted(set(filters) - set(allowed))
    if unknown:
        raise TypeError(f"{kind.path} got unexpected filter(s): {', '.join(unknown)}")


def query_pairs(kind: Kind[Any], filters: Mapping[str, object]) -> _wire.QueryPairs:
    from pymesync._query import FLAGS, filter_values, flag

    pairs: list[tuple[str, str]] = []
    for key in kind.filters:
        if key not in filters or filters[key] is None:
            continue
        if key in FLAGS:
            pairs.append((key, flag(filters[key])))
        else:
            pairs.extend((key, value) for value in filter_values(filters[key]))
    return tuple(pairs)


def ident_of(kind: Kind[M], ident: str | M) -> str:
    """The path identifier for a uuid/slug/username or a model; never empty (that would address the list)."""
    key = kind.key(ident) if isinstance(ident, kind.model) else ident
    if not isinstance(key, str) or not key:
        raise ValidationError(f"{kind.name} identifier must be a non-empty string, not {key!r}")
    return key


def get(session: Session, kind: Kind[M], ident: str | M, flags: Mapping[str, object]) -> Exchange[M]:
    from pymesync._query import flag

    check_filters(kind, flags, kind.get_flags)
    key = ident_of(kind, ident)
    params = tuple((name, flag(flags[name])) for name in kind.get_flags if name in flags)
    data = yield from session.call(lambda token: _wire.get(kind.path, token, key, params))
    if data is None:  # the reference answers an unknown slug with include_revisions by an empty 200
        raise NotFoundError(f"Nonexistent {kind.name}", status=404, error="Object not found")
    return kind.model.from_dict(data)


def exists(session: Session, kind: Kind[M], ident: str | M) -> Exchange[bool]:
    """True if GET finds it; a missing or malformed identifier is simply absent, as for a dict."""
    try:
        yield from get(session, kind, ident, {})
    except (NotFoundError, ValidationError):
        return False
    return True


class Pager(Generic[M]):
    """Reads a list page by page, whether or not the server honours ``limit``/``skip``.

    A server that pages returns at most ``limit`` items; one that ignores paging returns everything, or the
    same items again for the next ``skip``. Items already seen (by identity) are dropped, so both end well.
    """

    def __init__(self, kind: Kind[M], filters: Mapping[str, object], page_size: int | None = None) -> None:
        check_filters(kind, filters, kind.filters)
        self._kind = kind
        self._params = query_pairs(kind, filters)
        self._page_size = page_size or PAGE_SIZE
        self._skip = 0
        self._seen: set[str | None] = set()
        self.done = False

    def next_page(self, session: Session) -> Exchange[list[M]]:
        kind, size = self._kind, self._page_size
        params = (*self._params, ("limit", str(size)), ("skip", str(self._skip)))
        data = yield from session.call(lambda token: _wire.get(kind.path, token, params=params))
        if not isinstance(data, list):
            raise UnexpectedResponse(f"{kind.path} list from server is not a JSON array")
        items = [kind.model.from_dict(item) for item in data]
        fresh = [item for item in items if kind.identity(item) not in self._seen]
        self._seen.update(kind.identity(item) for item in fresh)
        self._skip += len(items)
        self.done = len(items) != size or not fresh
        return fresh


def list_all(session: Session, kind: Kind[M], filters: Mapping[str, object]) -> Exchange[list[M]]:
    pager = Pager(kind, filters)
    result: list[M] = []
    while not pager.done:
        result.extend((yield from pager.next_page(session)))
    return result


# ----------------------------------------------------------------------------------------------------
# Turning keyword arguments into what the API takes


def _seconds(value: object) -> object:
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
        if seconds != int(seconds):
            raise ValidationError("time object: duration must be whole seconds")
        return int(seconds)
    return value


def _wire_value(value: object) -> object:
    """Dates as ``YYYY-MM-DD``, tuples and sets as lists, roles as their flag maps."""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (tuple, frozenset, set)):
        return [_wire_value(item) for item in value]
    if isinstance(value, ProjectRole):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {key: _wire_value(item) for key, item in value.items()}
    return value


def fields_of(kind: Kind[Any], item: object) -> dict[str, Any]:
    """The fields to send for a model or mapping given to ``create``/``create_many``: of a model, every
    field the API accepts but the password, which models never keep."""
    if isinstance(item, Model):
        from pymesync._validation import FIELDS

        if not isinstance(item, kind.model):
            raise ValidationError(f"{kind.name} object: got a {type(item).__name__}")
        data = item.to_dict()
        required, optional = FIELDS[kind.name]
        accepted = (key for key in (*required, *optional) if key != "password")
        fields = {key: data[key] for key in accepted if data.get(key) is not None}
        if kind.name == "time" and isinstance(item, Time) and item.project:
            fields["project"] = item.project[0]
        return fields
    if isinstance(item, Mapping):
        return dict(item)
    raise ValidationError(f"{kind.name} object: must be a mapping or a {kind.model.__name__}")


def prepare(session: Session, kind: Kind[Any], fields: Mapping[str, Any], *, create: bool) -> dict[str, Any]:
    """Normalise Python values, fill a time's ``user`` with ours, and run the shared local validation."""
    from pymesync._validation import validate_object

    obj = {key: _wire_value(_seconds(value) if key == "duration" else value) for key, value in fields.items()}
    if kind.name == "time" and create and obj.get("user") is None:
        obj["user"] = session.username
    project = obj.get("project")
    if kind.name == "time" and isinstance(project, list) and len(project) == 1:
        obj["project"] = project[0]
    return validate_object(kind.name, obj, create=create)


def _sendable(kind: Kind[Any], obj: dict[str, Any]) -> Exchange[dict[str, Any]]:
    """Hash a user's password (slow on purpose, so it runs as a :class:`Blocking` step)."""
    if kind.name == "user" and "password" in obj:
        from pymesync._validation import hash_passwords

        hashed: dict[str, Any] = yield Blocking(lambda: hash_passwords(obj))
        return hashed
    return obj


def create(session: Session, kind: Kind[M], fields: Mapping[str, Any]) -> Exchange[M]:
    obj = yield from _sendable(kind, prepare(session, kind, fields, create=True))
    data = yield from session.call(lambda token: _wire.post(kind.path, token, obj))
    return kind.model.from_dict(data)


def update(
    session: Session,
    kind: Kind[M],
    ident: str | M,
    changes: Mapping[str, Any],
    if_revision: int | None = None,
) -> Exchange[M]:
    key = ident_of(kind, ident)
    if not changes:
        raise ValidationError(f"{kind.name} object: nothing to update")
    obj = prepare(session, kind, changes, create=False)
    new_password = obj.get("password") if kind.name == "user" and key == session.username else None
    obj = yield from _sendable(kind, obj)

    def build(token: str) -> Request:
        return _wire.post(kind.path, token, obj, key)

    request_for: Callable[[str], Request] = build
    if if_revision is not None:
        request_for = yield from _on_revision(session, kind, key, build, if_revision)
    data = yield from session.call(request_for)
    if isinstance(new_password, str):
        session.password_changed(new_password)
    return kind.model.from_dict(data)


def delete(session: Session, kind: Kind[M], ident: str | M, if_revision: int | None = None) -> Exchange[None]:
    key = ident_of(kind, ident)

    def build(token: str) -> Request:
        return _wire.delete(kind.path, token, key)

    request_for: Callable[[str], Request] = build
    if if_revision is not None:
        request_for = yield from _on_revision(session, kind, key, build, if_revision)
    yield from session.call(request_for)


# ----------------------------------------------------------------------------------------------------
# Extensions of pymesync servers, with fallbacks for servers without them


def server_extensions(session: Session) -> Exchange[frozenset[str]]:
    """What the server offers beyond the API (``if_match``, ``changes:<collection>``), asked once per client.

    Servers without extensions (the reference, or ours with them off) answer ``GET /`` with 404: none.
    """
    if session.extensions is None:
        response: Response = yield _wire.server_description()
        data = parse_body(response)
        offered: set[str] = set()
        extensions = data.get("extensions") if response.status == 200 and isinstance(data, dict) else None
        if isinstance(extensions, dict):
            if extensions.get("if_match") is True:
                offered.add("if_match")
            collections = extensions.get("changes")
            if isinstance(collections, list):
                offered.update(f"changes:{name}" for name in collections if isinstance(name, str))
        session.extensions = frozenset(offered)
    return session.extensions


def _on_revision(
    session: Session, kind: Kind[M], key: str, build: Callable[[str], Request], revision: int
) -> Exchange[Callable[[str], Request]]:
    """``build`` made to apply only while the object is at ``revision``.

    Where the server honours ``If-Match`` it checks under the object's lock. Elsewhere the revision is read
    first, which leaves a window: a write by someone else between that read and ours is overwritten.
    """
    if kind.name == "user":
        raise ValidationError("users have no revision: if_revision is for times, projects and activities")
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
        raise ValidationError(f"if_revision must be a revision number (1 or more), not {revision!r}")
    if "if_match" in (yield from server_extensions(session)):
        return lambda token: build(token).if_match(revision)
    current = getattr((yield from get(session, kind, key, {})), "revision", None)
    if current != revision:
        raise RevisionConflictError(
            f"The {kind.name} changed: it is at revision {current}, not {revision}",
            status=412,
            error="Precondition failed",
        )
    return build


#: The token :func:`changes` gives where the server has no feed: the next call compares lists again.
FULL_READ_TOKEN: Final = "full-read"


@frozen_dataclass()
class Changes(ByFieldValues, Generic[M]):
    """What changed in a collection since a token: objects created or changed (as they are now), ids
    (uuid, or username for users) of those deleted, and the token for the next call.

    ``restarted`` is True when this is a complete read (no token, or one the server could not continue):
    ``changed`` then holds every object (a page of :class:`ChangesReader`: the first of them; drop what
    you hold before applying it), and ``deleted`` every held id that is gone.
    """

    changed: list[M]
    deleted: list[str]
    token: str
    restarted: bool = False

    def __init__(self, changed: list[M], deleted: list[str], token: str, restarted: bool = False) -> None:
        set_field(self, "changed", changed)
        set_field(self, "deleted", deleted)
        set_field(self, "token", token)
        set_field(self, "restarted", restarted)


class ChangesReader(Generic[M]):
    """Reads what changed since a token, a page at a time (a complete read comes in pages).

    Where the server has no feed, one page: the full list compared with ``held`` (id -> object).
    """

    def __init__(self, kind: Kind[M], since: str | None, held: Mapping[str, M]) -> None:
        self._kind = kind
        self._since = None if since == FULL_READ_TOKEN else since
        self._held = held
        self._first = True
        self.done = False

    def next_page(self, session: Session) -> Exchange[Changes[M]]:
        kind, first = self._kind, self._first
        self._first = False
        if f"changes:{kind.path}" not in (yield from server_extensions(session)):
            self.done = True
            return (yield from _changes_by_comparison(session, kind, self._held))
        restarted = first and self._since is None
        since = self._since
        try:
            data = yield from session.call(lambda token: _wire.changes(kind.path, token, since))
        except StartOverError:
            if not first:
                raise
            restarted = True
            data = yield from session.call(lambda token: _wire.changes(kind.path, token, None))
        if not (
            isinstance(data, dict)
            and isinstance(data.get("changed"), list)
            and isinstance(data.get("deleted"), list)
            and isinstance(data.get("next"), str)
        ):
            raise UnexpectedResponse(f"changes of {kind.path} from server are not a changes document")
        self._since = data["next"]
        self.done = data.get("more") is not True
        changed = [kind.model.from_dict(item) for item in data["changed"]]
        return Changes(changed, [str(key) for key in data["deleted"]], data["next"], restarted)


def changes(
    session: Session, kind: Kind[M], since: str | None, held: Mapping[str, M]
) -> Exchange[Changes[M]]:
    """Every page of :class:`ChangesReader` in one answer."""
    reader = ChangesReader(kind, since, held)
    pages = []
    while not reader.done:
        pages.append((yield from reader.next_page(session)))
    changed = [item for page in pages for item in page.changed]
    deleted = [key for page in pages for key in page.deleted]
    restarted = pages[0].restarted
    if restarted:
        present = {kind.identity(item) for item in changed}
        deleted = [key for key in held if key not in present]
    return Changes(changed, deleted, pages[-1].token, restarted)


def _changes_by_comparison(session: Session, kind: Kind[M], held: Mapping[str, M]) -> Exchange[Changes[M]]:
    current = yield from list_all(session, kind, {})
    by_id = {kind.identity(item): item for item in current}
    changed = [item for key, item in by_id.items() if key is None or held.get(key) != item]
    deleted = [key for key in held if key not in by_id]
    # compared with nothing, this is a complete read: whoever holds anything drops it first
    return Changes(changed, deleted, FULL_READ_TOKEN, restarted=not held)
