"""Fixtures for the legacy ``TimeSync`` tests: real servers on loopback, no mocking, only sockets.

- ``recording_server``: an HTTP/1.1 keep-alive server that records every request and counts accepted
  TCP connections; tests queue the replies it sends (see ``legacy_servers``).
- ``raw_server``: ``raw_server(behave)`` accepts connections and runs ``behave(conn)`` on each, to
  misbehave on purpose (stall, reset, send garbage).
- ``closed_port``: a loopback port with nothing listening.
- ``timesync``: the project's own TimeSync server with a fresh database, one per module.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator

import legacy_servers
import pytest
from legacy_servers import RawServer, RecordingServer, TimeSyncServer


@pytest.fixture
def recording_server() -> Iterator[RecordingServer]:
    with legacy_servers.recording_server() as server:
        yield server


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], RawServer]]:
    with contextlib.ExitStack() as stack:
        yield lambda behave: stack.enter_context(legacy_servers.raw_server(behave))


@pytest.fixture
def closed_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture(scope="module")
def timesync() -> Iterator[TimeSyncServer]:
    """The project's own TimeSync server with an ``admin``/``adminpass`` site admin."""
    from pymesync.server.testing import serve

    with serve(database_url=None, token_lifetime=1800.0, admin=("admin", "adminpass")) as srv:
        yield TimeSyncServer(srv.base_url, srv.database_url)
