"""Fixtures of the web page's tests: a real server (SQLite, and PostgreSQL when the suite has it)
with the API tests' seeded world, and a form-posting client per user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from pymesync.server.testing import serve
from server.conftest import BACKENDS, fresh_database
from server.helpers import ADMIN, PASSWORD, Api, World, make_api, seed

from .client import WebClient


@dataclass
class Site:
    server: Any
    api: Api
    world: World

    def client(self) -> WebClient:
        parts = urlsplit(self.server.root_url)
        assert parts.hostname is not None and parts.port is not None
        return WebClient(parts.hostname, parts.port)

    def signed_in(self, username: str) -> WebClient:
        client = self.client()
        client.sign_in(username, ADMIN[1] if username == ADMIN[0] else PASSWORD)
        return client


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def site(backend: str) -> Iterator[Site]:
    with fresh_database(backend) as url, serve(database_url=url, admin=ADMIN) as srv:
        api = make_api(srv)
        try:
            yield Site(srv, api, seed(api))
        finally:
            api.close()


@pytest.fixture
def as_user(site: Site) -> Callable[[str], WebClient]:
    return site.signed_in
