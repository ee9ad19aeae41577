"""``pymesync.TimeSync``: the interface of pymesync 0.1.5–0.2.0, kept so old programs run unchanged.

A thin face over the shared core: it checks arguments in the documented order, builds requests with
:mod:`pymesync._wire`, sends them through the pooled transport and turns responses into the plain dicts
and lists old programs expect. It never raises: every problem comes back as
``{"pymesync error": "<text>"}`` in the method's return shape (a list around it for ``get_*``).
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeGuard, TypeVar, cast

from pymesync import _fixtures as fixtures
from pymesync import _wire as wire
from pymesync._query import slug_query, times_query
from pymesync._token import token_expiration_time
from pymesync._validation import hash_passwords, validate_object
from pymesync.errors import ConnectionFailed, TransportError, ValidationError

if TYPE_CHECKING:
    from pymesync._transport import SyncTransport

__all__ = ["TimeSync"]

JsonDict = dict[str, Any]
JsonList = list[JsonDict]
Method = TypeVar("Method", bound=Callable[..., Any])

ERROR_KEY: Final = "pymesync error"
NOT_AUTH: Final = "Not authenticated with TimeSync, call self.authenticate() first"
DEFAULT_TIMEOUT: Final = (5, 60)


def _error(text: str) -> JsonDict:
    return {ERROR_KEY: text}


def _connection_failed(baseurl: object, cause: str) -> JsonDict:
    return _error(f"connection to TimeSync failed at baseurl {baseurl!s} - {cause}")


def _failed(result: JsonDict) -> bool:
    """A TimeSync error object or a local one: what climesync tests with ``"error" in x``."""
    return "error" in result or ERROR_KEY in result


def _guarded(*, listed: bool) -> Callable[[Method], Method]:
    """Last-resort guard: an unexpected exception becomes ``unexpected error: <ClassName>``.

    It should never fire; it exists so that a bug cannot break the promise that no method raises. A
    ``TypeError`` from calling with a wrong signature is not caught: its traceback stops in the wrapper
    itself, because the method was never entered (upstream raised there too).
    """

    def decorate(method: Method) -> Method:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except MemoryError:
                raise
            except Exception as exc:
                traceback = exc.__traceback__
                if traceback is not None and traceback.tb_next is None:
                    raise
                error = _error(f"unexpected error: {type(exc).__name__}")
                return [error] if listed else error

        return cast(Method, wrapper)

    return decorate


_dict_method = _guarded(listed=False)
_list_method = _guarded(listed=True)


def _positive_number(value: object) -> TypeGuard[int | float]:
    return wire.finite_number(value) and value > 0


def _checked_timeout(timeout: object) -> tuple[float, float]:
    """``(connect, read)`` from a number or a pair of numbers > 0; anything else is a ValueError."""
    if _positive_number(timeout):
        return (timeout, timeout)
    if isinstance(timeout, (tuple, list)) and len(timeout) == 2 and all(map(_positive_number, timeout)):
        return (timeout[0], timeout[1])
    raise ValueError("timeout must be a number > 0 or a (connect, read) pair of numbers > 0")


def _as_filters(query_parameters: object) -> Mapping[Any, Any] | None:
    """The caller's filters as a mapping (``{}`` for any falsy value), or None if they are not one."""
    if not query_parameters:
        return {}
    if isinstance(query_parameters, Mapping):
        return query_parameters
    return None


def _user_permissions(project: JsonDict) -> JsonDict:
    """``{username: [permission, ...]}`` keeping only permissions that are exactly True, in server order."""
    users = project.get("users")
    if not isinstance(users, dict):
        return {}
    return {
        username: [name for name, value in perms.items() if value is True] if isinstance(perms, dict) else []
        for username, perms in users.items()
    }


class TimeSync:
    """A TimeSync client with pymesync 0.2's interface: dicts and lists in, dicts and lists out.

    ``baseurl`` includes the API version (``"http://ts.example.com/v1"``); one trailing ``/`` is removed.
    ``token`` skips :meth:`authenticate`. With a truthy ``test`` no request is ever sent: every check still
    runs and fixed sample data comes back. ``timeout`` is a number or ``(connect, read)`` in seconds.
    """

    error: ClassVar[str] = ERROR_KEY

    def __init__(
        self,
        baseurl: Any,
        token: Any = None,
        test: Any = False,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.timeout = _checked_timeout(timeout)
        self.baseurl = baseurl[:-1] if isinstance(baseurl, str) and baseurl.endswith("/") else baseurl
        self.token = token
        self.test = test
        self.user: Any = None
        self.auth_type: Any = None
        self._transport: SyncTransport | None = None

    def __repr__(self) -> str:
        has_token = not (self.token is None or (isinstance(self.token, str) and not self.token))
        return (
            f"<pymesync.TimeSync baseurl={self.baseurl!r} user={self.user!r} test={self.test!r} "
            f"token={'<hidden>' if has_token else None}>"
        )

    def close(self) -> None:
        """Release pooled connections; a later call opens new ones."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def __enter__(self) -> TimeSync:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- plumbing -------------------------------------------------------------------------------------

    def _send(self, request: wire.Request, *, listed: bool) -> JsonDict | JsonList:
        """Send ``request`` and convert the answer; a JSON array is data only for ``get_*`` (``listed``)."""
        base = self.baseurl
        try:
            if not isinstance(base, str):
                raise ConnectionFailed("invalid URL")
            response = self._transport_for_network().send(
                request.method, request.url(base), request.body, request.headers
            )
        except TransportError as failure:
            return _connection_failed(base, failure.cause)
        if not response.body:
            if 200 <= response.status < 300:
                return {"status": response.status}
            return self._status_error(response.status)
        data = wire.parse_body(response)
        if type(data) is dict or (listed and type(data) is list):
            return cast("JsonDict | JsonList", data)
        return self._status_error(response.status)

    def _status_error(self, status: int) -> JsonDict:
        return _connection_failed(self.baseurl, f"response status was {status}")

    def _transport_for_network(self) -> SyncTransport:
        if self._transport is None:
            from pymesync._transport import SyncTransport  # the HTTP stack is imported on first network use

            self._transport = SyncTransport(self.timeout)
        return self._transport

    def _get(self, collection: str, ident: object = None, params: wire.QueryPairs = ()) -> JsonList:
        result = self._send(wire.get(collection, self._token_text(), ident, params), listed=True)
        return [result] if isinstance(result, dict) else result

    def _token_text(self) -> str:
        """The token as sent; one a program assigned that is not a str is sent as its ``str()``."""
        return str(self.token)

    def _delete(self, collection: str, ident: object, missing: str) -> JsonDict | JsonList:
        if not self.token:
            return _error(NOT_AUTH)
        if not ident:
            return _error(f"missing {missing}; please add to method call")
        if self.test:
            return fixtures.deleted()
        return self._send(wire.delete(collection, self._token_text(), ident), listed=False)

    # --- authentication -------------------------------------------------------------------------------

    @_dict_method
    def authenticate(self, username: Any = None, password: Any = None, auth_type: Any = None) -> JsonDict:
        """Log in and keep the token; returns the server's answer, normally ``{"token": "..."}``.

        Errors: ``Missing <names>; please add to method call``, ``login: <name> is not JSON serializable``,
        the server's error object (e.g. 401 ``Incorrect username or password``) or a connection error. On
        any failure ``token``, ``user`` and ``auth_type`` keep their previous values.
        """
        given = (("username", username), ("password", password), ("auth_type", auth_type))
        missing = [name for name, value in given if not value]
        if missing:
            return _error(f"Missing {', '.join(missing)}; please add to method call")
        for name, value in given:
            if not wire.is_json_serializable(value):
                return _error(f"login: {name} is not JSON serializable")
        if self.test:
            self.token, self.user, self.auth_type = fixtures.TOKEN, username, auth_type
            return {"token": fixtures.TOKEN}
        result = cast(JsonDict, self._send(wire.login(username, password, auth_type), listed=False))
        token = result.get("token")
        if not _failed(result) and isinstance(token, str) and token:
            self.token, self.user, self.auth_type = token, username, auth_type
        return result

    @_dict_method
    def token_expiration_time(self) -> datetime.datetime | JsonDict:
        """When the current token expires, as a naive local ``datetime`` read from the token itself.

        No request is sent. Errors: not authenticated, ``improperly encoded token``.
        """
        if not self.token:
            return _error(NOT_AUTH)
        if self.test:
            return fixtures.EXPIRATION
        try:
            return token_expiration_time(self.token)
        except ValueError:
            return _error("improperly encoded token")

    @_dict_method
    def project_users(self, project: Any = None) -> JsonDict:
        """The project's members as ``{username: ["member", "spectator", "manager"...]}``.

        Errors: not authenticated, ``Missing project slug, please include in method call``, the server's
        error object (e.g. 404 ``Nonexistent project``) or a connection error, returned as they are.
        """
        if not self.token:
            return _error(NOT_AUTH)
        if not project:
            return _error("Missing project slug, please include in method call")
        if self.test:
            return fixtures.project_users()
        result = cast(JsonDict, self._send(wire.get("projects", self._token_text(), project), listed=False))
        if _failed(result):
            return result
        return _user_permissions(result)

    # --- create and update ----------------------------------------------------------------------------

    @_dict_method
    def create_time(self, time: Any = None) -> JsonDict:
        """Create a time; returns the created time or an error dict.

        Required: ``duration`` (int seconds or ``"1h30m"``), ``project``, ``user``, ``date_worked``;
        optional: ``notes``, ``issue_uri``, ``activities``. Errors: not authenticated, ``time object: ...``
        (not a dict, invalid field, missing required fields, duration, not JSON serializable), the server's
        error object or a connection error.
        """
        return self._create("time", "times", time, fixtures.created_time)

    @_dict_method
    def update_time(self, time: Any = None, uuid: Any = None) -> JsonDict:
        """Update the time ``uuid`` with the fields given; returns the updated time or an error dict.

        Errors: not authenticated, ``missing uuid; please add to method call``, ``time object: ...``, the
        server's error object or a connection error.
        """
        return self._update("time", "times", time, uuid, "uuid", fixtures.updated_time)

    @_dict_method
    def create_project(self, project: Any = None) -> JsonDict:
        """Create a project (``name``, ``slugs``; optional ``uri``, ``users``, ``default_activity``).

        Returns the created project or an error dict: not authenticated, ``project object: ...``, the
        server's error object or a connection error.
        """
        return self._create("project", "projects", project, fixtures.created_project)

    @_dict_method
    def update_project(self, project: Any = None, slug: Any = None) -> JsonDict:
        """Update the project ``slug``; returns the updated project or an error dict.

        Errors: not authenticated, ``missing slug; please add to method call``, ``project object: ...``,
        the server's error object or a connection error.
        """
        return self._update("project", "projects", project, slug, "slug", fixtures.updated_project)

    @_dict_method
    def create_activity(self, activity: Any = None) -> JsonDict:
        """Create an activity (``name``, ``slug``); returns it or an error dict.

        Errors: not authenticated, ``activity object: ...``, the server's error object or a connection
        error.
        """
        return self._create("activity", "activities", activity, fixtures.created_activity)

    @_dict_method
    def update_activity(self, activity: Any = None, slug: Any = None) -> JsonDict:
        """Update the activity ``slug``; returns the updated activity or an error dict.

        Errors: not authenticated, ``missing slug; please add to method call``, ``activity object: ...``,
        the server's error object or a connection error.
        """
        return self._update("activity", "activities", activity, slug, "slug", fixtures.updated_activity)

    @_dict_method
    def create_user(self, user: Any = None) -> JsonDict:
        """Create a user (``username``, ``password``; optional profile fields and site-wide flags).

        The password is bcrypt-hashed before it is sent, as the server expects. Returns the created user
        or an error dict: not authenticated, ``user object: ...`` (including flag and password checks),
        the server's error object or a connection error.
        """
        return self._create("user", "users", user, fixtures.created_user)

    @_dict_method
    def update_user(self, user: Any = None, username: Any = None) -> JsonDict:
        """Update the user ``username``; a new password is bcrypt-hashed before it is sent.

        Returns the updated user or an error dict: not authenticated, ``missing username; please add to
        method call``, ``user object: ...``, the server's error object or a connection error.
        """
        return self._update("user", "users", user, username, "username", fixtures.updated_user)

    def _create(
        self, kind: str, collection: str, obj: object, fixture: Callable[[dict[str, Any]], JsonDict]
    ) -> JsonDict:
        if not self.token:
            return _error(NOT_AUTH)
        return self._checked_save(kind, collection, obj, fixture)

    def _update(
        self,
        kind: str,
        collection: str,
        obj: object,
        ident: object,
        missing: str,
        fixture: Callable[[dict[str, Any], Any], JsonDict],
    ) -> JsonDict:
        if not self.token:
            return _error(NOT_AUTH)
        if not ident:
            return _error(f"missing {missing}; please add to method call")
        return self._checked_save(kind, collection, obj, lambda prepared: fixture(prepared, ident), ident)

    def _checked_save(
        self,
        kind: str,
        collection: str,
        obj: object,
        fixture: Callable[[dict[str, Any]], JsonDict],
        ident: object = None,
    ) -> JsonDict:
        """Validate; then answer with the test-mode fixture, or hash any password and POST."""
        try:
            prepared = validate_object(kind, obj, create=ident is None)
        except ValidationError as invalid:
            return _error(invalid.text)
        if self.test:
            return fixture(prepared)
        request = wire.post(collection, self._token_text(), hash_passwords(prepared), ident)
        return cast(JsonDict, self._send(request, listed=False))

    # --- lists ----------------------------------------------------------------------------------------

    @_list_method
    def get_times(self, query_parameters: Any = None) -> JsonList:
        """Times matching the filters, always as a list (errors too, as a one-element list).

        Filters: ``user``, ``project``, ``activity`` (a str or a list), ``start``, ``end`` (a str, a list
        or a ``datetime.date``), ``include_revisions``, ``include_deleted``, and ``uuid`` for one time.
        Errors: not authenticated, ``query parameters: must be python dictionary``, ``invalid query:
        <key>``, the server's error object or a connection error.
        """
        if not self.token:
            return [_error(NOT_AUTH)]
        params = _as_filters(query_parameters)
        if params is None:
            return [_error("query parameters: must be python dictionary")]
        try:
            uuid, pairs = times_query(params)
        except ValidationError as invalid:
            return [_error(invalid.text)]
        if self.test:
            return fixtures.times(uuid)
        return self._get("times", uuid, pairs)

    @_list_method
    def get_projects(self, query_parameters: Any = None) -> JsonList:
        """Projects matching the filters (``slug``, ``user``, ``include_deleted``, ``include_revisions``).

        Always a list. Errors: not authenticated, ``query parameters: must be python dictionary``,
        ``invalid combination: slug and include_deleted``, the server's error object or a connection
        error.
        """
        return self._get_by_slug("projects", query_parameters, fixtures.projects)

    @_list_method
    def get_activities(self, query_parameters: Any = None) -> JsonList:
        """Activities matching the filters (``slug``, ``include_deleted``, ``include_revisions``).

        Always a list; errors as for :meth:`get_projects`.
        """
        return self._get_by_slug("activities", query_parameters, fixtures.activities)

    def _get_by_slug(
        self, collection: str, query_parameters: object, fixture: Callable[[object], JsonList]
    ) -> JsonList:
        if not self.token:
            return [_error(NOT_AUTH)]
        params = _as_filters(query_parameters)
        if params is None:
            return [_error("query parameters: must be python dictionary")]
        try:
            slug, pairs = slug_query(params)
        except ValidationError as invalid:
            return [_error(invalid.text)]
        if self.test:
            return fixture(slug)
        return self._get(collection, slug, pairs)

    @_list_method
    def get_users(self, username: Any = None) -> JsonList:
        """All users, or the one named ``username``, always as a list.

        Errors: not authenticated, the server's error object (e.g. 404 ``Nonexistent user``) or a
        connection error.
        """
        if not self.token:
            return [_error(NOT_AUTH)]
        if self.test:
            return fixtures.users(username)
        return self._get("users", username or None)

    # --- delete ---------------------------------------------------------------------------------------

    @_dict_method
    def delete_time(self, uuid: Any = None) -> JsonDict | JsonList:
        """Delete the time ``uuid``; returns ``{"status": 200}`` (test mode: ``[{"status": 200}]``).

        Errors: not authenticated, ``missing uuid; please add to method call``, the server's error object
        or a connection error.
        """
        return self._delete("times", uuid, "uuid")

    @_dict_method
    def delete_project(self, slug: Any = None) -> JsonDict | JsonList:
        """Delete the project ``slug``; returns ``{"status": 200}`` (test mode: ``[{"status": 200}]``).

        Errors: not authenticated, ``missing slug; please add to method call``, the server's error object
        (e.g. 405 while times still refer to it) or a connection error.
        """
        return self._delete("projects", slug, "slug")

    @_dict_method
    def delete_activity(self, slug: Any = None) -> JsonDict | JsonList:
        """Delete the activity ``slug``; returns ``{"status": 200}`` (test mode: ``[{"status": 200}]``).

        Errors: not authenticated, ``missing slug; please add to method call``, the server's error object
        or a connection error.
        """
        return self._delete("activities", slug, "slug")

    @_dict_method
    def delete_user(self, username: Any = None) -> JsonDict | JsonList:
        """Delete the user ``username``; returns ``{"status": 200}`` (test mode: ``[{"status": 200}]``).

        Errors: not authenticated, ``missing username; please add to method call``, the server's error
        object or a connection error.
        """
        return self._delete("users", username, "username")
