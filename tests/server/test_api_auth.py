"""POST /login, the token format and token checks (API doc 2)."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from pymesync.server import auth, cli, schema, storage

from .helpers import BAD_TOKEN, MISSING_CREDENTIALS, PASSWORD, Api, World, error, q

_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def _decode(part: str) -> bytes:
    assert _B64.fullmatch(part), part
    assert len(part) % 4 == 0, "standard base64 with padding"
    return base64.b64decode(part, validate=True)


def _auth_failure(text: str) -> dict:
    return error(401, "Authentication failure", text)


@pytest.mark.parametrize("version", ["v0", "v1"])
def test_login_returns_only_a_token(shared_api: Api, version: str) -> None:
    api = shared_api
    resp = api.with_version(version).login("admin", "adminpass")
    assert resp.status == 200
    assert list(resp.json) == ["token"]
    assert isinstance(resp.json["token"], str)


def test_token_format_is_the_reference_one(shared_api: Api) -> None:
    api = shared_api
    before = time.time() * 1000
    token = api.login("admin", "adminpass").json["token"]
    after = time.time() * 1000
    header, payload, signature = token.split(".")
    assert _decode(header) == b'{"typ":"JWT","alg":"HMAC-SHA512"}'
    claims = json.loads(_decode(payload))
    assert set(claims) == {"iss", "sub", "exp", "iat"}
    assert claims["sub"] == "admin"
    assert isinstance(claims["iat"], int) and isinstance(claims["exp"], int)
    assert claims["exp"] - claims["iat"] == 1_800_000
    assert before - 2000 <= claims["iat"] <= after + 2000
    assert len(_decode(signature)) == 64  # HMAC-SHA512


def test_token_lifetime_setting_sets_exp(start_server: Callable[..., Api]) -> None:
    api = start_server(token_lifetime=90.0)
    token = api.login("admin", "adminpass").json["token"]
    claims = json.loads(_decode(token.split(".")[1]))
    assert claims["exp"] - claims["iat"] == 90_000


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, _auth_failure("Missing credentials")),
        ({"object": {}}, _auth_failure("Missing credentials")),
        ({"auth": {}}, _auth_failure("Authentication type required")),
        (
            {"auth": {"username": "admin", "password": "adminpass"}},
            _auth_failure("Authentication type required"),
        ),
        (
            {"auth": {"type": "token", "username": "admin", "password": "adminpass"}},
            error(401, "Bad query value", "token is not a valid authentication type"),
        ),
        (
            {"auth": {"type": "ldap", "username": "admin", "password": "adminpass"}},
            error(401, "Bad query value", "ldap is not a valid authentication type"),
        ),
        (
            {"auth": {"type": "kerberos"}},
            error(401, "Bad query value", "kerberos is not a valid authentication type"),
        ),
        ({"auth": {"type": "password"}}, _auth_failure("Missing credentials")),
        ({"auth": {"type": "password", "username": "admin"}}, _auth_failure("Missing credentials")),
        ({"auth": {"type": "password", "password": "adminpass"}}, _auth_failure("Missing credentials")),
        (
            {"auth": {"type": "password", "username": "admin", "password": "wrong"}},
            _auth_failure("Incorrect username or password"),
        ),
        (
            {"auth": {"type": "password", "username": "nobody", "password": "adminpass"}},
            _auth_failure("Incorrect username or password"),
        ),
        (
            {"auth": {"type": "password", "username": "Admin", "password": "adminpass"}},
            _auth_failure("Incorrect username or password"),
        ),
    ],
)
def test_login_errors(shared_api: Api, body: dict, expected: dict) -> None:
    api = shared_api
    resp = api.post_raw("/login", json.dumps(body).encode())
    assert resp.status == expected["status"]
    assert resp.json == expected


@pytest.mark.parametrize("auth_type", [5, None, True, ["password"], {"a": 1}])
def test_login_with_a_non_string_auth_type_is_refused(shared_api: Api, auth_type: object) -> None:
    api = shared_api
    body = {"auth": {"type": auth_type, "username": "admin", "password": "adminpass"}}
    resp = api.post_raw("/login", json.dumps(body).encode())
    assert resp.status == 401
    assert resp.json["status"] == 401
    assert "token" not in resp.json


def test_unknown_auth_type_is_refused_even_after_a_valid_login(shared_api: Api) -> None:
    api = shared_api
    assert api.login("admin", "adminpass").status == 200
    resp = api.login("admin", "adminpass", auth_type="passwd")
    assert resp.json == error(401, "Bad query value", "passwd is not a valid authentication type")


def test_a_failed_login_does_not_lock_the_account(world: World) -> None:
    api = world.api
    for _ in range(3):
        assert api.login("member", "wrong").status == 401
    assert api.login("member", PASSWORD).status == 200


def test_inactive_user_can_log_in(world: World) -> None:
    api = world.api
    assert api.post("/users/loner", {"active": False}, api.admin_token()).status == 200
    resp = api.login("loner", PASSWORD)
    assert resp.status == 200
    assert api.get("/times", resp.json["token"]).status == 200


def test_deleted_user_cannot_log_in_and_old_token_stops_working(world: World) -> None:
    api = world.api
    old_token = world.token("member")
    assert api.get("/times", old_token).status == 200
    assert api.delete("/users/member", api.admin_token()).status == 200
    assert api.login("member", PASSWORD).json == _auth_failure("Incorrect username or password")
    assert api.get("/times", old_token).json == BAD_TOKEN
    assert api.post("/times", {"duration": 1}, old_token).json == BAD_TOKEN
    # A site admin restores the user on purpose (docs/server.md): login works again, but the tokens
    # from before the delete stay void (issue 13).
    assert api.post("/users/member", {"deleted_at": None}, api.admin_token()).status == 200
    fresh = api.login("member", PASSWORD).json["token"]
    assert api.get("/times", fresh).status == 200
    assert api.get("/times", old_token).json == BAD_TOKEN


# -- password changes void older tokens (issue 13, finding 4) --------------------------------------


def _engine(server: Any) -> sa.Engine:
    return storage.create_engine(server.database_url)


def _changed_at(server: Any, username: str) -> int:
    """What the server recorded for the user's last password change, in epoch ms."""
    engine = _engine(server)
    try:
        with storage.transaction(engine) as connection:
            query = (
                sa.select(schema.credential_changes.c.changed_at)
                .join(schema.users, schema.users.c.id == schema.credential_changes.c.user_id)
                .where(schema.users.c.username == username)
            )
            return int(connection.execute(query).scalar_one())
    finally:
        engine.dispose()


def _token_issued_at(server: Any, username: str, issued_at: int) -> str:
    """A token the server itself could have issued at ``issued_at`` (its secret is in its database)."""
    engine = _engine(server)
    try:
        secret = storage.token_secret(engine)
    finally:
        engine.dispose()
    return auth.make_token(secret, "timesync", username, lifetime=1800, issued_at=issued_at)


@pytest.mark.parametrize("changed_by", ["self", "admin"])
def test_password_change_voids_older_tokens(server: Any, world: World, changed_by: str) -> None:
    api = world.api
    old_token = world.token("member")
    assert api.get("/times", old_token).status == 200
    changer = old_token if changed_by == "self" else api.admin_token()
    assert api.post("/users/member", {"password": "brand new"}, changer).status == 200
    assert api.get("/times", old_token).json == BAD_TOKEN
    assert api.post("/times/" + world.times["m1"]["uuid"], {"notes": "x"}, old_token).json == BAD_TOKEN
    assert api.delete("/times/" + world.times["m1"]["uuid"], old_token).json == BAD_TOKEN
    assert api.login("member", PASSWORD).json == _auth_failure("Incorrect username or password")
    fresh = api.login("member", "brand new").json["token"]
    assert api.get("/times", fresh).status == 200
    # other users' tokens, the admin's included, are untouched
    assert api.get("/times", world.token("member2")).status == 200
    assert api.get("/times", api.admin_token()).status == 200
    # a token from the very millisecond of the change may predate it: refused; one after it works
    changed_at = _changed_at(server, "member")
    assert api.get("/times", _token_issued_at(server, "member", changed_at)).json == BAD_TOKEN
    assert api.get("/times", _token_issued_at(server, "member", changed_at + 1)).status == 200


def test_updates_without_a_password_keep_tokens(world: World) -> None:
    api = world.api
    token = world.token("member")
    assert api.post("/users/member", {"display_name": "Still Me"}, token).status == 200
    assert api.post("/users/member", {"display_name": "Still Me"}, api.admin_token()).status == 200
    assert api.get("/times", token).status == 200


def test_login_right_after_a_change_gets_a_token_that_works(server: Any, world: World) -> None:
    """Even when the change is stamped later than this server's clock (the same millisecond, or another
    machine whose clock runs ahead), a login after it gets a token newer than the change."""
    api = world.api
    assert api.post("/users/member", {"password": "brand new"}, api.admin_token()).status == 200
    ahead = int(time.time() * 1000) + 60_000
    engine = _engine(server)
    try:
        with storage.transaction(engine, write=True) as connection:
            connection.execute(sa.update(schema.credential_changes).values(changed_at=ahead))
    finally:
        engine.dispose()
    token = api.login("member", "brand new").json["token"]
    assert json.loads(_decode(token.split(".")[1]))["iat"] == ahead + 1
    assert api.get("/times", token).status == 200


def test_cli_set_password_voids_older_tokens(
    server: Any, world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = world.api
    old_token = world.token("member")
    monkeypatch.setenv("TIMESYNC_USER_PASSWORD", "from the shell")
    assert cli.main(["user", "set-password", "member", "--database", server.database_url]) == 0
    assert "Changed the password of member" in capsys.readouterr().out
    assert api.get("/times", old_token).json == BAD_TOKEN
    assert api.get("/times", api.login("member", "from the shell").json["token"]).status == 200


def test_expired_token_is_refused(start_server: Callable[..., Api]) -> None:
    api = start_server(token_lifetime=1.0)
    token = api.login("admin", "adminpass").json["token"]
    assert api.get("/users", token).status == 200
    time.sleep(1.6)
    assert api.get("/users", token).json == BAD_TOKEN
    assert api.post("/activities", {"name": "Late", "slug": "late"}, token).json == BAD_TOKEN
    assert api.delete("/users/admin", token).json == BAD_TOKEN


def _tokens_with_plus(api: Api) -> str:
    for _ in range(40):
        token = api.login("admin", "adminpass").json["token"]
        if "+" in token:
            return token
        time.sleep(0.002)
    pytest.fail("no token with a + in 40 logins")


def test_plus_in_unencoded_query_token_arriving_as_space_still_works(shared_api: Api) -> None:
    api = shared_api
    token = _tokens_with_plus(api)
    assert api.raw("GET", f"/v1/users?token={token}").status == 200
    spaced = token.replace("+", "%20")
    assert api.raw("GET", f"/v1/users?token={spaced}").status == 200
    assert api.raw("GET", f"/v1/users?token={q(token)}").status == 200


def test_tampered_tokens_are_refused(shared_api: Api) -> None:
    api = shared_api
    token = api.login("admin", "adminpass").json["token"]
    header, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    claims = json.loads(_decode(payload))
    forged_payload = base64.b64encode(json.dumps({**claims, "sub": "someone"}).encode()).decode()
    longer = base64.b64encode(json.dumps({**claims, "exp": claims["exp"] + 10**9}).encode()).decode()
    none_header = base64.b64encode(b'{"typ":"JWT","alg":"none"}').decode()
    for bad in [
        f"{header}.{payload}.{flipped}",
        f"{header}.{forged_payload}.{signature}",
        f"{header}.{longer}.{signature}",
        f"{none_header}.{payload}.",
        f"{none_header}.{payload}.{signature}",
        f"{header}.{payload}",
        "garbage",
        "a.b.c",
        "",
        token + "x",
    ]:
        expected = MISSING_CREDENTIALS if bad == "" else BAD_TOKEN
        assert api.get("/users", bad).json == expected, bad
        assert api.post("/activities", {"name": "T", "slug": "t"}, bad).json == expected, bad


def test_token_from_another_server_is_refused(shared_api: Api, start_server: Callable[..., Api]) -> None:
    api = shared_api
    other = start_server()
    token = other.login("admin", "adminpass").json["token"]
    assert api.get("/users", token).json == BAD_TOKEN


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (None, MISSING_CREDENTIALS),
        ({}, _auth_failure("Authentication type required")),
        ({"token": "x"}, _auth_failure("Authentication type required")),
        (
            {"type": "password", "username": "admin", "password": "adminpass"},
            error(401, "Bad query value", "password is not a valid authentication type"),
        ),
        ({"type": "token"}, MISSING_CREDENTIALS),
        ({"type": "token", "token": "nope"}, BAD_TOKEN),
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/times",
        "/projects",
        "/activities",
        "/users",
        "/projects/gwm",
        "/users/admin",
        "/times/00000000-0000-0000-0000-000000000000",
    ],
)
def test_post_auth_block_checks(shared_api: Api, auth: dict | None, expected: dict, path: str) -> None:
    api = shared_api
    resp = api.post(path, {"name": "x"}, auth=auth)
    assert resp.status == 401
    assert resp.json == expected


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/times"),
        ("GET", "/times/00000000-0000-0000-0000-000000000000"),
        ("GET", "/projects"),
        ("GET", "/projects/gwm"),
        ("GET", "/activities"),
        ("GET", "/activities/dev"),
        ("GET", "/users"),
        ("GET", "/users/admin"),
        ("DELETE", "/times/00000000-0000-0000-0000-000000000000"),
        ("DELETE", "/projects/gwm"),
        ("DELETE", "/activities/dev"),
        ("DELETE", "/users/admin"),
    ],
)
def test_query_token_checks(shared_api: Api, method: str, path: str) -> None:
    api = shared_api
    assert api.request(method, path).json == MISSING_CREDENTIALS
    assert api.request(method, path, token="bad.to.ken").json == BAD_TOKEN
