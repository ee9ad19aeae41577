"""uvicorn's HTTP/1.1 protocol with Nagle's algorithm off and a time limit for request headers.

With ``--workers`` above 1, uvicorn hands the listening socket to worker processes in a form
that asyncio no longer recognises as TCP, so accepted connections keep Nagle's algorithm on.
A response written as headers plus body then waits for the client's delayed ACK: about 40 ms
per request on keep-alive connections. Setting TCP_NODELAY here fixes it in every mode.

uvicorn closes idle keep-alive connections, but a connection that has sent part of a request
and then nothing more stays open forever: enough of them exhaust the server's file descriptors
(slowloris). Here a connection must complete each request's headers within the header timeout
(``$TIMESYNC_HEADER_TIMEOUT`` seconds, default 10), counted from its opening or from the end of
the previous response; then it is closed. Bodies are not timed by this (their size is limited).
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


class NoDelayH11Protocol(H11Protocol):
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)  # type: ignore[arg-type]
        self._await_headers()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # a request's headers are complete
            self._stop_header_timer()

    def on_response_complete(self) -> None:
        if not self.transport.is_closing():
            self._await_headers()  # first, so a pipelined request already read stops it again
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        self._stop_header_timer()
        self._header_timer = self.loop.call_later(header_timeout(), self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


#: The import string uvicorn's ``http`` setting takes (worker processes import it themselves).
PROTOCOL = "pymesync.server.protocol:NoDelayH11Protocol"
