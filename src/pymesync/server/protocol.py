"""uvicorn's HTTP/1.1 protocols with Nagle's algorithm off and a time limit for request headers.

With ``--workers`` above 1, uvicorn hands the listening socket to worker processes in a form
that asyncio no longer recognises as TCP, so accepted connections keep Nagle's algorithm on.
A response written as headers plus body then waits for the client's delayed ACK: about 40 ms
per request on keep-alive connections. Setting TCP_NODELAY here fixes it in every mode, on
either event loop.

uvicorn closes idle keep-alive connections, but a connection that has sent part of a request
and then nothing more stays open forever: enough of them exhaust the server's file descriptors
(slowloris). Here a connection must complete each request's headers within the header timeout
(``$TIMESYNC_HEADER_TIMEOUT`` seconds, default 10), counted from its opening or from the end of
the previous response; then it is closed. Bodies are not timed by this (their size is limited).

Two parsers: httptools (C, llhttp) when it is installed, about twice as fast per request as
h11 (pure Python), which stays the fallback. :data:`PROTOCOL` names the one ``serve`` uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

ENV_HEADER_TIMEOUT = "TIMESYNC_HEADER_TIMEOUT"
DEFAULT_HEADER_TIMEOUT = 10.0


@functools.lru_cache(maxsize=4)
def _seconds(setting: str) -> float:
    return float(setting) if setting else DEFAULT_HEADER_TIMEOUT


def header_timeout() -> float:
    """The setting of this process (``serve`` checks it before it sets it for its workers)."""
    return _seconds(os.environ.get(ENV_HEADER_TIMEOUT, "").strip())


def set_no_delay(transport: asyncio.BaseTransport) -> None:
    """Turn Nagle's algorithm off on a TCP connection (a Unix socket has none)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class HeaderTimer:
    """Closes a connection whose request headers are not complete within :func:`header_timeout`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, transport: asyncio.BaseTransport) -> None:
        self._loop = loop
        self._transport = transport
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self.stop()
        self._handle = self._loop.call_later(header_timeout(), self._expired)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _expired(self) -> None:
        self._handle = None
        if not self._transport.is_closing():
            self._transport.close()


class NoDelayH11Protocol(H11Protocol):
    _header_timer: HeaderTimer | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        set_no_delay(transport)
        super().connection_made(transport)  # type: ignore[arg-type]
        self._header_timer = HeaderTimer(self.loop, transport)
        self._header_timer.start()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE and self._header_timer is not None:
            self._header_timer.stop()  # a request's headers are complete

    def on_response_complete(self) -> None:
        if not self.transport.is_closing() and self._header_timer is not None:
            self._header_timer.start()  # first, so a pipelined request already read stops it again
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.stop()
        super().connection_lost(exc)


#: The import string uvicorn's ``http`` setting takes (worker processes import it themselves).
PROTOCOL = "pymesync.server.protocol:NoDelayH11Protocol"

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed, or does not load here: h11 only
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

if HttpToolsProtocol is not None:

    class NoDelayHttpToolsProtocol(HttpToolsProtocol):
        _header_timer: HeaderTimer | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            set_no_delay(transport)
            super().connection_made(transport)
            self._header_timer = HeaderTimer(self.loop, transport)
            self._header_timer.start()

        def on_headers_complete(self) -> None:
            if self._header_timer is not None:
                self._header_timer.stop()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            # a pipelined request whose headers were already read is waiting: no timer for it
            if not self.transport.is_closing() and not self.pipeline and self._header_timer is not None:
                self._header_timer.start()
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.stop()
            super().connection_lost(exc)

    PROTOCOL = "pymesync.server.protocol:NoDelayHttpToolsProtocol"
