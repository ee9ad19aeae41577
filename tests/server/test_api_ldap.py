"""``POST /login`` with ``auth.type: "ldap"`` against a real OpenLDAP slapd (docs/server.md, "LDAP login")."""

from __future__ import annotations

import dataclasses
import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from pymesync.server import ldap, schema, storage
from pymesync.server.ldap import LdapSettings
from pymesync.server.testing import create_user

from .helpers import Api, error
from .ldap_directory import PEOPLE, SERVICE_DN, SERVICE_PASSWORD, Directory, slapd_binary

pytestmark = pytest.mark.skipif(
    slapd_binary() is None, reason="needs OpenLDAP's slapd (Debian: apt-get install slapd ldap-utils)"
)

#: uid: (directory password, cn, mail). ``alice`` and ``dora`` are also TimeSync users; ``dora``
#: has another local password; ``bob`` is only in the directory.
PEOPLE_IN_DIRECTORY = {
    "alice": ("alice-ldap-pw", "Alice Liddell", "alice@example.org"),
    "bob": ("bob-ldap-pw", "Bob Builder", "bob@example.org"),
    "dora": ("dora-ldap-pw", "Dora Explorer", "dora@example.org"),
}
INCORRECT = error(401, "Authentication failure", "Incorrect username or password")
#: Usernames that would change a DN or a filter if they reached one unescaped.
INJECTIONS = [
    "*",
    "a*",
    "alice)(uid=*",
    "*)(objectClass=*",
    "alice\\",
    "alice,ou=people",
    "uid=alice",
    "al=ice",
]


@pytest.fixture(scope="module")
def directory() -> Iterator[Directory]:
    running = Directory(PEOPLE_IN_DIRECTORY)
    running.start()
    yield running
    running.remove()


def bind_dn_settings(directory: Directory, **overrides: Any) -> LdapSettings:
    return LdapSettings(url=directory.url, bind_dn=f"uid={{username}},{PEOPLE}", **overrides)


def search_settings(directory: Directory, **overrides: Any) -> LdapSettings:
    return LdapSettings(
        url=directory.url,
        search_base=PEOPLE,
        service_dn=SERVICE_DN,
        service_password=SERVICE_PASSWORD,
        timeout=2.5,
        **overrides,
    )


LOCATORS = {"bind-dn": bind_dn_settings, "search": search_settings}


def ldap_server(start_server: Callable[..., Api], settings: LdapSettings) -> Api:
    api = start_server(ldap_settings=settings)
    url = api.server.database_url  # type: ignore[attr-defined]
    create_user(url, "alice", "alice-local-unused-pw")
    create_user(url, "dora", "dora-local-pw")
    return api


def _user_row(api: Api, username: str) -> Any:
    engine = storage.create_engine(api.server.database_url)  # type: ignore[attr-defined]
    try:
        with storage.transaction(engine) as connection:
            return connection.execute(
                sa.select(schema.users).where(schema.users.c.username == username)
            ).first()
    finally:
        engine.dispose()


@pytest.mark.parametrize("locate", LOCATORS)
def test_directory_password_logs_in_and_wrong_ones_do_not(
    start_server: Callable[..., Api], directory: Directory, locate: str
) -> None:
    api = ldap_server(start_server, LOCATORS[locate](directory))
    resp = api.login("alice", "alice-ldap-pw", auth_type="ldap")
    assert resp.status == 200, resp.json
    me = api.get("/users/alice", resp.json["token"])
    assert me.status == 200 and me.json["username"] == "alice"
    assert api.login("alice", "wrong", auth_type="ldap").json == INCORRECT
    assert api.login("alice", "alice-local-unused-pw", auth_type="ldap").json == INCORRECT
    assert api.login("nobody", "alice-ldap-pw", auth_type="ldap").json == INCORRECT
    # bob's directory password is right, but TimeSync does not know bob (refuse is the default)
    assert api.login("bob", "bob-ldap-pw", auth_type="ldap").json == INCORRECT
    assert _user_row(api, "bob") is None


@pytest.mark.parametrize("locate", LOCATORS)
def test_first_login_creates_the_user_when_the_operator_chose_so(
    start_server: Callable[..., Api], directory: Directory, locate: str
) -> None:
    api = ldap_server(start_server, LOCATORS[locate](directory, create_users=True))
    assert api.login("bob", "wrong", auth_type="ldap").json == INCORRECT
    assert _user_row(api, "bob") is None  # a failed bind creates nothing
    token = api.login("bob", "bob-ldap-pw", auth_type="ldap").json["token"]
    bob = api.get("/users/bob", token).json
    assert (bob["display_name"], bob["email"]) == ("Bob Builder", "bob@example.org")
    assert (bob["site_admin"], bob["site_manager"], bob["site_spectator"]) == (False, False, False)
    assert api.login("bob", "bob-ldap-pw", auth_type="ldap").status == 200  # the second login finds him
    # the created user has no local password that any password login could match
    assert api.login("bob", "bob-ldap-pw").json == INCORRECT
    assert api.login("bob", "!ldap").json == INCORRECT


def test_a_user_in_both_uses_the_check_of_the_auth_type_sent(
    start_server: Callable[..., Api], directory: Directory
) -> None:
    """Type ``password`` compares the local hash, type ``ldap`` binds to the directory."""
    api = ldap_server(start_server, bind_dn_settings(directory))
    assert api.login("dora", "dora-local-pw").status == 200
    assert api.login("dora", "dora-ldap-pw").json == INCORRECT
    assert api.login("dora", "dora-ldap-pw", auth_type="ldap").status == 200
    assert api.login("dora", "dora-local-pw", auth_type="ldap").json == INCORRECT


def test_a_deleted_user_cannot_log_in_through_the_directory(
    start_server: Callable[..., Api], directory: Directory
) -> None:
    api = ldap_server(start_server, bind_dn_settings(directory, create_users=True))
    assert api.delete("/users/alice", api.admin_token()).status == 200
    assert api.login("alice", "alice-ldap-pw", auth_type="ldap").json == INCORRECT
    assert _user_row(api, "alice").deleted_at is not None  # not recreated either


@pytest.mark.parametrize("locate", LOCATORS)
def test_usernames_that_could_inject_are_refused_before_any_ldap_call(
    start_server: Callable[..., Api], directory: Directory, locate: str
) -> None:
    """With the directory's own password for alice: never a token. A second server points at a
    port where nothing listens, so its 401 (not 503) shows that no LDAP call was made."""
    settings = LOCATORS[locate](directory, create_users=True)
    api = ldap_server(start_server, settings)
    nowhere = ldap_server(start_server, dataclasses.replace(settings, url="ldap://127.0.0.1:9"))
    assert nowhere.login("alice", "alice-ldap-pw", auth_type="ldap").status == 503
    for username in INJECTIONS:
        assert api.login(username, "alice-ldap-pw", auth_type="ldap").json == INCORRECT, username
        assert nowhere.login(username, "alice-ldap-pw", auth_type="ldap").json == INCORRECT, username
        assert _user_row(api, username) is None


def test_a_nul_in_the_username_never_reaches_the_directory(
    start_server: Callable[..., Api], directory: Directory
) -> None:
    api = ldap_server(start_server, bind_dn_settings(directory))
    body = {"auth": {"type": "ldap", "username": "alice\x00", "password": "alice-ldap-pw"}}
    resp = api.post_raw("/login", json.dumps(body).encode())
    assert resp.status == 400 and resp.json["error"] == "Bad object"


def test_an_empty_password_is_refused_before_binding(
    start_server: Callable[..., Api], directory: Directory
) -> None:
    """An empty-password simple bind is an unauthenticated bind, which slapd answers with success."""
    api = ldap_server(start_server, bind_dn_settings(directory))
    body = {"auth": {"type": "ldap", "username": "alice", "password": ""}}
    assert api.post_raw("/login", json.dumps(body).encode()).json == error(
        401, "Authentication failure", "Missing credentials"
    )
    # and below the route: no bind at all, so a directory that is down is not even noticed
    down = dataclasses.replace(bind_dn_settings(directory), url="ldap://127.0.0.1:9")
    assert ldap.authenticate(down, "alice", "") is None


def test_a_directory_that_is_down_answers_503_and_password_logins_keep_working(
    start_server: Callable[..., Api],
) -> None:
    stopping = Directory(PEOPLE_IN_DIRECTORY)
    stopping.start()
    try:
        api = ldap_server(start_server, bind_dn_settings(stopping))
        assert api.login("alice", "alice-ldap-pw", auth_type="ldap").status == 200
        stopping.stop()
        started = time.perf_counter()
        resp = api.login("alice", "alice-ldap-pw", auth_type="ldap")
        elapsed = time.perf_counter() - started
        assert resp.status == 503 and resp.header("Retry-After") == "5"
        assert resp.json == error(
            503, "Service unavailable", "The LDAP directory cannot be reached; try again later"
        )
        assert elapsed < 2, elapsed  # a refused connection is answered at once, not after the timeout
        assert api.login("dora", "dora-local-pw").status == 200
        assert api.login("admin", "adminpass").status == 200
    finally:
        stopping.remove()


@pytest.fixture(scope="module")
def tls_directory() -> Iterator[Directory]:
    running = Directory(PEOPLE_IN_DIRECTORY, tls=True)
    running.start()
    yield running
    running.remove()


@pytest.mark.parametrize("backend", ["sqlite"])  # TLS does not depend on the database
@pytest.mark.parametrize(
    ("transport", "trust", "status"),
    [
        ("starttls", "private CA", 200),
        ("ldaps", "private CA", 200),
        ("starttls", "default", 503),  # verification is on by default: the system CAs do not know this one
        ("ldaps", "default", 503),
        ("starttls", "no verification", 200),
    ],
)
def test_tls_verifies_the_directory_certificate(
    start_server: Callable[..., Api],
    tls_directory: Directory,
    transport: str,
    trust: str,
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = tls_directory.tls_url if transport == "ldaps" else tls_directory.url
    assert url is not None
    settings = LdapSettings(
        url=url,
        bind_dn=f"uid={{username}},{PEOPLE}",
        start_tls=transport == "starttls",
        ca_file=tls_directory.ca_file if trust == "private CA" else None,
        verify=trust != "no verification",
        timeout=2,
    )
    api = ldap_server(start_server, settings)
    assert api.login("alice", "alice-ldap-pw", auth_type="ldap").status == status
    if status == 200:
        assert api.login("alice", "wrong", auth_type="ldap").json == INCORRECT
    else:
        assert "CERTIFICATE_VERIFY_FAILED" in caplog.text


def test_a_directory_that_never_answers_is_given_up_after_the_timeout(
    start_server: Callable[..., Api],
) -> None:
    """A listening socket that is never read: the TCP connection opens, the bind gets no answer."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        settings = LdapSettings(
            url=f"ldap://127.0.0.1:{silent.getsockname()[1]}", bind_dn="uid={username},dc=x", timeout=1
        )
        api = ldap_server(start_server, settings)
        started = time.perf_counter()
        resp = api.login("alice", "alice-ldap-pw", auth_type="ldap")
        elapsed = time.perf_counter() - started
    assert resp.status == 503 and resp.json["text"] == "The LDAP directory cannot be reached; try again later"
    assert 0.9 < elapsed < 3, elapsed


def test_ldap_is_refused_where_it_is_not_configured(start_server: Callable[..., Api]) -> None:
    api = start_server()
    assert api.login("admin", "adminpass", auth_type="ldap").json == error(
        401, "Bad query value", "ldap is not a valid authentication type"
    )
