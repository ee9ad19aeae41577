"""The Starlette application: routing table, headers every response carries, and app creation."""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pymesync.server import storage
from pymesync.server.auth import DEFAULT_TOKEN_LIFETIME
from pymesync.server.context import Config, endpoint, error_response, json_response, read_body
from pymesync.server.errors import ApiError
from pymesync.server.routes import activities, login, projects, times, users

DEFAULT_INSTANCE_NAME = "timesync"
API_VERSIONS = ("v0", "v1")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Headers of every response (1.3): CORS, no caching, the reference's security headers.
COMMON_HEADERS = (
    (b"access-control-allow-origin", b"*"),
    (b"cache-control", b"no-store, no-cache, must-revalidate, proxy-revalidate"),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
    (b"content-security-policy", b"default-src none; script-src self; connect-src self"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
)
PREFLIGHT_METHODS = b"GET,HEAD,PUT,PATCH,POST,DELETE"


def route_path(raw_path: bytes) -> str:
    """The path the router matches: each segment of the raw path percent-decoded on its own.

    Express matches routes on the raw path, so ``/projects/a%2Fb`` reaches ``/projects/:slug``
    with the slug ``a/b``. Starlette matches on the decoded path, where that is two segments.
    Here a decoded segment keeps ``/`` and ``%`` escaped (``%2F``, ``%25``), so the router
    splits on the real slashes only and :func:`context.endpoint` unescapes path parameters.
    """
    segments = []
    for segment in raw_path.split(b"/"):
        text = (unquote_to_bytes(segment) if b"%" in segment else segment).decode("utf-8", "replace")
        segments.append(text.replace("%", "%25").replace("/", "%2F"))
    return "/".join(segments)


class ApiHeaders:
    """ASGI wrapper: answers CORS preflights, adds the common headers, routes on the raw path
    (:func:`route_path`), and routes ``/path/`` like ``/path`` (no redirect), keeping the path
    as sent for the 404 text."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await self._preflight(scope, send)
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
                extra = [(n, v) for n, v in COMMON_HEADERS if n not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    async def _preflight(scope: Scope, send: Send) -> None:
        headers = [
            (b"access-control-allow-origin", b"*"),
            (b"access-control-allow-methods", PREFLIGHT_METHODS),
            (b"vary", b"Access-Control-Request-Headers"),
            (b"content-length", b"0"),
        ]
        for name, value in scope.get("headers", []):
            if name == b"access-control-request-headers":
                headers.append((b"access-control-allow-headers", value))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


class RedactTokens(logging.Filter):
    """Access logs print request paths, and GET/DELETE carry ``?token=``: blank it out."""

    _TOKEN = re.compile(r"(token=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._TOKEN.sub(r"\1[redacted]", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def _redact_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(existing, RedactTokens) for existing in access.filters):
        access.addFilter(RedactTokens())


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
) -> Starlette:
    """Build the app for one database. The schema is created when missing and, unless
    ``secret`` is given, the token secret is read from (or first stored in) the database."""
    _redact_access_log()
    engine = storage.create_engine(database_url)
    if create_schema:
        storage.create_schema(engine)
    config = Config(
        engine=engine,
        secret=secret if secret is not None else storage.token_secret(engine),
        instance_name=instance_name,
        token_lifetime=token_lifetime,
        auth_modules=auth_modules,
    )
    routes = [
        Route(f"/{version}{path}", endpoint(config, handler), methods=methods)
        for version in API_VERSIONS
        for module in (login, times, projects, activities, users)
        for path, methods, handler in module.ROUTES
    ]

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
    app.add_middleware(ApiHeaders)
    return app


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
    modules = json.loads(env.get("TIMESYNC_AUTH_MODULES", '["password"]'))
    return create_app(
        env["TIMESYNC_DATABASE_URL"],
        token_lifetime=float(env.get("TIMESYNC_TOKEN_LIFETIME", DEFAULT_TOKEN_LIFETIME)),
        secret=env.get("TIMESYNC_SECRET_KEY") or None,
        instance_name=env.get("TIMESYNC_INSTANCE_NAME", DEFAULT_INSTANCE_NAME),
        auth_modules=tuple(str(module) for module in modules),
        create_schema=env.get("TIMESYNC_CREATE_SCHEMA", "1") != "0",
    )
