"""The Starlette application: routing table, headers every response carries, and app creation."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import unquote_plus, unquote_to_bytes

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from pymesync.server import auth, ldap, storage, throttle
from pymesync.server.auth import DEFAULT_TOKEN_LIFETIME
from pymesync.server.context import Config, endpoint, error_response, json_response, read_body
from pymesync.server.errors import ApiError, ConfigError
from pymesync.server.routes import activities, changes, login, projects, times, users

DEFAULT_INSTANCE_NAME = "timesync"
API_VERSIONS = ("v0", "v1")
ENV_CORS_ORIGINS = "TIMESYNC_CORS_ORIGINS"
#: ``0`` turns off our extensions for offline clients (ETags, If-Match, the changes feed).
ENV_SYNC_EXTENSIONS = "TIMESYNC_SYNC_EXTENSIONS"
ENV_CHANGES_RETENTION_DAYS = "TIMESYNC_CHANGES_RETENTION_DAYS"
#: ``0`` turns off the web page at ``/`` (the API stays).
ENV_WEB = "TIMESYNC_WEB"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Headers of every response (1.3): no caching, the reference's security headers (with the CSP
#: keywords quoted: unquoted, ``none`` and ``self`` are host names and the policy allows nothing
#: of what was meant). CORS headers come from the allow-list (:class:`ApiHeaders`).
COMMON_HEADERS = (
    (b"cache-control", b"no-store, no-cache, must-revalidate, proxy-revalidate"),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; connect-src 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
)
PREFLIGHT_METHODS = b"GET,HEAD,PUT,PATCH,POST,DELETE"
#: The only request header a TimeSync client needs to send cross-origin (tokens go in the body or URL).
PREFLIGHT_HEADERS = b"Content-Type"
#: The allow-list entry that admits every origin, as the reference did.
ANY_ORIGIN = "*"


def route_path(raw_path: bytes) -> str:
    """The path the router matches: each segment of the raw path percent-decoded on its own.

    Express matches routes on the raw path, so ``/projects/a%2Fb`` reaches ``/projects/:slug``
    with the slug ``a/b``. Starlette matches on the decoded path, where that is two segments.
    Here a decoded segment keeps ``/`` and ``%`` escaped (``%2F``, ``%25``), so the router
    splits on the real slashes only and :func:`context.endpoint` unescapes path parameters.
    """
    if b"%" not in raw_path:  # nothing escaped: each segment decodes to itself (the common case)
        return raw_path.decode("utf-8", "replace")
    segments = []
    for segment in raw_path.split(b"/"):
        text = (unquote_to_bytes(segment) if b"%" in segment else segment).decode("utf-8", "replace")
        segments.append(text.replace("%", "%25").replace("/", "%2F"))
    return "/".join(segments)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return None


def _section(path: str) -> str:
    """The first two segments of a path (``/v1/times`` of ``/v1/times/abc``), which every API
    route spells out before any parameter."""
    end = path.find("/", path.find("/", 1) + 1)
    return path if end < 0 else path[:end]


class ApiRoutes:
    """The API's routes, found the way Starlette's router finds them, without its layers.

    A request for an API route goes straight to the route's endpoint: Starlette's exception
    middleware, router, route and ``request_response`` wrappers around it cost a fifth of a small
    read. None of them acts on such a request: our endpoints answer every error themselves (see
    :func:`context.endpoint`), and an exception that escapes one would pass all of them to
    ``ServerErrorMiddleware``. Everything else (unknown paths, other methods, the web page) takes
    the usual way. The routes come first in the app's routing table, so the first route here that
    matches path and method is the one Starlette's router would take.
    """

    def __init__(self, routes: Sequence[Route], router: Any) -> None:
        self.router = router
        self.sections: dict[str, list[Route]] = {}
        for route in routes:
            section = _section(route.path)
            if "{" in section:
                raise ValueError(f"API route {route.path} has a parameter in its first two segments")
            self.sections.setdefault(section, []).append(route)

    def find(self, method: str, path: str) -> tuple[Route, dict[str, Any]] | None:
        """The route that takes ``method`` on ``path``, and its path parameters; else None."""
        for route in self.sections.get(_section(path), ()):
            match = route.path_regex.match(path)
            if match is not None and method in route.methods:  # type: ignore[operator]
                convertors = route.param_convertors
                return route, {
                    name: convertors[name].convert(value) for name, value in match.groupdict().items()
                }
        return None

    async def handle(
        self, route: Route, params: dict[str, Any], scope: Scope, receive: Receive, send: Send
    ) -> None:
        """What Starlette's router and route do for a full match, for an endpoint of ours."""
        scope.setdefault("router", self.router)
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = params
        response = await route.endpoint(Request(scope, receive, send))
        await response(scope, receive, send)


class ApiHeaders:
    """ASGI wrapper: answers CORS preflights, adds the common headers, routes on the raw path
    (:func:`route_path`), and routes ``/path/`` like ``/path`` (no redirect), keeping the path
    as sent for the 404 text. Requests for API routes go straight to them (:class:`ApiRoutes`).

    Cross-origin reads are allowed only for the origins in ``cors_origins`` (``*`` for all): a
    listed origin is echoed with ``Vary: Origin``; other origins get no CORS headers at all."""

    def __init__(
        self, app: ASGIApp, cors_origins: tuple[str, ...] = (), routes: ApiRoutes | None = None
    ) -> None:
        self.app = app
        self.any_origin = ANY_ORIGIN in cors_origins
        self.origins = {origin.encode("latin-1") for origin in cors_origins}
        self.routes = routes

    def _cors_headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        if self.any_origin:
            return [(b"access-control-allow-origin", b"*")]
        if not self.origins:
            return []
        origin = _header(scope, b"origin")
        if origin is not None and origin in self.origins:
            return [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
        return [(b"vary", b"Origin")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cors = self._cors_headers(scope)
        if scope["method"] == "OPTIONS":
            await self._preflight(cors, send)
            return
        sent: str = scope["path"]
        raw: bytes | None = scope.get("raw_path")
        path = route_path(raw) if raw is not None and raw.startswith(b"/") else sent
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        scope = dict(scope, path=path)
        scope["pymesync.sent_path"] = sent

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in (*COMMON_HEADERS, *cors) if n not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        if self.routes is not None and (found := self.routes.find(scope["method"], path)) is not None:
            await self.routes.handle(*found, scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    @staticmethod
    async def _preflight(cors: list[tuple[bytes, bytes]], send: Send) -> None:
        """204; the methods and headers a browser may use, only for an allowed origin."""
        headers = [*cors, (b"content-length", b"0")]
        if any(name == b"access-control-allow-origin" for name, _ in cors):
            headers += [
                (b"access-control-allow-methods", PREFLIGHT_METHODS),
                (b"access-control-allow-headers", PREFLIGHT_HEADERS),
            ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


#: Query parameters whose values never reach a log, compared after percent-decoding and case-folding.
SECRET_PARAMETERS = frozenset({"token", "password"})
#: A ``name=value`` pair at the start of a text, or after ``?``, ``&``, a quote or a space.
_QUERY_PAIR = re.compile(r"(^|[\s?&'\"])([^\s?&=;'\"]+)=([^\s&'\"]*)")
#: Loggers that may see request URLs: uvicorn's access log, its error log, its ``trace``-level
#: ASGI message log (which prints each request's scope with the raw query string), and ours.
REDACTED_LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn.asgi", "pymesync.server")


def redact_query_secrets(text: str) -> str:
    """``text`` with the value of every ``token=`` or ``password=`` pair blanked out, however the
    name is spelled (``%74oken``, ``TOKEN``): the server decodes names before reading them."""

    def blank(pair: re.Match[str]) -> str:
        before, name, _value = pair.groups()
        if unquote_plus(name).strip().lower() not in SECRET_PARAMETERS:
            return pair[0]
        return f"{before}{name}=[redacted]"

    return _QUERY_PAIR.sub(blank, text)


class RedactSecrets(logging.Filter):
    """Blank out query-string secrets in every record, whatever the shape of its ``args``.

    String arguments are redacted in place, so uvicorn's access formatter still finds its tuple;
    a record that would still show a secret (an ASGI scope, a dict, the message itself) is
    replaced by its redacted rendering."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query_secrets(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            return True  # logging reports the broken record itself
        redacted = redact_query_secrets(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def _redact_logs() -> None:
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactSecrets) for existing in logger.filters):
            logger.addFilter(RedactSecrets())


async def _not_found(request: Request, _exc: Exception) -> Response:
    """Express's answer to an unknown path or method, as a JSON error.

    A POST body is still checked first: the reference parses bodies before routing."""
    if request.method == "POST":
        try:
            await read_body(request)
        except ApiError as error:
            return error_response(error)
    path = request.scope.get("pymesync.sent_path", request.url.path)
    text = f"Cannot {request.method} {path}"
    return json_response({"status": 404, "error": "Not found", "text": text}, 404)


def create_app(
    database_url: str,
    *,
    token_lifetime: float = DEFAULT_TOKEN_LIFETIME,
    secret: str | None = None,
    instance_name: str = DEFAULT_INSTANCE_NAME,
    auth_modules: tuple[str, ...] = ("password",),
    create_schema: bool = True,
    cors_origins: tuple[str, ...] = (),
    min_password_length: int = 1,
    sync_extensions: bool = True,
    changes_retention_days: float = 90.0,
    ldap_settings: ldap.LdapSettings | None = None,
    login_throttle: throttle.LoginThrottle = throttle.DEFAULT,
    trusted_proxies: tuple[throttle.Network, ...] = (),
    web: bool = True,
) -> Starlette:
    """Build the app for one database. The schema is created when missing and, unless
    ``secret`` is given, the token secret is read from (or first stored in) the database.

    Raises :class:`errors.ConfigError` for a secret shorter than 32 bytes, a malformed CORS
    origin, a minimum password length outside 1 to 72, or ``ldap`` among the auth modules
    without ``ldap_settings``. ``web`` serves the web page at ``/`` beside the API."""
    if "ldap" in auth_modules and ldap_settings is None:
        raise ConfigError("the auth module ldap needs LDAP settings")
    if secret is not None:
        auth.check_secret(secret, "the token secret")
    origins = parse_cors_origins(cors_origins)
    auth.check_min_password_length(min_password_length)
    _redact_logs()
    engine = storage.create_engine(database_url)
    if create_schema:
        storage.create_schema(engine)
    config = Config(
        engine=engine,
        secret=secret if secret is not None else storage.token_secret(engine),
        instance_name=instance_name,
        token_lifetime=token_lifetime,
        auth_modules=auth_modules,
        min_password_length=min_password_length,
        sync_extensions=sync_extensions,
        changes_retention_days=changes_retention_days,
        ldap=ldap_settings,
        login_throttle=login_throttle,
        trusted_proxies=trusted_proxies,
    )
    # the router tries routes in order: the busiest first (v1, times), the web page's last
    modules = (times, activities, projects, users, login, *((changes,) if sync_extensions else ()))
    api_routes = [
        Route(f"/{version}{path}", endpoint(config, handler), methods=methods)
        for version in reversed(API_VERSIONS)
        for module in modules
        for path, methods, handler in module.ROUTES
    ]
    routes: list[BaseRoute] = [*api_routes]
    if web:
        from pymesync.web.app import web_routes  # a face of its own, loaded only when it is served

        routes += web_routes(config)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = Starlette(
        routes=routes,
        exception_handlers={404: _not_found, 405: _not_found, HTTPException: _not_found},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.add_middleware(ApiHeaders, cors_origins=origins, routes=ApiRoutes(api_routes, app.router))
    return app


_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s,]+", re.IGNORECASE)


def parse_cors_origins(entries: Sequence[str]) -> tuple[str, ...]:
    """The CORS allow-list from ``--cors-origin`` values or ``TIMESYNC_CORS_ORIGINS`` items, each
    ``scheme://host[:port]`` (a trailing ``/`` is dropped) or ``*`` for every origin."""
    origins = []
    for entry in entries:
        origin = entry.strip().removesuffix("/")
        if not origin:
            continue
        if origin != ANY_ORIGIN and _ORIGIN.fullmatch(origin) is None:
            raise ConfigError(f"{entry!r} is not a CORS origin (use scheme://host[:port], or *)")
        origins.append(origin)
    return tuple(origins)


def _return_big_buffers_to_the_os() -> None:
    """glibc only: serve allocations of 64 KiB and more (list pages, their JSON) with mmap.

    glibc raises its mmap threshold after the first such buffer is freed and then keeps freed
    pages in per-thread heaps, so a worker's RSS grew with the size of the lists it streamed."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        m_mmap_threshold, m_arena_max = -3, -8
        libc.mallopt(m_mmap_threshold, 64 * 1024)
        libc.mallopt(m_arena_max, 2)


def create_app_from_environment() -> Starlette:
    """App factory for ``uvicorn --factory`` and worker processes: settings from ``TIMESYNC_*``."""
    if sys.platform == "linux":
        _return_big_buffers_to_the_os()
    env = os.environ
    ldap_settings = ldap.settings(env)
    login_throttle, trusted_proxies = throttle.settings(env)
    return create_app(
        env["TIMESYNC_DATABASE_URL"],
        token_lifetime=float(env.get("TIMESYNC_TOKEN_LIFETIME", DEFAULT_TOKEN_LIFETIME)),
        secret=auth.external_secret(env),
        instance_name=env.get("TIMESYNC_INSTANCE_NAME", DEFAULT_INSTANCE_NAME),
        auth_modules=ldap.auth_modules(env, ldap_settings),
        create_schema=env.get("TIMESYNC_CREATE_SCHEMA", "1") != "0",
        cors_origins=tuple(env.get(ENV_CORS_ORIGINS, "").split(",")),
        min_password_length=auth.min_password_length_setting(env),
        sync_extensions=env.get(ENV_SYNC_EXTENSIONS, "1") != "0",
        changes_retention_days=float(env.get(ENV_CHANGES_RETENTION_DAYS, "90")),
        ldap_settings=ldap_settings,
        login_throttle=login_throttle,
        trusted_proxies=trusted_proxies,
        web=env.get(ENV_WEB, "1") != "0",
    )
