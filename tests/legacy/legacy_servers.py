"""Small real servers for the legacy ``TimeSync`` tests (imported by ``conftest.py`` and the tests)."""

from __future__ import annotations

import collections
import contextlib
import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "TOK"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"{}"
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any) -> Reply:
        return cls(status, json.dumps(data).encode())


@dataclass
class Recorded:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RecordingServer

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append(Recorded(self.command, self.path, dict(self.headers.items()), body))
        reply = self.server.replies.popleft() if self.server.replies else self.server.default
        self.send_response(reply.status)
        if reply.content_type is not None:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


class RecordingServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[Recorded] = []
        self.replies: collections.deque[Reply] = collections.deque()
        self.default = Reply()
        self.connections = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1
        super().process_request(request, client_address)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    def reply(self, *replies: Reply) -> None:
        self.replies.extend(replies)


@contextlib.contextmanager
def recording_server() -> Iterator[RecordingServer]:
    server = RecordingServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class RawServer:
    port: int
    connections: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def reset(conn: socket.socket) -> None:
    """Close with SO_LINGER 0, so the peer sees a TCP reset instead of an orderly close."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


@contextlib.contextmanager
def raw_server(behave: Callable[[socket.socket], None]) -> Iterator[RawServer]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.05)
    server = RawServer(listener.getsockname()[1])
    stop = threading.Event()
    open_connections: list[socket.socket] = []

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            server.connections += 1
            open_connections.append(conn)
            threading.Thread(target=_run, args=(conn,), daemon=True).start()

    def _run(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            behave(conn)

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()
        for conn in open_connections:
            with contextlib.suppress(OSError):
                conn.close()


@dataclass(frozen=True)
class TimeSyncServer:
    """Where the project's own TimeSync server listens, and its database (for seeding users)."""

    base_url: str
    database_url: str
