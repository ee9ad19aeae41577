"""/users: list, single, create echo, update in place, delete; password storage (API doc 2.1, 3.5, 5.4)."""

from __future__ import annotations

import datetime as dt
import string
import sys
from typing import Any

import bcrypt
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymesync.server import storage

from .helpers import (
    PASSWORD,
    USER_KEYS,
    Api,
    World,
    authz,
    bad_object,
    error,
    invalid_id,
    not_found,
    today,
    unique,
)


def _user(username: str, **changes: Any) -> dict[str, Any]:
    return {
        "username": username,
        "display_name": None,
        "email": None,
        "meta": None,
        "site_spectator": False,
        "site_manager": False,
        "site_admin": False,
        "active": True,
        "created_at": today(),
        "updated_at": None,
        "deleted_at": None,
        **changes,
    }


def _stored_password(database_url: str, username: str) -> str:
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return str(
                conn.execute(
                    sa.text("SELECT password FROM users WHERE username = :u"), {"u": username}
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_list_and_single(shared_world: World) -> None:
    world = shared_world
    resp = world.api.get("/users", world.token("loner"))
    assert resp.status == 200
    names = [u["username"] for u in resp.json]
    assert names[:9] == [
        "admin",
        "siteadmin",
        "sitemgr",
        "sitespec",
        "pm",
        "member",
        "member2",
        "spec",
        "loner",
    ]
    assert all(set(u) == USER_KEYS for u in resp.json)
    by_name = {u["username"]: u for u in resp.json}
    assert by_name["loner"] == _user("loner", meta="no roles")
    assert by_name["pm"] == _user("pm", display_name="Project Manager", email="pmgr@example.com")
    assert by_name["sitemgr"] == _user("sitemgr", site_manager=True)
    assert by_name["admin"]["site_admin"] is by_name["admin"]["site_manager"] is True
    assert world.api.get("/users/pm", world.token("loner")).json == by_name["pm"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("%21nv4l%7Cd", invalid_id("username", "!nv4l|d")),
        ("a%20b", invalid_id("username", "a b")),
        ("nobody", not_found("user")),
        ("Member", not_found("user")),
    ],
)
def test_single_errors(shared_world: World, path: str, expected: dict) -> None:
    assert shared_world.api.get(f"/users/{path}", shared_world.token("loner")).json == expected


def test_create_echo(shared_world: World) -> None:
    world = shared_world
    name = unique("newguy")
    resp = world.api.post("/users", {"username": name, "password": "newguy1234"}, world.token("admin"))
    assert resp.status == 200
    body = dict(resp.json)
    created = body.pop("created_at")
    assert isinstance(created, int)  # epoch milliseconds in this one response (5.4.2)
    assert dt.datetime.fromtimestamp(created / 1000, dt.timezone.utc).date().isoformat() == today()
    assert body == {k: v for k, v in _user(name).items() if k != "created_at"}
    assert world.api.get(f"/users/{name}", world.token("loner")).json == _user(name)


def test_create_full_echo_reports_active_true(shared_world: World) -> None:
    world = shared_world
    name = unique("full")
    obj = {
        "username": name,
        "password": "pw",
        "display_name": "Full User",
        "email": "full.user@example.com",
        "site_spectator": True,
        "site_manager": True,
        "site_admin": False,
        "active": False,
        "meta": "m",
    }
    resp = world.api.post("/users", obj, world.token("admin"))
    assert resp.status == 200
    body = {k: v for k, v in resp.json.items() if k != "created_at"}
    expected = {k: v for k, v in obj.items() if k != "password"}
    assert body == {**expected, "active": True, "updated_at": None, "deleted_at": None}
    got = world.api.get(f"/users/{name}", world.token("loner")).json
    assert got == {**_user(name), **expected, "active": False}
    assert "password" not in got


def _uf(field: str, expected: str, received: str) -> dict[str, Any]:
    return bad_object(f"Field {field} of user should be {expected} but was sent as {received}")


def _u(**changes: Any) -> dict[str, Any]:
    return {"username": "fresh", "password": "pw", **changes}


CREATE_ERRORS = [
    ("no-username", {"password": "pw"}, bad_object("The user is missing a username")),
    ("empty-username", _u(username=""), bad_object("The user is missing a username")),
    ("no-password", {"username": "fresh"}, bad_object("The user is missing a password")),
    ("empty-password", _u(password=""), bad_object("The user is missing a password")),
    ("username-before-password", {}, bad_object("The user is missing a username")),
    ("created_at", _u(created_at=5), bad_object("user does not have a created_at field")),
    ("updated_at", _u(updated_at="2015-01-01"), bad_object("user does not have a updated_at field")),
    ("deleted_at", _u(deleted_at=1), bad_object("user does not have a deleted_at field")),
    ("username-number", _u(username=5), _uf("username", "string", "number")),
    ("display-null", _u(display_name=None), _uf("display_name", "string", "null")),
    ("password-array", _u(password=["x"]), _uf("password", "string", "array")),
    ("email-number", _u(email=5), _uf("email", "string", "number")),
    ("spectator-string", _u(site_spectator="yes"), _uf("site_spectator", "boolean", "string")),
    ("manager-number", _u(site_manager=1), _uf("site_manager", "boolean", "number")),
    ("admin-null", _u(site_admin=None), _uf("site_admin", "boolean", "null")),
    ("active-string", _u(active="true"), _uf("active", "boolean", "string")),
    ("meta-object", _u(meta={}), _uf("meta", "string", "object")),
    ("display-before-password", _u(display_name=1, password=1), _uf("display_name", "string", "number")),
    ("spectator-before-meta", _u(meta=1, site_spectator=1), _uf("site_spectator", "boolean", "number")),
    ("username-bad", _u(username="bad name"), _uf("username", "valid username", "string")),
    ("username-symbols", _u(username="!nv4l|d"), _uf("username", "valid username", "string")),
    ("email-bad", _u(email="notanemail"), _uf("email", "valid email", "string")),
    ("username-before-email", _u(username="a b", email="x"), _uf("username", "valid username", "string")),
    ("unknown-field", _u(foo=1), bad_object("user does not have a foo field")),
    (
        "taken",
        _u(username="member"),
        error(409, "Username already exists", "username member already exists", ["member"]),
    ),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in CREATE_ERRORS], ids=[c[0] for c in CREATE_ERRORS]
)
def test_create_errors(shared_world: World, obj: dict, expected: dict) -> None:
    world = shared_world
    resp = world.api.post("/users", obj, world.token("admin"))
    assert resp.status == expected["status"]
    assert resp.json == expected
    assert world.api.get("/users/fresh", world.token("admin")).status == 404


def test_create_validation_before_authorization(shared_world: World) -> None:
    world = shared_world
    assert world.api.post("/users", {"password": "x"}, world.token("loner")).json == bad_object(
        "The user is missing a username"
    )
    assert world.api.post("/users", _u(), world.token("loner")).json == authz("loner", "create users")


def test_plaintext_password_is_stored_hashed_and_logs_in(server: Any, api: Api) -> None:
    resp = api.post("/users", {"username": "plain", "password": "newguy1234"}, api.admin_token())
    assert resp.status == 200
    stored = _stored_password(server.database_url, "plain")
    assert stored.startswith("$2")
    assert stored != "newguy1234"
    assert bcrypt.checkpw(b"newguy1234", stored.encode())
    assert api.login("plain", "newguy1234").status == 200
    assert api.login("plain", stored).status == 401


@pytest.mark.parametrize("prefix", [b"2a", b"2b"])
def test_client_bcrypt_hash_is_stored_unchanged(server: Any, api: Api, prefix: bytes) -> None:
    hashed = bcrypt.hashpw(b"hashed-pw", bcrypt.gensalt(4, prefix=prefix)).decode()
    assert api.post("/users", {"username": "hashed", "password": hashed}, api.admin_token()).status == 200
    assert _stored_password(server.database_url, "hashed") == hashed
    assert api.login("hashed", "hashed-pw").status == 200


def test_password_update_plaintext_and_hash(server: Any, world: World) -> None:
    api = world.api
    admin = api.admin_token()
    assert api.post("/users/member", {"password": "new_password"}, admin).status == 200
    stored = _stored_password(server.database_url, "member")
    assert stored.startswith("$2") and stored != "new_password"
    assert api.login("member", PASSWORD).status == 401
    # the member's tokens from before the change are void (issue 13); a new login's token works
    member = api.login("member", "new_password").json["token"]
    hashed = bcrypt.hashpw(b"third", bcrypt.gensalt(4)).decode()
    assert api.post("/users/member", {"password": hashed}, member).status == 200
    assert _stored_password(server.database_url, "member") == hashed
    assert api.login("member", "third").status == 200


def test_update_by_admin_answers_with_get_form(world: World) -> None:
    api = world.api
    obj = {
        "display_name": "Lone Wolf",
        "email": "lone.wolf@example.com",
        "meta": "changed",
        "active": False,
        "site_spectator": True,
        "site_manager": True,
        "site_admin": True,
    }
    resp = api.post("/users/loner", obj, api.admin_token())
    assert resp.status == 200
    assert resp.json == _user("loner", **obj, updated_at=today())
    assert api.get("/users/loner", world.token("member")).json == resp.json


def test_update_never_undeletes_implicitly(world: World) -> None:
    """Issue 13, finding 3: an update of a deleted user is 404 and leaves it deleted, even by an admin."""
    api = world.api
    admin = api.admin_token()
    assert api.delete("/users/loner", admin).status == 200
    before = api.get("/users/loner", admin, include_deleted="true").json
    for obj in ({}, {"display_name": "Returned"}, {"deleted_at": False}, {"deleted_at": ""}):
        assert api.post("/users/loner", obj, admin).json == not_found("user"), obj
    assert api.get("/users/loner", admin, include_deleted="true").json == before
    assert api.login("loner", PASSWORD).status == 401


def test_site_admin_restores_a_user_by_sending_deleted_at_null(world: World) -> None:
    api = world.api
    admin = api.admin_token()
    assert api.delete("/users/loner", admin).status == 200
    resp = api.post("/users/loner", {"deleted_at": None, "display_name": "Returned"}, admin)
    assert resp.json == _user("loner", display_name="Returned", meta="no roles", updated_at=today())
    assert api.get("/users/loner", admin).json == resp.json
    assert api.login("loner", PASSWORD).status == 200
    # on a user who is not deleted, deleted_at: null changes nothing
    assert api.post("/users/loner", {"deleted_at": None}, admin).json == resp.json


@pytest.mark.parametrize("who", ["sitemgr", "loner"])
def test_only_a_site_admin_may_restore(world: World, who: str) -> None:
    """A site manager cannot bring back a deleted admin (issue 13, finding 3)."""
    api = world.api
    admin = api.admin_token()
    api.create_user("admin2", site_admin=True)
    old_token = api.token("admin2")
    assert api.delete("/users/admin2", admin).status == 200
    before = api.get("/users/admin2", admin, include_deleted="true").json
    for obj in ({}, {"deleted_at": None}, {"email": "back@example.com"}):
        resp = api.post("/users/admin2", obj, world.token(who))
        if who == "loner":
            assert resp.json == authz("loner", "modify user admin2"), obj
        else:
            assert resp.json == not_found("user"), obj
    assert api.get("/users/admin2", admin, include_deleted="true").json == before
    assert api.login("admin2", PASSWORD).status == 401
    assert api.get("/users", old_token).status == 401


@pytest.mark.parametrize(
    ("target", "flags"), [("admin2", {"site_admin": True}), ("manager2", {"site_manager": True})]
)
@pytest.mark.parametrize(
    "obj", [{"email": "taken.over@example.com"}, {"site_spectator": True}, {"site_spectator": False}]
)
def test_site_manager_may_not_change_admins_or_managers(
    world: World, target: str, flags: dict, obj: dict
) -> None:
    """The rule of delete also holds for update: managers touch only plain users (issue 13, finding 3)."""
    api = world.api
    api.create_user(target, email="own@example.com", site_spectator=True, **flags)
    before = api.get(f"/users/{target}", api.admin_token()).json
    resp = api.post(f"/users/{target}", obj, world.token("sitemgr"))
    assert resp.json == authz("sitemgr", f"modify user {target}")
    assert api.get(f"/users/{target}", api.admin_token()).json == before
    # a plain user is still theirs to change, and the admin may change anyone
    assert api.post("/users/loner", obj, world.token("sitemgr")).status == 200
    assert api.post(f"/users/{target}", obj, api.admin_token()).status == 200


def test_failed_update_leaves_deleted_user_untouched(world: World) -> None:
    api = world.api
    admin = api.admin_token()
    assert api.delete("/users/loner", admin).status == 200
    before = api.get("/users/loner", admin, include_deleted="true").json
    assert api.post("/users/loner", {"email": "bad"}, admin).status == 400
    assert api.get("/users/loner", admin, include_deleted="true").json == before


UPDATE_ERRORS = [
    ("username", {"username": "x"}, bad_object("user does not have a username field")),
    ("created_at", {"created_at": 1}, bad_object("user does not have a created_at field")),
    ("deleted_at", {"deleted_at": "2015-01-01"}, bad_object("user does not have a deleted_at field")),
    ("email-bad", {"email": "notanemail"}, _uf("email", "valid email", "string")),
    ("email-number", {"email": 5}, _uf("email", "valid email", "number")),
    ("email-array", {"email": ["a"]}, _uf("email", "valid email", "object")),
    ("display-number", {"display_name": 5}, _uf("display_name", "string", "number")),
    ("password-bool", {"password": True}, _uf("password", "string", "boolean")),
    ("spectator-string", {"site_spectator": "true"}, _uf("site_spectator", "boolean", "string")),
    ("active-number", {"active": 1}, _uf("active", "boolean", "number")),
    ("meta-array", {"meta": []}, _uf("meta", "string", "array")),
    ("unknown", {"foo": 1}, bad_object("user does not have a foo field")),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in UPDATE_ERRORS], ids=[c[0] for c in UPDATE_ERRORS]
)
def test_update_errors(shared_world: World, obj: dict, expected: dict) -> None:
    world = shared_world
    before = world.api.get("/users/loner", world.token("admin")).json
    resp = world.api.post("/users/loner", obj, world.token("admin"))
    assert resp.status == expected["status"]
    assert resp.json == expected
    assert world.api.get("/users/loner", world.token("admin")).json == before


def test_update_unknown_user(shared_world: World) -> None:
    world = shared_world
    assert world.api.post("/users/ghost", {"display_name": "G"}, world.token("admin")).json == not_found(
        "user"
    )
    # authorization comes before the lookup
    assert world.api.post("/users/ghost", {"display_name": "G"}, world.token("loner")).json == authz(
        "loner", "modify user ghost"
    )


# -- usernames are unique regardless of case (issue 13, finding 10) --------------------------------

#: Every character whose casefold is an ASCII letter, by that letter: the letter's two cases, plus the
#: Kelvin sign for k and the long s for s. Usernames are ASCII (7.2), so those spellings are refused.
_SAME_FOLD: dict[str, list[str]] = {letter: [] for letter in string.ascii_lowercase}
for _code in range(sys.maxunicode + 1):
    _folded = chr(_code).casefold()
    if _folded in _SAME_FOLD:
        _SAME_FOLD[_folded].append(chr(_code))

_USERNAME_CHARS = string.ascii_letters + string.digits + "_~-"


def _same_fold_spellings(char: str) -> list[str]:
    return _SAME_FOLD.get(char.lower(), [char])


def _folded_names(api: Api, name: str) -> list[str]:
    listed = api.get("/users", api.admin_token(), include_deleted="true").json
    return [u["username"] for u in listed if u["username"].casefold() == name.casefold()]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_no_second_user_whose_name_differs_only_in_case(shared_world: World, data: st.DataObject) -> None:
    api = shared_world.api
    name = unique("u") + data.draw(st.text(_USERNAME_CHARS, min_size=1, max_size=12), label="suffix")
    api.create_user(name)
    variant = "".join(data.draw(st.sampled_from(_same_fold_spellings(c))) for c in name)
    resp = api.post("/users", {"username": variant, "password": "pw"}, api.admin_token())
    if variant.isascii():
        assert resp.json == error(
            409, "Username already exists", f"username {variant} already exists", [variant]
        )
    else:
        assert resp.json == _uf("username", "valid username", "string")
    assert _folded_names(api, name) == [name]
    # the user keeps answering to its exact name only
    assert api.get(f"/users/{name}", api.admin_token()).json["username"] == name
    if variant != name and variant.isascii():
        assert api.get(f"/users/{variant}", api.admin_token()).json == not_found("user")


def test_case_variant_of_a_deleted_user_is_refused(world: World) -> None:
    api = world.api
    assert api.delete("/users/member2", api.admin_token()).status == 200
    resp = api.post("/users", {"username": "MEMBER2", "password": "pw"}, api.admin_token())
    assert resp.status == 409


def _insert_users(server: Any, *names: str) -> None:
    """Users stored by another program that did not check case (the reference server, a script)."""
    engine = storage.create_engine(server.database_url)
    try:
        with storage.transaction(engine, write=True) as connection:
            for name in names:
                storage.insert_user(connection, name, f"{name} pw", bcrypt_rounds=4)
    finally:
        engine.dispose()


def test_stored_pairs_that_differ_in_case_keep_working(server: Any, api: Api) -> None:
    _insert_users(server, "Alice", "alice")
    admin = api.admin_token()
    for name in ("Alice", "alice"):
        token = api.login(name, f"{name} pw").json["token"]
        assert api.get(f"/users/{name}", token).json["username"] == name
        changed = api.post(f"/users/{name}", {"display_name": f"I am {name}"}, token)
        assert changed.json["display_name"] == f"I am {name}"
        assert api.login(name, "Alice pw" if name == "alice" else "alice pw").status == 401
    names = {u["username"]: u["display_name"] for u in api.get("/users", admin).json}
    assert (names["Alice"], names["alice"]) == ("I am Alice", "I am alice")
    assert api.post("/users", {"username": "ALICE", "password": "pw"}, admin).status == 409


@pytest.mark.parametrize(("stored", "wanted"), [("ſam", "SAM"), ("\u212aate", "kate"), ("maß", "MASS")])
def test_names_stored_with_non_ascii_letters_block_their_plain_look_alikes(
    server: Any, api: Api, stored: str, wanted: str
) -> None:
    """Caseless matching (casefold), not lower(): ``"ſam".lower()`` stays ``"ſam"``; it folds to ``sam``."""
    _insert_users(server, stored)
    resp = api.post("/users", {"username": wanted, "password": "pw"}, api.admin_token())
    assert resp.status == 409
    assert wanted not in [u["username"] for u in api.get("/users", api.admin_token()).json]


def test_delete(world: World) -> None:
    api = world.api
    admin = api.admin_token()
    resp = api.delete("/users/member2", admin)
    assert (resp.status, resp.body) == (200, b"")
    assert api.get("/users/member2", admin).json == not_found("user")
    assert "member2" not in [u["username"] for u in api.get("/users", admin).json]
    got = api.get("/users/member2", admin, include_deleted="true").json
    assert got == _user("member2", updated_at=today(), deleted_at=today())
    listed = [u for u in api.get("/users", admin, include_deleted="true").json if u["username"] == "member2"]
    assert listed == [got]
    assert api.delete("/users/member2", admin).status == 200
    # the username stays taken; the user's times are untouched
    assert api.post("/users", {"username": "member2", "password": "x"}, admin).status == 409
    assert world.get_time("m2b")["user"] == "member2"
    assert world.get_time("m2b")["deleted_at"] is None


@pytest.mark.parametrize(
    ("who", "path", "expected"),
    [
        ("admin", "bad%20name", invalid_id("username", "bad name")),
        ("loner", "bad%20name", invalid_id("username", "bad name")),  # identifier check first
        ("admin", "nobody", not_found("user")),
        ("loner", "nobody", authz("loner", "delete users")),
        ("loner", "member", authz("loner", "delete users")),
        ("pm", "member", authz("pm", "delete users")),
        ("sitespec", "member", authz("sitespec", "delete users")),
    ],
)
def test_delete_errors(shared_world: World, who: str, path: str, expected: dict) -> None:
    world = shared_world
    resp = world.api.delete(f"/users/{path}", world.token(who))
    assert resp.status == expected["status"]
    assert resp.json == expected
    assert world.api.get("/users/member", world.token("admin")).status == 200


def test_email_of_100_kb_is_refused_fast(shared_world: World) -> None:
    import time

    world = shared_world
    email = "a" * 100_000 + "@example.com"
    for path, obj in [
        ("/users", _u(username=unique("big"), email=email)),
        ("/users/loner", {"email": email}),
    ]:
        start = time.perf_counter()
        resp = world.api.post(path, obj, world.token("admin"), timeout=10)
        assert time.perf_counter() - start < 1.0
        assert resp.status == 400
        assert resp.json["error"] == "Bad object"
    email = "ab" + "." * 5000 + "@" + "a" * 3000 + ".c"
    start = time.perf_counter()
    resp = world.api.post("/users/loner", {"email": email}, world.token("admin"), timeout=10)
    assert time.perf_counter() - start < 1.0
    assert resp.status == 400


@pytest.mark.parametrize(
    "email", ["guyn@example.com", "a.b+c@example.com", "first.last@osuosl.org", "ab@ex.co.uk"]
)
def test_reference_emails_are_accepted(shared_world: World, email: str) -> None:
    world = shared_world
    name = unique("mail")
    assert world.api.post("/users", _u(username=name, email=email), world.token("admin")).status == 200
    assert world.api.get(f"/users/{name}", world.token("admin")).json["email"] == email


@pytest.mark.parametrize("flag", ["site_admin", "site_manager"])
def test_site_manager_may_not_create_privileged_users(shared_world: World, flag: str) -> None:
    """docs/server.md: only a site_admin creates users with site_admin or site_manager."""
    world = shared_world
    name = unique("priv")
    resp = world.api.post("/users", {"username": name, "password": "pw", flag: True}, world.token("sitemgr"))
    assert resp.json == authz("sitemgr", f"set permissions of user {name}")
    assert world.api.get(f"/users/{name}", world.token("admin")).json == not_found("user")
    name = unique("spectator")
    resp = world.api.post(
        "/users", {"username": name, "password": "pw", "site_spectator": True}, world.token("sitemgr")
    )
    assert resp.status == 200
    assert world.api.get(f"/users/{name}", world.token("admin")).json["site_spectator"] is True
