"""Storage compatibility with the reference server (API doc §11)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import sqlalchemy as sa

from pymesync.server import schema, storage
from pymesync.server.testing import serve

REFERENCE_COLUMNS = {
    "users": [
        "id", "username", "password", "display_name", "email", "site_spectator", "site_manager",
        "site_admin", "active", "created_at", "updated_at", "deleted_at", "meta",
    ],
    "activities": [
        "id", "name", "slug", "created_at", "updated_at", "deleted_at", "uuid", "revision", "newest",
    ],
    "projects": [
        "id", "name", "uri", "default_activity", "created_at", "updated_at", "deleted_at", "uuid",
        "revision", "newest",
    ],
    "times": [
        "id", "duration", "user", "project", "notes", "issue_uri", "date_worked", "created_at",
        "updated_at", "deleted_at", "uuid", "revision", "newest",
    ],
    "projectslugs": ["id", "name", "project"],
    "timesactivities": ["id", "time", "activity"],
    "userroles": ["id", "project", "user", "manager", "member", "spectator"],
}  # fmt: skip

#: The reference migration as knex writes it for SQLite.
REFERENCE_DDL = """
CREATE TABLE `users` (`id` integer not null primary key autoincrement, `username` varchar(255) not null,
  `password` varchar(255) not null, `display_name` varchar(255), `email` varchar(255),
  `site_spectator` boolean default '0', `site_manager` boolean default '0', `site_admin` boolean default '0',
  `active` boolean default '1', `created_at` bigint not null, `updated_at` bigint null,
  `deleted_at` bigint null, `meta` text);
CREATE UNIQUE INDEX `users_username_unique` on `users` (`username`);
CREATE TABLE `activities` (`id` integer not null primary key autoincrement, `name` varchar(255) not null,
  `slug` varchar(255), `created_at` bigint, `updated_at` bigint, `deleted_at` bigint,
  `uuid` char(36) not null, `revision` integer default '1', `newest` boolean default '1');
CREATE TABLE `projects` (`id` integer not null primary key autoincrement, `name` varchar(255) not null,
  `uri` varchar(255), `default_activity` char(36), `created_at` bigint, `updated_at` bigint,
  `deleted_at` bigint, `uuid` char(36) not null, `revision` integer default '1',
  `newest` boolean default '1');
CREATE TABLE `times` (`id` integer not null primary key autoincrement, `duration` integer not null,
  `user` integer not null, `project` char(36) not null, `notes` varchar(255), `issue_uri` varchar(255),
  `date_worked` bigint not null, `created_at` bigint, `updated_at` bigint, `deleted_at` bigint,
  `uuid` char(36) not null, `revision` integer default '1', `newest` boolean default '1',
  foreign key(`user`) references `users`(`id`) on delete restrict);
CREATE TABLE `projectslugs` (`id` integer not null primary key autoincrement, `name` varchar(255) not null,
  `project` integer not null, foreign key(`project`) references `projects`(`id`) on delete cascade);
CREATE UNIQUE INDEX `projectslugs_name_unique` on `projectslugs` (`name`);
CREATE TABLE `timesactivities` (`id` integer not null primary key autoincrement, `time` integer not null,
  `activity` integer not null, foreign key(`time`) references `times`(`id`) on delete cascade,
  foreign key(`activity`) references `activities`(`id`) on delete cascade);
CREATE TABLE `userroles` (`id` integer not null primary key autoincrement, `project` integer not null,
  `user` integer not null, `manager` boolean default '0', `member` boolean default '0',
  `spectator` boolean default '0', foreign key(`project`) references `projects`(`id`) on delete cascade,
  foreign key(`user`) references `users`(`id`) on delete cascade);
"""

DAY = 86_400_000
D2014 = 1388534400000  # 2014-01-01
D2015 = 1429401600000  # 2015-04-19
DOCS, DEV = "986fe650-4bd3-4b8e-9f8a-1b6e1a0e0a01", "e81e45ef-e7a7-4da2-88cd-9ede610c5896"
P1, P2 = "c285963e-192b-4e99-9d92-a940519f1fbd", "9f7f6c1e-1b4c-4a3b-8a53-a1ffe0f3e7c2"
T1 = "32764929-1bea-4a17-8c8a-22d7fb144941"


def _fixture_rows() -> list[str]:
    """The fixture rows, with explicit ids and some columns left to their defaults."""
    password = bcrypt.hashpw(b"password", bcrypt.gensalt(4, prefix=b"2a")).decode()
    return [
        "INSERT INTO users (id, username, password, display_name, site_spectator, site_manager,"
        f" site_admin, active, created_at) VALUES (1, 'admin1', '{password}', 'Admin User',"
        f" '1', '1', '1', '1', {D2014}),"
        f" (2, 'Proj_Manager', '{password}', NULL, '0', '0', '0', '0', {D2014})",
        "INSERT INTO activities (id, name, slug, created_at, uuid)"
        f" VALUES (1, 'Documentation', 'docs', {D2014}, '{DOCS}')",
        "INSERT INTO activities (id, name, slug, created_at, uuid, revision, newest)"
        f" VALUES (2, 'Development', 'dev', {D2014}, '{DEV}', 1, '0'),"
        f" (3, 'Development', 'develop', {D2014}, '{DEV}', 2, '1')",
        "INSERT INTO projects (id, name, uri, default_activity, created_at, uuid)"
        f" VALUES (1, 'Project1', 'http://example.com/project1', NULL, {D2014}, '{P1}')",
        "INSERT INTO projects (id, name, uri, default_activity, created_at, updated_at, uuid,"
        f" revision, newest) VALUES (2, 'Old2', NULL, '{DEV}', {D2014}, NULL, '{P2}', 1, '0'),"
        f" (3, 'Project2', NULL, '{DEV}', {D2014}, {D2015}, '{P2}', 2, '1')",
        "INSERT INTO projectslugs (id, name, project) VALUES (1, 'project1', 1), (2, 'p1', 1),"
        " (3, 'project2', 3)",
        'INSERT INTO userroles (id, project, "user", manager, member, spectator)'
        " VALUES (1, 1, 1, '1', '1', '1'), (2, 1, 2, '1', '1', '0'), (3, 3, 2, '0', '1', '0')",
        'INSERT INTO times (id, duration, "user", project, notes, issue_uri, date_worked,'
        f" created_at, uuid) VALUES (1, 12, 2, '{P1}', '',"
        f" 'http://example.com/project3/issues/56', {D2015}, {D2015}, '{T1}')",
        # the time references an *old* revision row of "dev"; it renders the current slug
        "INSERT INTO timesactivities (id, time, activity) VALUES (1, 1, 1), (2, 1, 2)",
    ]


def _seed_sqlite(path: Path) -> str:
    db = sqlite3.connect(path)
    db.executescript(REFERENCE_DDL)
    for statement in _fixture_rows():
        db.execute(statement)
    db.commit()
    db.close()
    return f"sqlite:///{path}"


def _postgres_ddl() -> str:
    """The reference migration as knex writes it for PostgreSQL (serial ids, native uuid)."""
    return (
        REFERENCE_DDL.replace("`", '"')
        .replace("integer not null primary key autoincrement", "serial primary key")
        .replace("char(36)", "uuid")
    )


@contextlib.contextmanager
def _seed_postgres(admin_url: str) -> Iterator[str]:
    import psycopg

    name = f"ref_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in [*_postgres_ddl().split(";"), *_fixture_rows()]:
                if statement.strip():
                    conn.execute(statement)  # type: ignore[arg-type]
            # what bulk loaders do after inserting explicit ids (API doc 11.1)
            for table in REFERENCE_COLUMNS:
                conn.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")  # type: ignore[arg-type]
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _columns(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = storage.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        return {
            table: [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            ]
            for table in REFERENCE_COLUMNS
        }
    finally:
        engine.dispose()


def test_created_schema_has_exactly_the_reference_tables(tmp_path: Path) -> None:
    engine = storage.create_engine(f"sqlite:///{tmp_path}/new.db")
    storage.create_schema(engine)
    storage.create_schema(engine)  # idempotent
    inspector = sa.inspect(engine)
    tables = set(inspector.get_table_names())
    assert [table.name for table in schema.REFERENCE_TABLES] == list(REFERENCE_COLUMNS)
    assert tables - {"sqlite_sequence"} == {
        *REFERENCE_COLUMNS,
        "pymesync_settings",
        "pymesync_credential_changes",
        "pymesync_changes",
        "pymesync_login_failures",
        "pymesync_ended_sessions",
    }
    for table, columns in REFERENCE_COLUMNS.items():
        assert [c["name"] for c in inspector.get_columns(table)] == columns
        nullable = {c["name"]: c["nullable"] for c in inspector.get_columns(table)}
        assert nullable["id"] is False
    users = {c["name"]: c for c in inspector.get_columns("users")}
    assert users["username"]["nullable"] is False and users["created_at"]["nullable"] is False
    assert str(users["created_at"]["type"]) == "BIGINT"
    foreign = {fk["referred_table"]: fk["options"] for fk in inspector.get_foreign_keys("times")}
    assert foreign == {"users": {"ondelete": "RESTRICT"}}
    engine.dispose()


def _call(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data)) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


@pytest.fixture(params=["sqlite", "postgresql"])
def reference_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield _seed_sqlite(tmp_path / "reference.db")
        return
    admin_url = os.environ.get("TIMESYNC_TEST_POSTGRES_URL")
    if not admin_url:
        pytest.skip("TIMESYNC_TEST_POSTGRES_URL is not set")
    with _seed_postgres(admin_url.replace("postgresql+psycopg://", "postgresql://")) as url:
        yield url


def test_serves_a_database_the_reference_created(reference_database: str) -> None:
    before = _columns(reference_database)
    with serve(reference_database, admin=None, version="v0") as server:
        base = server.base_url
        auth = {"type": "password", "username": "admin1", "password": "password"}
        token = _call(f"{base}/login", {"auth": auth})["token"]
        assert _call(f"{base}/login", {"auth": {**auth, "username": "Proj_Manager"}})["token"]
        q = f"?token={token}"
        projects = _call(f"{base}/projects{q}")
        assert [p["name"] for p in projects] == ["Project1", "Project2"]
        assert projects[0]["slugs"] == ["p1", "project1"]
        assert projects[0]["users"] == {
            "admin1": {"member": True, "spectator": True, "manager": True},
            "Proj_Manager": {"member": True, "spectator": False, "manager": True},
        }
        assert projects[1]["default_activity"] == "develop"
        assert projects[1]["revision"] == 2 and projects[1]["updated_at"] == "2015-04-19"
        [time_entry] = _call(f"{base}/times{q}")
        assert time_entry == {
            "duration": 12,
            "user": "Proj_Manager",
            "project": ["p1", "project1"],
            "activities": ["develop", "docs"],
            "notes": "",
            "issue_uri": "http://example.com/project3/issues/56",
            "date_worked": "2015-04-19",
            "uuid": T1,
            "revision": 1,
            "created_at": "2015-04-19",
            "updated_at": None,
            "deleted_at": None,
        }
        activities = _call(f"{base}/activities{q}&include_revisions=true")
        assert [(a["slug"], a["revision"], len(a["parents"])) for a in activities] == [
            ("docs", 1, 0),
            ("develop", 2, 1),
        ]
        users = _call(f"{base}/users{q}")
        assert [(u["username"], u["active"]) for u in users] == [("admin1", True), ("Proj_Manager", False)]
        # writes keep working on the reference tables (new rows get fresh ids)
        obj = {"duration": 5, "user": "admin1", "project": "project2", "date_worked": "2015-05-01"}
        created = _call(f"{base}/times", {"auth": {"type": "token", "token": token}, "object": obj})
        assert _call(f"{base}/times/{created['uuid']}{q}")["activities"] == ["develop"]
        updated = _call(
            f"{base}/projects/p1",
            {"auth": {"type": "token", "token": token}, "object": {"slugs": ["p1", "one"]}},
        )
        assert updated["slugs"] == ["one", "p1"] and updated["revision"] == 2
        assert _call(f"{base}/times/{T1}{q}")["project"] == ["one", "p1"]
    assert _columns(reference_database) == before


def test_a_reference_database_gains_the_credential_table(reference_database: str) -> None:
    """Serving an old database creates ``pymesync_credential_changes``, so password changes void tokens
    there too (issue 13), and the reference tables stay as they were."""
    before = _columns(reference_database)
    with serve(reference_database, admin=None) as server:
        base = server.base_url
        login = {"type": "password", "username": "admin1", "password": "password"}
        token = _call(f"{base}/login", {"auth": login})["token"]
        change = {"auth": {"type": "token", "token": token}, "object": {"password": "changed"}}
        assert _call(f"{base}/users/admin1", change)["username"] == "admin1"
        with pytest.raises(urllib.error.HTTPError) as refused:
            _call(f"{base}/users?token={token}")
        assert refused.value.code == 401
        fresh = _call(f"{base}/login", {"auth": {**login, "password": "changed"}})["token"]
        assert [u["username"] for u in _call(f"{base}/users?token={fresh}")] == ["admin1", "Proj_Manager"]
    assert _columns(reference_database) == before
