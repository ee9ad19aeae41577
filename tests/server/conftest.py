"""Fixtures for the black-box HTTP tests of ``pymesync.server``.

* ``server``: a fresh server with a fresh database per test (SQLite; also PostgreSQL when
  ``TIMESYNC_TEST_POSTGRES_URL`` names a superuser URL).
* ``api``: an :class:`Api` on ``/v1`` of that server; ``api_v0`` the same on ``/v0``.
* ``world``: the seeded fixture set of :func:`helpers.seed`.
* ``start_server``: a factory for servers with other settings (``token_lifetime=1``, ...).
* ``shared_server`` / ``shared_api``: one server per test module, for the large table-driven
  tests that create their own uniquely named objects.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from .helpers import ADMIN, Api, World, make_api, seed

POSTGRES_URL = os.environ.get("TIMESYNC_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@contextlib.contextmanager
def fresh_database(backend: str) -> Iterator[str | None]:
    """None for SQLite (``serve`` makes a fresh file); a new PostgreSQL database otherwise."""
    if backend == "sqlite":
        yield None
        return
    import psycopg

    assert POSTGRES_URL is not None
    name = f"t_{secrets.token_hex(6)}"
    admin_url = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(POSTGRES_URL, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def running_server(backend: str, **kwargs: Any) -> Iterator[Any]:
    from pymesync.server.testing import serve

    kwargs.setdefault("admin", ADMIN)
    with fresh_database(backend) as url, serve(database_url=url, **kwargs) as srv:
        yield srv


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(backend: str) -> Iterator[Any]:
    with running_server(backend) as srv:
        yield srv


@pytest.fixture
def api(server: Any) -> Iterator[Api]:
    client = make_api(server, "v1")
    yield client
    client.close()


@pytest.fixture
def api_v0(server: Any, api: Api) -> Iterator[Api]:
    client = api.with_version("v0")
    yield client
    client.close()


@pytest.fixture(params=["v0", "v1"])
def vapi(request: pytest.FixtureRequest, api: Api) -> Iterator[Api]:
    """The same server under both version prefixes (Rec 1.1)."""
    client = api.with_version(request.param)
    yield client
    client.close()


@pytest.fixture
def world(api: Api) -> World:
    return seed(api)


@pytest.fixture
def start_server(backend: str) -> Iterator[Callable[..., Api]]:
    """Start extra servers with custom settings: ``start_server(token_lifetime=1)`` -> Api."""
    stack = contextlib.ExitStack()

    def start(**kwargs: Any) -> Api:
        srv = stack.enter_context(running_server(backend, **kwargs))
        client = make_api(srv)
        client.server = srv  # type: ignore[attr-defined]
        stack.callback(client.close)
        return client

    with stack:
        yield start


@pytest.fixture(scope="module", params=BACKENDS)
def shared_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    with running_server(str(request.param)) as srv:
        yield srv


@pytest.fixture(scope="module")
def shared_api(shared_server: Any) -> Iterator[Api]:
    client = make_api(shared_server)
    yield client
    client.close()


@pytest.fixture(scope="module")
def shared_world(shared_api: Api) -> World:
    """The seeded fixture set on the module's shared server.

    Only for tests that do not change it: failing requests, reads, and new uniquely named objects.
    """
    return seed(shared_api)
