"""The synchronous transport: moves bytes over a kept-alive urllib3 pool.

It knows nothing about TimeSync. It sends one request with timeouts, follows no redirect, never retries a
POST, and turns every failure into a :class:`~pymesync.errors.TransportError` whose message is a short fixed
cause, never the HTTP library's text (which would contain the URL and so the token).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import urllib3
from urllib3 import exceptions as u3
from urllib3.util import parse_url

from pymesync._wire import USER_AGENT, Response
from pymesync.errors import ConnectionFailed, RequestTimeout, TransportError

Timeout = tuple[float, float]

_IDEMPOTENT = frozenset({"GET", "DELETE", "HEAD"})


def check_url(url: object) -> str:
    """Return ``url`` if it is an http(s) URL with a host, else raise the ``invalid URL`` failure."""
    if not isinstance(url, str):
        raise ConnectionFailed("invalid URL")
    try:
        parsed = parse_url(url)
    except (u3.LocationParseError, ValueError):
        raise ConnectionFailed("invalid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConnectionFailed("invalid URL")
    return url


def transport_failure(exc: BaseException) -> TransportError:
    """Name the cause of a urllib3/socket failure with one of the documented fixed phrases."""
    if isinstance(exc, u3.NameResolutionError):
        return ConnectionFailed("host not found")
    if isinstance(exc, u3.NewConnectionError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ConnectionRefusedError):
            return ConnectionFailed("connection refused")
        if isinstance(cause, TimeoutError):
            return RequestTimeout("connection timed out")
        if isinstance(cause, ConnectionResetError):
            return ConnectionFailed("connection reset")
        return ConnectionFailed(f"request failed ({type(exc).__name__})")
    if isinstance(exc, u3.ConnectTimeoutError):
        return RequestTimeout("connection timed out")
    if isinstance(exc, u3.ReadTimeoutError):
        return RequestTimeout("read timed out")
    if isinstance(exc, (u3.SSLError, ssl.SSLError)):
        return ConnectionFailed("SSL error")
    if isinstance(exc, (u3.ProtocolError, u3.IncompleteRead, ConnectionError)):
        return ConnectionFailed("connection reset")
    if isinstance(exc, u3.LocationValueError):
        return ConnectionFailed("invalid URL")
    return ConnectionFailed(f"request failed ({type(exc).__name__})")


class SyncTransport:
    """One connection pool per owner object, opened lazily on first use."""

    def __init__(self, timeout: Timeout, *, maxsize: int = 10) -> None:
        self._timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        self._maxsize = maxsize
        self._pool: urllib3.PoolManager | None = None

    def _manager(self) -> urllib3.PoolManager:
        if self._pool is None:
            self._pool = urllib3.PoolManager(
                num_pools=4,
                maxsize=self._maxsize,
                block=False,
                timeout=self._timeout,
                retries=False,
            )
        return self._pool

    def send(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> Response:
        """Send one request; GET/DELETE are retried once if a pooled connection was found closed."""
        check_url(url)
        try:
            return self._send_once(method, url, body, headers)
        except ConnectionFailed as exc:
            if exc.cause != "connection reset" or method not in _IDEMPOTENT:
                raise
        return self._send_once(method, url, body, headers)

    def _send_once(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> Response:
        try:
            raw = self._manager().urlopen(
                method,
                url,
                body=body,
                headers={"User-Agent": USER_AGENT, **headers},
                redirect=False,
                retries=False,
                preload_content=True,
            )
        except (u3.HTTPError, OSError, ValueError) as exc:
            raise transport_failure(exc) from None
        return Response(raw.status, raw.headers.get("Content-Type"), raw.data)

    def close(self) -> None:
        """Release pooled connections; a later request opens new ones."""
        if self._pool is not None:
            self._pool.clear()
            self._pool = None
