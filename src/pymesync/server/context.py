"""Per-request plumbing shared by the routes: configuration, query and body parsing,
authentication, and JSON responses.

Route handlers are plain synchronous functions ``(Context) -> Response``; :func:`endpoint` reads
and checks the body on the event loop, then runs the handler in the thread pool, where it may
use the database. Every error a handler raises is an :class:`ApiError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, unquote_plus

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from starlette.requests import Request
from starlette.responses import Response

from pymesync.server import auth, errors, schema, storage, throttle, validation
from pymesync.server.errors import ApiError

if TYPE_CHECKING:
    from pymesync.server.ldap import LdapSettings

logger = logging.getLogger("pymesync.server")

#: Largest request body accepted (413 above it).
MAX_BODY_BYTES = 1024 * 1024
#: Deepest JSON nesting accepted in a body (400 above it).
MAX_JSON_DEPTH = 32
#: Runs of a handler whose transaction met concurrent writes, before the client gets a 503.
ATTEMPTS = 5


@dataclass(frozen=True)
class Config:
    """Settings fixed for the lifetime of the app (none of them are database rows)."""

    engine: Engine
    secret: str = field(repr=False)
    instance_name: str
    token_lifetime: float
    auth_modules: tuple[str, ...] = ("password",)
    #: Fewest characters of a plaintext password on POST /users (hashes cannot be measured).
    min_password_length: int = 1
    #: Our extensions for offline clients: ETags, conditional requests, the changes feed.
    sync_extensions: bool = True
    #: Days the changes feed's log keeps a change; a token older than that must start over.
    changes_retention_days: float = 90.0
    #: The directory of ``auth.type: "ldap"``; None when LDAP login is not configured.
    ldap: LdapSettings | None = None
    login_throttle: throttle.LoginThrottle = throttle.DEFAULT
    #: Proxies whose ``X-Forwarded-For`` names the client of a login (none: the socket peer).
    trusted_proxies: tuple[throttle.Network, ...] = ()


Query = dict[str, list[str]]


@dataclass
class Context:
    """What a handler needs about its request."""

    config: Config
    path_params: dict[str, str]
    query: Query
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: The socket peer's address (see :func:`throttle.client_address`).
    peer: str | None = None
    #: Whether the handler runs on the event loop (see :func:`endpoint` and :class:`MuchToDo`).
    on_loop: bool = False

    @property
    def engine(self) -> Engine:
        return self.config.engine

    def param(self, name: str) -> str:
        return self.path_params[name]

    def first(self, name: str) -> str | None:
        """The first value of a query parameter (the spec: the first value wins)."""
        values = self.query.get(name)
        return values[0] if values else None

    def values(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def pagination(self) -> tuple[int, int | None]:
        """``(skip, limit)`` from the spec's ``?skip=`` and ``?limit=``; applied only when given.

        ``limit`` is None for "all" (absent, or ``0`` as the spec defines it).
        """
        bounds = []
        for name in ("skip", "limit"):
            value = self.first(name)
            if value and not (value.isascii() and value.isdigit() and len(value) <= 12):
                raise errors.bad_query_value(name, value)
            bounds.append(int(value) if value else 0)
        return bounds[0], bounds[1] or None

    def flag(self, name: str) -> bool:
        """A boolean query parameter: absent, ``false`` or ``0`` is off, anything else on."""
        value = self.first(name)
        return value is not None and value not in {"false", "0"}


#: Query strings parsed lately (a client sends the same one, its token in it, again and again).
_PARSED_QUERIES: dict[bytes, Query] = {}
MOST_PARSED_QUERIES = 1024


def parse_query(raw: bytes) -> Query:
    """Parse a query string keeping blank values and malformed percent escapes as sent.

    Each call gets its own copy: the lists are the caller's to change."""
    parsed = _PARSED_QUERIES.get(raw)
    if parsed is None:
        if len(_PARSED_QUERIES) >= MOST_PARSED_QUERIES:
            _PARSED_QUERIES.clear()
        parsed = _PARSED_QUERIES[raw] = _parse_query(raw)
    return {name: [*values] for name, values in parsed.items()}


def _parse_query(raw: bytes) -> Query:
    query: Query = {}
    for pair in raw.decode("utf-8", "replace").split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        query.setdefault(unquote_plus(name), []).append(unquote_plus(value))
    return query


def _reject_constant(name: str) -> object:
    raise ValueError(f"JSON constant {name} is not allowed")


def parse_body(raw: bytes) -> Any:
    """Decode a JSON request body, refusing what a database or a client could choke on."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise errors.unparsable_body() from None
    if not isinstance(body, (dict, list)) or not _is_sane(body):
        raise errors.unparsable_body()
    return body


def _is_sane(document: object) -> bool:
    """Nesting within :data:`MAX_JSON_DEPTH`; strings without NUL or lone surrogates."""
    stack: list[tuple[object, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if not _is_clean_text(value):
                return False
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > MAX_JSON_DEPTH:
            return False
        if isinstance(value, dict):
            for key, item in value.items():
                if not _is_clean_text(key):
                    return False
                stack.append((item, depth + 1))
        else:
            stack.extend((item, depth + 1) for item in value)
    return True


def _is_clean_text(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


#: What ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` uses, built once.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_JSON_TYPE = (b"content-type", b"application/json")


def _dumps(value: object) -> bytes:
    return _ENCODER.encode(value).encode("utf-8")


class JsonResponse(Response):
    """A JSON body with the headers Starlette's ``Response(body, status, headers,
    media_type="application/json")`` gives, in the same order, built without its general cases."""

    media_type = "application/json"

    def __init__(self, body: bytes, status: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self.status_code = status
        self.background = None
        self.body = body
        if not headers:
            self.raw_headers = [(b"content-length", str(len(body)).encode("ascii")), _JSON_TYPE]
            if status < 200 or status in (204, 304):
                del self.raw_headers[0]
            return
        raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
        given = {name for name, _ in raw}
        if b"content-length" not in given and not (status < 200 or status in (204, 304)):
            raw.append((b"content-length", str(len(body)).encode("ascii")))
        if b"content-type" not in given:
            raw.append(_JSON_TYPE)
        self.raw_headers = raw


def json_response(value: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JsonResponse(_dumps(value), status, headers)


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status, error.headers or None)


def empty_response() -> Response:
    """DELETE success: 200 with an empty body."""
    return Response(b"", 200)


def encode_pages(pages: Iterator[str]) -> Iterator[bytes]:
    """Stream a JSON array one chunk per page (one thread hop and one write per page); each page
    is its items' JSON, comma-separated, without brackets."""
    yield b"["
    first = True
    for page in pages:
        if not page:
            continue
        chunk = page.encode("utf-8")
        yield chunk if first else b"," + chunk
        first = False
    yield b"]"


Handler = Callable[[Context], Response]

#: Where handlers that may wait run: as many threads as anyio's default pool, without anyio's
#: cancel scopes and capacity limiter around each call (a third of the cost of the hop).
_THREADS = ThreadPoolExecutor(max_workers=40, thread_name_prefix="timesync")

#: Handlers that only read (no write, no password hashing, no lock), and which of their requests
#: may run on the event loop (None: all): see :func:`endpoint`.
_READS: dict[Handler, Callable[[Context], bool] | None] = {}


class MuchToDo(Exception):
    """Raised by a handler running on the event loop whose request turned out to need long work:
    :func:`endpoint` runs it again, from the start, in the thread pool."""


def read_only(handler: Handler, inline: Callable[[Context], bool] | None = None) -> Handler:
    """Mark a handler that only reads the database, so it may run on the event loop; with
    ``inline``, only the requests it says yes to (the others may read much)."""
    _READS[handler] = inline
    return handler


def endpoint(config: Config, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a synchronous handler into a Starlette endpoint with body parsing and error mapping.

    :func:`read_only` handlers on SQLite run on the event loop: they take tens of microseconds,
    never wait for a lock (WAL), and the hop to a worker thread and back cost more than the whole
    read (a full list's first page is at most :data:`routes.times.PAGE` rows; later pages stream
    from the thread pool). They read on the loop's own connection (:class:`storage.InlineReader`).
    So do the changes feed's requests that continue from a token (a few log rows, usually none);
    its complete reads, 2,000 objects a page, do not, nor those that find many changes
    (:class:`MuchToDo`). Everything else runs in the thread pool: writes may wait for the write
    lock, logins hash passwords, and every PostgreSQL statement waits for the network.
    """
    reader = storage.inline_reader(config.engine) if handler in _READS else None
    inline = _READS.get(handler)

    async def run(request: Request) -> Response:
        try:
            body = await read_body(request) if request.method == "POST" else None
            context = Context(
                config=config,
                # the router saw segments with "/" and "%" still escaped (app.route_path)
                path_params={name: unquote(value) for name, value in request.path_params.items()},
                query=parse_query(request.scope.get("query_string", b"")),
                body=body,
                headers=request.headers,
                peer=_peer(request.scope),
            )
            if reader is not None and (inline is None or inline(context)):
                context.on_loop = True
                try:
                    with reader:
                        return run_handler(handler, context)
                except MuchToDo:
                    context.on_loop = False
            return await asyncio.get_running_loop().run_in_executor(_THREADS, run_handler, handler, context)
        except ApiError as error:
            return error_response(error)

    return run


def _peer(scope: Mapping[str, Any]) -> str | None:
    """The socket peer's host, as ``Request.client.host`` gives it, without building the Address."""
    client = scope.get("client")
    return None if client is None else str(client[0])


def run_handler(handler: Handler, context: Context) -> Response:
    """Run a handler; run it again (a bounded number of times, after a short random pause) when
    its transaction was rolled back because of concurrent writes. A database that cannot store
    data now (disk full, read-only) is a 503 at once: running again would meet the same state."""
    attempt = 1
    while True:
        try:
            return handler(context)
        except (ApiError, MuchToDo):
            raise
        except Exception as exc:
            if storage.is_unwritable(exc):
                name, reason = handler.__qualname__, error_reason(exc)
                logger.warning("%s: the database cannot store data now (%s); answered 503", name, reason)
                raise errors.cannot_store() from None
            if storage.is_transient(exc) and attempt < ATTEMPTS:
                time.sleep(random.uniform(0, 0.005 * 2**attempt))
                attempt += 1
                continue
            if storage.is_transient(exc) or storage.is_busy(exc):
                name, reason = handler.__qualname__, error_reason(exc)
                logger.warning("%s: %s after %d attempt(s); answered 503", name, reason, attempt)
                raise errors.try_again() from None
            logger.exception("unexpected error in %s", handler.__qualname__)
            raise errors.server_error() from None


def error_reason(error: BaseException) -> str:
    """The first line of a database error, without the statement or its parameters."""
    orig = getattr(error, "orig", None)
    return (str(orig or error).splitlines() or [type(error).__name__])[0]


async def read_body(request: Request) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise errors.body_too_large(MAX_BODY_BYTES)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise errors.body_too_large(MAX_BODY_BYTES)
        chunks.append(chunk)
    return parse_body(b"".join(chunks))


# --- authentication -------------------------------------------------------------------------

_CALLER_COLUMNS = (
    schema.users.c.id,
    schema.users.c.username,
    schema.users.c.site_admin,
    schema.users.c.site_manager,
    schema.users.c.site_spectator,
)


#: The caller and their last credential change, in the one round trip every request makes.
_CALLER_QUERY = storage.Read(
    sa.select(*_CALLER_COLUMNS, schema.credential_changes.c.changed_at)
    .select_from(
        schema.users.outerjoin(
            schema.credential_changes, schema.credential_changes.c.user_id == schema.users.c.id
        )
    )
    .where(schema.users.c.username == sa.bindparam("subject"), schema.users.c.deleted_at.is_(None))
)


def _caller_for_token(context: Context, connection: Connection, token: str) -> auth.Caller:
    """The caller a token names, unless it is deleted or the token predates its last password change.

    A token from the very millisecond of the change is refused too: it may have been issued just
    before it. Logins after a change issue later ``iat`` values (:func:`storage.token_floor`).
    """
    config = context.config
    claims = auth.token_claims(token, config.secret, config.instance_name, lifetime=config.token_lifetime)
    if claims is None:
        raise errors.bad_token()
    caller = caller_signed_in(connection, claims.subject, claims.issued_at)
    if caller is None:
        raise errors.bad_token()
    return caller


def caller_signed_in(connection: Connection, username: str, issued_at: float) -> auth.Caller | None:
    """The user a credential issued at ``issued_at`` (epoch ms) signs in, unless they are deleted or
    changed their password since then. API tokens and the web page's sessions both end here."""
    row = _CALLER_QUERY.first(connection, subject=username)
    if row is None or (row.changed_at is not None and issued_at <= row.changed_at):
        return None
    return auth.Caller(
        id=row.id,
        username=row.username,
        site_admin=bool(row.site_admin),
        site_manager=bool(row.site_manager),
        site_spectator=bool(row.site_spectator),
    )


def query_caller(context: Context, connection: Connection) -> auth.Caller:
    """The caller of a GET or DELETE, from ``?token=`` (2.3)."""
    token = context.first("token")
    if not token:
        raise errors.missing_credentials()
    return _caller_for_token(context, connection, auth.normalise_query_token(token))


def require_site_manager(caller: auth.Caller, action: str) -> None:
    """Refuse ``action`` (``create activities``...) unless the caller manages the site."""
    if not caller.manages_site:
        raise errors.not_authorized(caller.username, action)


def body_auth(context: Context) -> dict[str, Any]:
    """The ``auth`` object of a POST body, checked as far as possible without the database."""
    body = context.body
    credentials = body.get("auth") if isinstance(body, dict) else None
    if not validation.is_truthy(credentials):
        raise errors.missing_credentials()
    if not isinstance(credentials, dict) or not validation.is_truthy(credentials.get("type")):
        raise errors.authentication_failure("Authentication type required")
    return credentials


def body_caller(context: Context, connection: Connection) -> auth.Caller:
    """The caller of an authenticated POST, from ``auth.token`` (2.3)."""
    credentials = body_auth(context)
    auth_type = credentials["type"]
    if auth_type != "token":
        raise errors.bad_auth_type(describe(auth_type))
    token = credentials.get("token")
    if not isinstance(token, str) or not token:
        raise errors.missing_credentials()
    return _caller_for_token(context, connection, token)


def body_object(context: Context) -> Any:
    """The ``object`` of a POST body (may be anything; handlers check its type)."""
    body = context.body
    return body.get("object") if isinstance(body, dict) else None


def describe(value: object) -> str:
    """Render a client-sent value for an error text the way JavaScript would."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return ",".join(describe(item) for item in value)
    return "[object Object]"
