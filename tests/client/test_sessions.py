"""Lazy login, re-login before expiry and after the server rejects a token, for both colours."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from pymesync import AuthenticationError, Client
from pymesync.server.testing import RunningServer, serve

from .conftest import ADMIN, ClientFactory, Proxy


@pytest.fixture(scope="module")
def short_server() -> Iterator[RunningServer]:
    """Tokens live one second here."""
    with serve(admin=ADMIN, token_lifetime=1.0) as running:
        yield running


@pytest.fixture
def short_proxy(short_server: RunningServer) -> Iterator[Proxy]:
    running = Proxy(short_server)
    yield running
    running.raw.stop()


def _logins(proxy: Proxy) -> int:
    return sum(request.startswith(b"POST /v1/login ") for request in proxy.requests)


def _rejections(proxy: Proxy) -> int:
    return len(proxy.requests) - _logins(proxy)


def test_construction_does_no_io() -> None:
    client = Client("http://127.0.0.1:9/v1", username="a", password="b")
    assert client.token is None
    client.close()


def test_logs_in_lazily_once(make_client: ClientFactory, short_proxy: Proxy) -> None:
    client = make_client(short_proxy.base_url, username=ADMIN[0], password=ADMIN[1])
    assert short_proxy.requests == []
    client.users["admin"]
    client.users["admin"]
    assert _logins(short_proxy) == 1 and len(short_proxy.requests) == 3


def test_logs_in_again_when_the_token_expires(
    make_client: ClientFactory, short_proxy: Proxy, unique: Any
) -> None:
    client = make_client(short_proxy.base_url, username=ADMIN[0], password=ADMIN[1])
    client.users["admin"]
    first = client.token
    time.sleep(1.2)
    slug = unique("after-expiry")
    created = client.activities.create(name=slug, slug=slug)
    assert created.slug == slug
    assert client.token != first
    assert _logins(short_proxy) == 2
    assert len(short_proxy.requests) == 4  # no request was refused: the renewal came first


def test_logs_in_again_when_the_server_rejects_the_token(
    make_client: ClientFactory, proxy: Proxy, unique: Any
) -> None:
    """A token the client cannot read (so cannot see expire) is refused; the POST is resent once."""
    client = make_client(proxy.base_url, username=ADMIN[0], password=ADMIN[1], token="opaque-stale-token")
    slug = unique("rejected")
    created = client.activities.create(name=slug, slug=slug)
    assert created.slug == slug
    posts = [r for r in proxy.requests if r.startswith(b"POST /v1/activities ")]
    assert len(posts) == 2 and _logins(proxy) == 1
    assert client.token != "opaque-stale-token"


def test_token_only_client_reports_the_rejection(
    make_client: ClientFactory, short_server: RunningServer
) -> None:
    with Client(short_server.base_url, username=ADMIN[0], password=ADMIN[1]) as helper:
        helper.login()
        token = helper.token
    client = make_client(short_server.base_url, token=token)
    client.users["admin"]
    time.sleep(1.2)
    with pytest.raises(AuthenticationError) as info:
        client.users["admin"]
    assert info.value.token_rejected and info.value.status == 401
    assert token is not None and token not in str(info.value)


def test_changing_our_own_password_keeps_the_client_working(
    make_client: ClientFactory, proxy: Proxy, unique: Any
) -> None:
    """The server voids tokens issued before a password change; the client logs in with the new one."""
    name = unique("changer")
    with Client(proxy.base_url, username=ADMIN[0], password=ADMIN[1]) as admin:
        admin.users.create(username=name, password="old password")
    client = make_client(proxy.base_url, username=name, password="old password")
    client.users[name]
    client.users.update(name, password="new password")
    assert client.users[name].username == name  # refused once, then a login with the new password
    logins = [r for r in proxy.requests if r.startswith(b"POST /v1/login ") and name.encode() in r]
    assert len(logins) == 2 and b"new password" in logins[-1]
    # a change of someone else's password leaves our credentials alone
    with Client(proxy.base_url, username=ADMIN[0], password=ADMIN[1]) as admin:
        admin.users.update(name, password="third password")
        assert admin.users[name].username == name


def test_needs_credentials_or_a_token() -> None:
    with pytest.raises(ValueError, match="username and password, a token"):
        Client("http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="both username and password"):
        Client("http://127.0.0.1:9/v1", username="a")
    with pytest.raises(ValueError, match="timeout"):
        Client("http://127.0.0.1:9/v1", token="t", timeout=0)
    with pytest.raises(ValueError, match="baseurl"):
        Client("ftp://example.com/v1", token="t")


def test_sync_client_closes_its_connections(proxy: Proxy) -> None:
    with Client(proxy.base_url, username=ADMIN[0], password=ADMIN[1]) as client:
        client.users["admin"]
        client.users["admin"]
        assert len(proxy.raw.connections) == 1  # kept alive
    assert client.users["admin"].username == "admin"  # a later call opens a new connection
    assert len(proxy.raw.connections) == 2
    client.close()


def _token(iat_ms: float, exp_ms: float) -> str:
    import base64
    import json

    def b64(data: object) -> str:
        return base64.b64encode(json.dumps(data).encode()).decode()

    return f"{b64({'typ': 'JWT'})}.{b64({'sub': 'admin', 'iat': iat_ms, 'exp': exp_ms})}.sig"


def _logged_in(token: str) -> Any:
    from pymesync._operations import Session
    from pymesync._wire import Response

    session = Session(username="admin", password="pw", auth_type="password", token=None)
    exchange = session.login()
    next(exchange)
    with pytest.raises(StopIteration):
        exchange.send(Response(200, "text/html", f'{{"token": "{token}"}}'.encode()))
    return session


def test_renewal_uses_the_token_lifetime_not_the_server_clock() -> None:
    """A server clock an hour behind ours must not make every fresh token look expired."""
    hour_ago_ms = (time.time() - 3600) * 1000
    session = _logged_in(_token(hour_ago_ms, hour_ago_ms + 1_800_000))
    assert not session._expiring()
    short = _logged_in(_token(hour_ago_ms, hour_ago_ms + 1000))
    time.sleep(1.0)
    assert short._expiring()


def test_one_caller_renews_while_the_others_keep_the_old_token() -> None:
    from pymesync._operations import Session
    from pymesync._wire import Request

    now_ms = time.time() * 1000
    expiring = _token(now_ms - 1_795_000, now_ms + 5_000)  # 30-minute token, 5 s left: inside the margin
    session = Session(username="admin", password="pw", auth_type="password", token=expiring)
    first = session.ready()
    assert isinstance(next(first), Request)  # this caller logs in...
    second = session.ready()
    with pytest.raises(StopIteration) as stop:
        next(second)
    assert stop.value.value == expiring  # ...and this one does not wait or log in too
    first.close()
    third = session.ready()
    assert isinstance(next(third), Request)  # an abandoned renewal does not block the next one


def test_password_function_is_called_only_when_a_login_is_needed(
    make_client: ClientFactory, server: RunningServer
) -> None:
    token = make_client(server.base_url, username=ADMIN[0], password=ADMIN[1])
    token.login()
    calls: list[int] = []

    def password() -> str:
        calls.append(1)
        return ADMIN[1]

    reuses = make_client(server.base_url, username=ADMIN[0], password=password, token=token.token)
    assert "admin" in reuses.users
    assert calls == []
    fresh = make_client(server.base_url, username=ADMIN[0], password=password)
    assert "admin" in fresh.users
    assert calls == [1]
