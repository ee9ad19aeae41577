"""Another writer shares the database while the server runs (API doc 11.1).

These tests write the reference tables directly (plain SQL, as an admin script or the reference
server would) and check that the very next request sees the change.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid as uuidlib
from collections.abc import Iterator
from typing import Any

import bcrypt
import pytest
import sqlalchemy as sa

from .helpers import BAD_TOKEN, World, authz, first_revision, make_api, not_found, today


@pytest.fixture
def db(server: Any) -> Iterator[sa.Engine]:
    url = server.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _sql(db: sa.Engine, statement: str, **params: Any) -> Any:
    with db.begin() as conn:
        return conn.execute(sa.text(statement), params)


def _scalar(db: sa.Engine, statement: str, **params: Any) -> Any:
    with db.begin() as conn:
        return conn.execute(sa.text(statement), params).scalar()


def test_user_inserted_directly_is_seen_and_logs_in(world: World, db: sa.Engine) -> None:
    hashed = bcrypt.hashpw(b"direct-pw", bcrypt.gensalt(4, prefix=b"2a")).decode()
    # only the NOT NULL columns; every nullable column is left to its default
    _sql(
        db,
        "INSERT INTO users (username, password, created_at) VALUES (:u, :p, :c)",
        u="direct",
        p=hashed,
        c=_now_ms(),
    )
    api = world.api
    got = api.get("/users/direct", api.admin_token()).json
    assert got == {
        "username": "direct",
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
    }
    resp = api.login("direct", "direct-pw")
    assert resp.status == 200
    assert api.get("/times", resp.json["token"]).json == []


def test_role_change_is_seen_on_the_next_request(world: World, db: sa.Engine) -> None:
    api = world.api
    loner = world.token("loner")
    assert api.get("/times", loner).json == []
    _sql(db, "UPDATE users SET site_spectator = :t WHERE username = 'loner'", t=True)
    assert len(api.get("/times", loner).json) == 5
    assert api.post("/activities", {"name": "Nope", "slug": "nope"}, loner).json == authz(
        "loner", "create activities"
    )
    _sql(
        db,
        "UPDATE users SET site_spectator = :f, site_manager = :t WHERE username = 'loner'",
        t=True,
        f=False,
    )
    assert api.get("/times", loner).json == []
    assert api.post("/activities", {"name": "Yes", "slug": "yes"}, loner).status == 200


def test_membership_removed_directly(world: World, db: sa.Engine) -> None:
    api = world.api
    member = world.token("member")
    _sql(db, "DELETE FROM userroles WHERE \"user\" = (SELECT id FROM users WHERE username = 'member')")
    obj = {"duration": 1, "user": "member", "project": "gwm", "date_worked": "2015-04-19"}
    assert api.post("/times", obj, member).json == authz("member", "create time entries for project gwm.")
    assert "member" not in api.get("/projects/gwm", member).json["users"]
    assert api.get("/projects", member, user="member").json == []


def test_renamed_user_is_not_cached(world: World, db: sa.Engine) -> None:
    api = world.api
    old_token = world.token("loner")
    _sql(db, "UPDATE users SET username = 'renamed' WHERE username = 'loner'")
    admin = api.admin_token()
    assert api.get("/users/loner", admin).json == not_found("user")
    assert api.get("/users/renamed", admin).json["meta"] == "no roles"
    # the token names a user that no longer exists
    assert api.get("/times", old_token).json == BAD_TOKEN
    # the same id now answers to another name everywhere
    _sql(db, "UPDATE users SET username = 'member3' WHERE username = 'member2'")
    assert {t["user"] for t in api.get("/times", admin).json} == {"member", "member3", "admin"}
    assert "member3" in api.get("/projects/gwm", admin).json["users"]


def test_rows_with_defaults_and_explicit_ids(world: World, db: sa.Engine, backend: str) -> None:
    api = world.api
    admin = api.admin_token()
    act_uuid = str(uuidlib.uuid4())
    # an activity row with only the columns a bulk loader must give
    _sql(
        db,
        "INSERT INTO activities (id, name, slug, uuid, created_at) VALUES (9000, 'Loaded', 'loaded', :u, :c)",
        u=act_uuid,
        c=_now_ms(),
    )
    _sql(
        db,
        "INSERT INTO users (id, username, password, created_at) VALUES (9000, 'loaded', 'x', :c)",
        c=_now_ms(),
    )
    if backend == "postgresql":
        _sql(db, "SELECT setval('activities_id_seq', 9000)")
        _sql(db, "SELECT setval('users_id_seq', 9000)")
    assert api.get("/activities/loaded", admin).json == {
        "name": "Loaded",
        "slug": "loaded",
        **first_revision(act_uuid),
    }
    # the server lets the database assign ids after the explicit ones
    assert api.post("/activities", {"name": "After load", "slug": "after-load"}, admin).status == 200
    assert api.post("/users", {"username": "afterload", "password": "pw"}, admin).status == 200
    assert _scalar(db, "SELECT id FROM activities WHERE slug = 'after-load'") > 9000
    made = api.create_time(world.token("member"), "member", "gwm", activities=["loaded"])
    assert api.get(f"/times/{made['uuid']}", admin).json["activities"] == ["loaded"]
    resp = api.post("/activities/loaded", {"name": "Loaded 2"}, admin)
    assert resp.status == 200
    assert resp.json["revision"] == 2


@pytest.mark.parametrize(
    "request_kind", ["list", "failed-activity-update", "create", "login", "bad-json", "forbidden"]
)
def test_no_transaction_is_left_open(world: World, server: Any, backend: str, request_kind: str) -> None:
    api = world.api
    admin = api.admin_token()
    if request_kind == "list":
        assert api.get("/times", admin).status == 200
    elif request_kind == "failed-activity-update":
        assert api.post("/activities/nope", {"name": "Nope"}, admin).json == not_found("activity")
    elif request_kind == "create":
        assert api.post("/activities", {"name": "Fresh", "slug": "fresh"}, admin).status == 200
    elif request_kind == "login":
        assert api.login("member", "wrong").status == 401
    elif request_kind == "bad-json":
        assert api.post_raw("/times", b"{").status == 400
    else:
        assert api.post("/activities", {"name": "X", "slug": "x"}, world.token("loner")).status == 401
    if backend == "sqlite":
        path = server.database_url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path, timeout=0.5, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")  # fails with "database is locked" if a write is open
            conn.execute("INSERT INTO users (username, password, created_at) VALUES ('other', 'x', 1)")
            conn.execute("COMMIT")
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            assert busy == 0, "a read transaction is still open"
        finally:
            conn.close()
    else:
        url = server.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                idle = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND state LIKE 'idle in transaction%'"
                    )
                ).scalar()
            assert idle == 0
        finally:
            engine.dispose()
    assert api.get("/users/other", admin).status == (200 if backend == "sqlite" else 404)


def test_sqlite_writer_lock_is_waited_for(world: World, server: Any, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite busy timeout")
    path = server.database_url.removeprefix("sqlite:///")
    locked = threading.Event()

    def hold_lock() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE users SET meta = 'locked' WHERE username = 'loner'")
        locked.set()
        time.sleep(1.0)
        conn.execute("COMMIT")
        conn.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    locked.wait(5)
    start = time.perf_counter()
    resp = world.api.post("/activities", {"name": "Waited", "slug": "waited"}, world.api.admin_token())
    holder.join()
    assert resp.status == 200, resp.json
    assert time.perf_counter() - start >= 0.5
    assert world.api.get("/users/loner", world.api.admin_token()).json["meta"] == "locked"


def test_two_servers_on_one_database(world: World, server: Any) -> None:
    """Two server processes' worth of state: tokens and writes of one are good on the other (11.1)."""
    from pymesync.server.testing import serve

    with serve(server.database_url, admin=None) as second_srv:
        second = make_api(second_srv)
        token = world.token("member")  # issued by the first server
        assert second.get("/times", token).status == 200
        made = second.create_time(token, "member", "gwm", notes="via second")
        assert world.api.get(f"/times/{made['uuid']}", token).json["notes"] == "via second"
        resp = world.api.post(f"/times/{made['uuid']}", {"notes": "via first"}, token)
        assert resp.status == 200
        assert second.get(f"/times/{made['uuid']}", token).json == resp.json
        assert second.delete("/users/member2", second.admin_token()).status == 200
        assert world.api.get("/users/member2", world.api.admin_token()).json == not_found("user")
