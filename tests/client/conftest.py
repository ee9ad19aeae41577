"""Fixtures for the pythonic clients: the project's own server on loopback, and small misbehaving servers.

- ``server``: one TimeSync server per module (fresh SQLite), admin ``admin``/``adminpass``;
- ``client`` / ``aclient``: a logged-in-on-demand admin :class:`Client` / :class:`AsyncClient`;
- ``either``: the same tests for both colours: the sync client, or the async client seen through
  :class:`AsyncAsSync` (every call really goes through the async client, on a loop in another thread);
- ``unique``: a fresh lowercase slug per call, so tests share a module server without clashing;
- ``raw_server``: a socket server that hands each accepted connection to a test-supplied function;
- ``proxy``: a TCP proxy in front of a server whose behaviour per request a test can change.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pymesync import AsyncClient, Client
from pymesync.server.testing import RunningServer, serve
from raw_http import read_request

ADMIN = ("admin", "adminpass")


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve(admin=ADMIN) as running:
        yield running


@pytest.fixture
def client(server: RunningServer) -> Iterator[Client]:
    with Client(server.base_url, username=ADMIN[0], password=ADMIN[1]) as opened:
        yield opened


@pytest.fixture
async def aclient(server: RunningServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(server.base_url, username=ADMIN[0], password=ADMIN[1]) as opened:
        yield opened


_counter = itertools.count()


@pytest.fixture
def unique() -> Callable[[str], str]:
    return lambda prefix: f"{prefix}-{next(_counter)}"


class LoopThread:
    """An event loop running in a daemon thread, to call coroutines from synchronous test code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class _CollectionAsSync:
    def __init__(self, loop: LoopThread, inner: Any) -> None:
        self._loop = loop
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)
        if name in ("create_many",):
            return lambda *args, **kwargs: self._loop.run(_collect(method(*args, **kwargs)))
        return lambda *args, **kwargs: self._loop.run(method(*args, **kwargs))

    def __call__(self, **filters: Any) -> _CollectionAsSync:
        return _CollectionAsSync(self._loop, self._inner(**filters))

    def __getitem__(self, ident: Any) -> Any:
        return self._loop.run(_await(self._inner[ident]))

    def __contains__(self, ident: Any) -> bool:
        return bool(self._loop.run(self._inner.contains(ident)))

    def __iter__(self) -> Iterator[Any]:
        return iter(self._loop.run(_collect(self._inner)))


async def _collect(items: Any) -> list[Any]:
    return [item async for item in items]


async def _await(awaitable: Any) -> Any:
    return await awaitable


class AsyncAsSync:
    """The async client behind the sync client's interface, so one test body checks both colours."""

    def __init__(self, loop: LoopThread, inner: AsyncClient) -> None:
        self._loop = loop
        self.inner = inner
        for name in ("times", "projects", "activities", "users"):
            setattr(self, name, _CollectionAsSync(loop, getattr(inner, name)))

    @property
    def username(self) -> str | None:
        return self.inner.username

    @property
    def token(self) -> str | None:
        return self.inner.token

    def login(self) -> None:
        self._loop.run(self.inner.login())

    def close(self) -> None:
        self._loop.run(self.inner.aclose())


@pytest.fixture(scope="module")
def loop_thread() -> Iterator[LoopThread]:
    running = LoopThread()
    yield running
    running.stop()


ClientFactory = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def make_client(request: pytest.FixtureRequest, loop_thread: LoopThread) -> Iterator[ClientFactory]:
    """``make_client(baseurl, **options)``: a sync client, or an async one behind the sync interface."""
    made: list[Any] = []

    def make(baseurl: str, **options: Any) -> Any:
        if request.param == "sync":
            opened: Any = Client(baseurl, **options)
        else:
            opened = AsyncAsSync(loop_thread, loop_thread.run(_construct(baseurl, options)))
        made.append(opened)
        return opened

    yield make
    for opened in made:
        opened.close()


async def _construct(baseurl: str, options: dict[str, Any]) -> AsyncClient:
    return AsyncClient(baseurl, **options)


@pytest.fixture
def either(make_client: ClientFactory, server: RunningServer) -> Any:
    return make_client(server.base_url, username=ADMIN[0], password=ADMIN[1])


# ------------------------------------------------------------------------------------------------
# Misbehaving servers


@dataclass
class RawServer:
    """Accepts connections on loopback and runs ``handler(connection)`` for each in a thread."""

    handler: Callable[[socket.socket], None]
    listener: socket.socket = field(default_factory=socket.socket)
    connections: list[socket.socket] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/v1"

    def start(self) -> None:
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.handler(connection)

    def stop(self) -> None:
        self.listener.close()
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], RawServer]]:
    started: list[RawServer] = []

    def start(handler: Callable[[socket.socket], None]) -> RawServer:
        running = RawServer(handler)
        running.start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


class Proxy:
    """Forwards HTTP requests one by one to ``upstream``; ``decide(request_bytes)`` picks what to do.

    ``decide`` returns ``"forward"`` (pass the answer back), ``"swallow"`` (forward, so the server acts, but
    never answer: the client times out) or ``"drop"`` (close without forwarding).
    """

    def __init__(self, upstream: RunningServer) -> None:
        self.upstream = upstream
        self.decide: Callable[[bytes], str] = lambda request: "forward"
        self.requests: list[bytes] = []
        self.raw = RawServer(self._handle)
        self.raw.start()
        self.base_url = self.raw.base_url

    def _handle(self, connection: socket.socket) -> None:
        with socket.create_connection(("127.0.0.1", self.upstream.port)) as backend:
            while True:
                request = read_request(connection)
                if not request:
                    return
                self.requests.append(request)
                action = self.decide(request)
                if action == "drop":
                    return
                backend.sendall(request)
                response = _read_response(backend)
                if action == "swallow":
                    threading.Event().wait(30)
                    return
                connection.sendall(response)


def _read_response(backend: socket.socket) -> bytes:
    return read_request(backend)  # same framing: headers, then a Content-Length body


@pytest.fixture
def proxy(server: RunningServer) -> Iterator[Proxy]:
    running = Proxy(server)
    yield running
    running.raw.stop()
