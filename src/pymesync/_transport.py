"""The synchronous transport: HTTP/1.1 over kept-alive sockets.

It knows nothing about TimeSync. It sends one request with timeouts, follows no redirect, never retries a
POST, and turns every failure into a :class:`~pymesync.errors.TransportError` whose message is a short fixed
cause, never an exception's text (which could contain the URL and so the token).

Why our own few lines of HTTP/1.1 and not a library. urllib3 re-validates and re-encodes the already
percent-encoded request target character by character on every request (the token alone is ~200
characters); with its pool-key layers that made a loopback call ~15% slower than a bare kept-alive
connection. The standard library's ``http.client`` was fast per call but costs ~15 ms to import (it loads
the e-mail header parser, and ``ssl`` even for ``http://``): a third of a whole ``timesync log``. What a
JSON API client needs is small: a request line and headers, a response framed by ``Content-Length``, by
chunks or by the end of the connection, interim ``1xx`` answers skipped, and idle connections per origin,
checked for a server-side close before reuse, safe to share between threads. ``ssl`` is imported only for
``https://``.

What it imports is paid by every command line run, so it takes the C module ``_socket`` rather than
``socket`` (whose import builds enums of every constant: 1.1 ms, more than the rest of this module) and
splits ordinary URLs itself rather than importing ``urllib.parse`` (1.5 ms, most of it for ``ipaddress``).
"""

from __future__ import annotations

import _socket
import io
import select
import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pymesync._wire import USER_AGENT, Response
from pymesync.errors import ConnectionFailed, RequestTimeout, TransportError

if TYPE_CHECKING:
    import ssl
    from io import BufferedReader

    from _typeshed import WriteableBuffer

Timeout = tuple[float, float]
Origin = tuple[str, str, int]

#: methods resent once when a reused connection turns out closed (never POST)
IDEMPOTENT = frozenset({"GET", "DELETE", "HEAD"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: the longest status or header line, and the most header lines, read from a response (as http.client)
_MAX_LINE = 65_536
_MAX_HEADERS = 100


class _Broken(Exception):
    """The peer closed the connection early or answered with something that is not HTTP."""


class _Malformed(Exception):
    """An HTTP response whose framing cannot be read (header limits, a bad length or chunk size)."""


def split_url(url: object) -> tuple[Origin, str]:
    """``((scheme, host, port), target)`` for an http(s) URL with a host, else the ``invalid URL`` failure."""
    if not isinstance(url, str):
        raise ConnectionFailed("invalid URL")
    return _split_plain(url) or _split_any(url)


def _split_plain(url: str) -> tuple[Origin, str] | None:
    """:func:`_split_any`'s answer for an ordinary URL (``http[s]://`` then a name or IPv4 address, an
    optional port of digits, no fragment, no tab or newline), found with string methods; None for any
    other URL. A test holds it to ``urlsplit``'s reading on generated URLs."""
    scheme, separator, rest = url.partition("://")
    if scheme not in _DEFAULT_PORTS or not separator:
        return None
    end = len(rest)
    for mark in "/?":
        found = rest.find(mark, 0, end)
        if found != -1:
            end = found
    host, colon, port = rest[:end].partition(":")
    if not (host.isascii() and host.replace(".", "").replace("-", "").isalnum()):
        return None
    if colon and port and not (port.isascii() and port.isdigit() and int(port) <= 65_535):
        return None
    remainder = rest[end:]
    if "#" in remainder or "\t" in remainder or "\r" in remainder or "\n" in remainder:
        return None
    path, _, query = remainder.partition("?")
    target = f"{path or '/'}?{query}" if query else path or "/"
    return (scheme, host.lower(), int(port or 0) or _DEFAULT_PORTS[scheme]), target


def _split_any(url: str) -> tuple[Origin, str]:
    """Any URL, read by ``urlsplit`` (IPv6 literals, user info, fragments, unusual spellings)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConnectionFailed("invalid URL") from None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or _has_controls(host):
        raise ConnectionFailed("invalid URL")
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    return (scheme, host, port or _DEFAULT_PORTS[scheme]), target


def check_url(url: object) -> str:
    """Return ``url`` if it is an http(s) URL with a host, else raise the ``invalid URL`` failure."""
    split_url(url)
    return str(url)


def _has_controls(text: str) -> bool:
    """Spaces and control characters, which would end or break a request line."""
    if text.isascii():  # the usual case, without a loop over the characters: printable ASCII is " " to "~"
        return " " in text or not text.isprintable()
    return any(ch <= " " or ch == "\x7f" for ch in text)


def _is_ssl_error(exc: BaseException) -> bool:
    ssl = sys.modules.get("ssl")  # loaded only if an https:// origin was used
    return ssl is not None and isinstance(exc, ssl.SSLError)


def _connect_failure(exc: BaseException) -> TransportError:
    """Name the cause of a failure while opening a connection (TCP connect, then TLS for https)."""
    if isinstance(exc, ConnectionRefusedError):
        return ConnectionFailed("connection refused")
    if isinstance(exc, TimeoutError):
        return RequestTimeout("connection timed out")
    if isinstance(exc, _socket.gaierror):
        return ConnectionFailed("host not found")
    return _exchange_failure(exc)


def _exchange_failure(exc: BaseException) -> TransportError:
    """Name the cause of a failure once connected: timeout, reset, TLS, or a fixed fallback."""
    if isinstance(exc, TimeoutError):
        return RequestTimeout("read timed out")
    if _is_ssl_error(exc):
        return ConnectionFailed("SSL error")
    if isinstance(exc, (ConnectionError, _Broken)):
        return ConnectionFailed("connection reset")
    if isinstance(exc, _Malformed):
        return ConnectionFailed("invalid response")
    if isinstance(exc, UnicodeError):
        return ConnectionFailed("invalid URL")
    return ConnectionFailed(f"request failed ({type(exc).__name__})")


def _open_socket(host: bytes | str, port: int, timeout: float) -> _socket.socket:
    """A TCP connection to the first of ``host``'s addresses that accepts one (``socket.create_connection``
    without the ``socket`` module); the last failure if none does."""
    failure: OSError = OSError("no address for the host")
    for family, kind, protocol, _, address in _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM):
        sock = _socket.socket(family, kind, protocol)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
        except OSError as exc:
            sock.close()
            failure = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise failure


class _SocketStream(io.RawIOBase):
    """The raw stream under a connection's buffered reader (what ``socket.makefile("rb")`` builds)."""

    def __init__(self, sock: _socket.socket) -> None:
        super().__init__()
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        return self._sock.recv_into(buffer)


class _Connection:
    """One socket to an origin, with a buffered reader over it."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self.reader: BufferedReader = io.BufferedReader(_SocketStream(sock))

    def closed_by_peer(self) -> bool:
        """True if the idle connection has something to read: the server closed it (or sent junk)."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def _host_header(origin: Origin) -> str:
    scheme, host, port = origin
    name = host if host.isascii() else host.encode("idna").decode("ascii")
    if ":" in name:  # an IPv6 address
        name = f"[{name}]"
    return name if port == _DEFAULT_PORTS[scheme] else f"{name}:{port}"


def _request_bytes(
    origin: Origin, method: str, target: str, body: bytes | None, headers: Mapping[str, str]
) -> bytes:
    if _has_controls(target):
        raise ConnectionFailed("invalid URL")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {_host_header(origin)}", "Accept-Encoding: identity"]
    for name, value in headers.items():
        if _has_controls(name) or ":" in name or "\r" in value or "\n" in value:
            raise ConnectionFailed("invalid header")
        lines.append(f"{name}: {value}")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    try:
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    except UnicodeError:
        raise ConnectionFailed("invalid URL") from None
    return head + (body or b"")


def _read_line(reader: BufferedReader) -> bytes:
    line = reader.readline(_MAX_LINE + 1)
    if len(line) > _MAX_LINE:
        raise _Malformed("line too long")
    return line


def _read_head(reader: BufferedReader) -> tuple[str, int, dict[str, str]]:
    """The version, status and headers (lower-case names, repeated ones joined) of the final answer."""
    while True:
        line = _read_line(reader)
        if not line:
            raise _Broken("closed before the status line")
        parts = line.decode("latin-1").rstrip("\r\n").split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or len(parts[1]) != 3 or not parts[1].isdigit():
            raise _Broken("not an HTTP status line")
        version, status = parts[0], int(parts[1])
        headers: dict[str, str] = {}
        last = ""
        for _ in range(_MAX_HEADERS + 1):
            line = _read_line(reader)
            if line in (b"\r\n", b"\n", b""):
                break
            text = line.decode("latin-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and last:  # an obsolete folded continuation line
                headers[last] += " " + text.strip()
                continue
            name, colon, value = text.partition(":")
            if not colon:
                raise _Malformed("header line without a colon")
            last = name.strip().lower()
            value = value.strip()
            headers[last] = f"{headers[last]}, {value}" if last in headers else value
        else:
            raise _Malformed("too many headers")
        if not 100 <= status < 200 or status == 101:  # interim answers (100 Continue, 103...) are skipped
            return version, status, headers


def _read_exactly(reader: BufferedReader, size: int) -> bytes:
    data = reader.read(size)
    if len(data) < size:
        raise _Broken("closed in the middle of the body")
    return data


def _read_chunked(reader: BufferedReader) -> bytes:
    parts: list[bytes] = []
    while True:
        line = _read_line(reader)
        if not line:
            raise _Broken("closed in the middle of the body")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _Malformed("invalid chunk size") from None
        if size < 0:
            raise _Malformed("invalid chunk size")
        if size == 0:
            while _read_line(reader) not in (b"\r\n", b"\n", b""):  # trailer fields, ignored
                pass
            return b"".join(parts)
        parts.append(_read_exactly(reader, size))
        _read_exactly(reader, 2)  # the CRLF after the chunk


def _read_response(reader: BufferedReader, method: str) -> tuple[Response, bool]:
    """The response, and whether the connection can carry another request."""
    version, status, headers = _read_head(reader)
    tokens = {token.strip().lower() for token in headers.get("connection", "").split(",")}
    reusable = "close" not in tokens and (version != "HTTP/1.0" or "keep-alive" in tokens)
    if method == "HEAD" or status in (204, 304) or status < 200:
        body = b""
    elif headers.get("transfer-encoding", "").lower().rsplit(",", 1)[-1].strip() == "chunked":
        body = _read_chunked(reader)
    elif "content-length" in headers:
        lengths = {length.strip() for length in headers["content-length"].split(",")}
        if len(lengths) != 1 or not next(iter(lengths)).isdigit():
            raise _Malformed("invalid Content-Length")
        body = _read_exactly(reader, int(lengths.pop()))
    else:  # the body ends when the server closes the connection
        body, reusable = reader.read(), False
    return Response(status, headers.get("content-type"), body), reusable


class SyncTransport:
    """Kept-alive connections per origin, opened lazily; safe to share between threads."""

    def __init__(self, timeout: Timeout, *, maxsize: int = 10) -> None:
        self._connect_timeout, self._read_timeout = timeout
        self._maxsize = maxsize
        self._idle: dict[Origin, list[_Connection]] = {}
        self._lock = threading.Lock()
        self._tls_context: ssl.SSLContext | None = None  # made on the first https:// request

    def send(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> Response:
        """Send one request; a GET/DELETE on a reused connection the server had closed is retried once."""
        origin, target = split_url(url)
        request = _request_bytes(origin, method, target, body, {"User-Agent": USER_AGENT, **headers})
        connection = self._checkout(origin)
        if connection is not None:
            try:
                return self._exchange(origin, connection, method, request)
            except ConnectionFailed as failure:
                if not (failure.cause == "connection reset" and method in IDEMPOTENT):
                    raise
        return self._exchange(origin, self._connect(origin), method, request)

    def _exchange(self, origin: Origin, connection: _Connection, method: str, request: bytes) -> Response:
        try:
            connection.sock.sendall(request)
            response, reusable = _read_response(connection.reader, method)
        except (OSError, ValueError, _Broken, _Malformed) as exc:
            connection.close()
            raise _exchange_failure(exc) from None
        except BaseException:
            connection.close()
            raise
        if reusable:
            self._checkin(origin, connection)
        else:
            connection.close()
        return response

    def _connect(self, origin: Origin) -> _Connection:
        scheme, host, port = origin
        # an ASCII name as bytes, which getaddrinfo takes as it is: a str goes through the idna codec,
        # whose import costs a millisecond
        address = host.encode("ascii") if host.isascii() else host
        try:
            sock = _open_socket(address, port, self._connect_timeout)
        except (OSError, ValueError, UnicodeError) as exc:
            raise _connect_failure(exc) from None
        try:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            if scheme == "https":
                sock = self._tls(sock, host)
            sock.settimeout(self._read_timeout)
        except (OSError, ValueError) as exc:
            sock.close()
            raise _connect_failure(exc) from None
        return _Connection(sock)

    def _tls(self, sock: _socket.socket, host: str) -> ssl.SSLSocket:
        """``sock`` wrapped in TLS for ``host`` (its certificate checked against the system's roots)."""
        import socket  # only for https://, as ssl (which imports socket anyway) wraps socket.socket
        import ssl  # it costs as much to import as everything else here

        with self._lock:
            if self._tls_context is None:
                context = ssl.create_default_context()
                context.set_alpn_protocols(["http/1.1"])
                self._tls_context = context
        plain = socket.socket(sock.family, sock.type, sock.proto, sock.detach())
        try:
            return self._tls_context.wrap_socket(plain, server_hostname=host)
        except BaseException:
            plain.close()
            raise

    def _checkout(self, origin: Origin) -> _Connection | None:
        """An idle connection to ``origin`` that the server has not closed, or None."""
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                connection = idle.pop() if idle else None
            if connection is None or not connection.closed_by_peer():
                return connection
            connection.close()

    def _checkin(self, origin: Origin, connection: _Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < self._maxsize:
                idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        """Release pooled connections; a later request opens new ones."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()
