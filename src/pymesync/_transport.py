"""The synchronous transport: moves bytes over kept-alive ``http.client`` connections.

It knows nothing about TimeSync. It sends one request with timeouts, follows no redirect, never retries a
POST, and turns every failure into a :class:`~pymesync.errors.TransportError` whose message is a short fixed
cause, never an exception's text (which could contain the URL and so the token).

Why ``http.client`` and not urllib3: the request target is already percent-encoded by
:mod:`pymesync._wire`, and urllib3 re-validates and re-encodes it character by character in Python on every
request (the token alone is ~200 characters); together with its pool-key layers that made a loopback call
~15% slower than a bare kept-alive connection. The pooling we need is small: idle connections per origin,
checked for a server-side close before reuse, safe to share between threads.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

from pymesync._wire import USER_AGENT, Response
from pymesync.errors import ConnectionFailed, RequestTimeout, TransportError

Timeout = tuple[float, float]
Origin = tuple[str, str, int]

#: methods resent once when a reused connection turns out closed (never POST)
IDEMPOTENT = frozenset({"GET", "DELETE", "HEAD"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: http.client's ways of saying the peer closed or broke the exchange
_BROKEN = (ConnectionError, http.client.BadStatusLine, http.client.IncompleteRead)


def split_url(url: object) -> tuple[Origin, str]:
    """``((scheme, host, port), target)`` for an http(s) URL with a host, else the ``invalid URL`` failure."""
    if not isinstance(url, str):
        raise ConnectionFailed("invalid URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConnectionFailed("invalid URL") from None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        raise ConnectionFailed("invalid URL")
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    return (scheme, host, port or _DEFAULT_PORTS[scheme]), target


def check_url(url: object) -> str:
    """Return ``url`` if it is an http(s) URL with a host, else raise the ``invalid URL`` failure."""
    split_url(url)
    return str(url)


def _connect_failure(exc: BaseException) -> TransportError:
    """Name the cause of a failure while opening a connection (TCP connect, then TLS for https)."""
    if isinstance(exc, ConnectionRefusedError):
        return ConnectionFailed("connection refused")
    if isinstance(exc, TimeoutError):
        return RequestTimeout("connection timed out")
    if isinstance(exc, socket.gaierror):
        return ConnectionFailed("host not found")
    return _exchange_failure(exc)


def _exchange_failure(exc: BaseException) -> TransportError:
    """Name the cause of a failure once connected: timeout, reset, TLS, or a fixed fallback."""
    if isinstance(exc, TimeoutError):
        return RequestTimeout("read timed out")
    if isinstance(exc, ssl.SSLError):
        return ConnectionFailed("SSL error")
    if isinstance(exc, _BROKEN):
        return ConnectionFailed("connection reset")
    if isinstance(exc, (http.client.InvalidURL, UnicodeError)):
        return ConnectionFailed("invalid URL")
    return ConnectionFailed(f"request failed ({type(exc).__name__})")


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """True if an idle connection has something to read: the server closed it (or sent junk)."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class SyncTransport:
    """Kept-alive connections per origin, opened lazily; safe to share between threads."""

    def __init__(self, timeout: Timeout, *, maxsize: int = 10) -> None:
        self._connect_timeout, self._read_timeout = timeout
        self._maxsize = maxsize
        self._idle: dict[Origin, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

    def send(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> Response:
        """Send one request; a GET/DELETE on a reused connection the server had closed is retried once."""
        origin, target = split_url(url)
        all_headers = {"User-Agent": USER_AGENT, **headers}
        connection = self._checkout(origin)
        reused = connection.sock is not None
        try:
            return self._exchange(origin, connection, method, target, body, all_headers)
        except ConnectionFailed as failure:
            if not (reused and failure.cause == "connection reset" and method in IDEMPOTENT):
                raise
        return self._exchange(origin, self._new_connection(origin), method, target, body, all_headers)

    def _exchange(
        self,
        origin: Origin,
        connection: http.client.HTTPConnection,
        method: str,
        target: str,
        body: bytes | None,
        headers: Mapping[str, str],
    ) -> Response:
        try:
            if connection.sock is None:
                try:
                    connection.connect()
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    raise _connect_failure(exc) from None
                assert connection.sock is not None
                connection.sock.settimeout(self._read_timeout)
            try:
                connection.request(method, target, body=body, headers=dict(headers))
                raw = connection.getresponse()
                data = raw.read()
            except (OSError, http.client.HTTPException, ValueError) as exc:
                raise _exchange_failure(exc) from None
        except BaseException:
            connection.close()
            raise
        response = Response(raw.status, raw.getheader("Content-Type"), data)
        if raw.will_close:
            connection.close()
        else:
            self._checkin(origin, connection)
        return response

    def _checkout(self, origin: Origin) -> http.client.HTTPConnection:
        """An idle connection to ``origin`` that the server has not closed, or a new unconnected one."""
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                connection = idle.pop() if idle else None
            if connection is None:
                return self._new_connection(origin)
            if not _closed_by_peer(connection):
                return connection
            connection.close()

    def _checkin(self, origin: Origin, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < self._maxsize:
                idle.append(connection)
                return
        connection.close()

    def _new_connection(self, origin: Origin) -> http.client.HTTPConnection:
        scheme, host, port = origin
        try:
            if scheme == "https":
                if self._tls is None:
                    self._tls = ssl.create_default_context()
                timeout = self._connect_timeout
                return http.client.HTTPSConnection(host, port, timeout=timeout, context=self._tls)
            return http.client.HTTPConnection(host, port, timeout=self._connect_timeout)
        except (http.client.InvalidURL, ValueError):
            raise ConnectionFailed("invalid URL") from None

    def close(self) -> None:
        """Release pooled connections; a later request opens new ones."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()
