"""The HTTP protocols ``serve`` runs: Nagle's algorithm off on every accepted connection, whichever
parser and event loop, and ``serve``'s defaults (the fast parser where installed, a worker per CPU)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from pymesync.server import protocol, serving

PROTOCOLS = ["NoDelayH11Protocol", "NoDelayHttpToolsProtocol"]
LOOPS = ["asyncio", "uvloop"]


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"hi"})


@contextmanager
def _running(listener: socket.socket, protocol_name: str, loop: str) -> Iterator[uvicorn.Server]:
    config = uvicorn.Config(
        _hello, http=getattr(protocol, protocol_name), loop=loop, lifespan="off", log_level="critical"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.01)
        yield server
    finally:
        server.should_exit = True
        thread.join(10)


def _listener(proto: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("protocol_name", PROTOCOLS)
@pytest.mark.parametrize("proto", [0, socket.IPPROTO_TCP], ids=["proto-0", "proto-tcp"])
def test_every_accepted_connection_has_nagle_off(protocol_name: str, loop: str, proto: int) -> None:
    """A listening socket of protocol 0 (as worker processes may receive it) gives accepted sockets
    asyncio does not take for TCP, so it leaves Nagle on: the protocol turns it off itself."""
    pytest.importorskip("httptools" if "HttpTools" in protocol_name else "h11")
    pytest.importorskip(loop)
    listener = _listener(proto)
    with (
        _running(listener, protocol_name, loop) as server,
        socket.create_connection(listener.getsockname()[:2]) as client,
    ):
        client.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        answer = b""
        while not answer.endswith(b"hi"):
            chunk = client.recv(1024)
            assert chunk, answer
            answer += chunk
        accepted = [each.transport.get_extra_info("socket") for each in list(server.server_state.connections)]
        flags = [sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for sock in accepted]
    assert answer.startswith(b"HTTP/1.1 200")
    assert len(flags) == 1 and flags[0] != 0


def test_serve_uses_the_fast_parser_where_it_is_installed() -> None:
    pytest.importorskip("httptools")
    assert protocol.PROTOCOL == "pymesync.server.protocol:NoDelayHttpToolsProtocol"


def test_serve_runs_a_worker_per_cpu_it_may_use() -> None:
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert serving.default_workers() == expected
