"""uvicorn's HTTP/1.1 protocol with Nagle's algorithm off on every connection.

With ``--workers`` above 1, uvicorn hands the listening socket to worker processes in a form
that asyncio no longer recognises as TCP, so accepted connections keep Nagle's algorithm on.
A response written as headers plus body then waits for the client's delayed ACK: about 40 ms
per request on keep-alive connections. Setting TCP_NODELAY here fixes it in every mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol


class NoDelayH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)  # type: ignore[arg-type]


#: The import string uvicorn's ``http`` setting takes (worker processes import it themselves).
PROTOCOL = "pymesync.server.protocol:NoDelayH11Protocol"
