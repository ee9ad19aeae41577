"""Storage compatibility with the reference server (API doc §11)."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any

import bcrypt
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


def _seed_reference_database(path: Path) -> None:
    password = bcrypt.hashpw(b"password", bcrypt.gensalt(4, prefix=b"2a")).decode()
    db = sqlite3.connect(path)
    db.executescript(REFERENCE_DDL)
    db.executemany(
        "INSERT INTO users (id, username, password, display_name, site_spectator, site_manager,"
        " site_admin, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (1, "admin1", password, "Admin User", 1, 1, 1, 1, D2014),
            (2, "Proj_Manager", password, None, 0, 0, 0, 0, D2014),
        ],
    )
    # defaults left to the database: revision, newest
    db.execute(
        "INSERT INTO activities (id, name, slug, created_at, uuid) VALUES (1, 'Documentation', 'docs', ?, ?)",
        (D2014, DOCS),
    )
    db.execute(
        "INSERT INTO activities (id, name, slug, created_at, uuid, revision, newest)"
        " VALUES (2, 'Development', 'dev', ?, ?, 1, 0), (3, 'Development', 'develop', ?, ?, 2, 1)",
        (D2014, DEV, D2014, DEV),
    )
    db.execute(
        "INSERT INTO projects (id, name, uri, default_activity, created_at, uuid)"
        " VALUES (1, 'Project1', 'http://example.com/project1', NULL, ?, ?)",
        (D2014, P1),
    )
    db.execute(
        "INSERT INTO projects (id, name, uri, default_activity, created_at, updated_at, uuid,"
        " revision, newest)"
        " VALUES (2, 'Old2', NULL, ?, ?, NULL, ?, 1, 0), (3, 'Project2', NULL, ?, ?, ?, ?, 2, 1)",
        (DEV, D2014, P2, DEV, D2014, D2015, P2),
    )
    db.executemany(
        "INSERT INTO projectslugs (name, project) VALUES (?, ?)",
        [("project1", 1), ("p1", 1), ("project2", 3)],
    )
    db.executemany(
        "INSERT INTO userroles (project, user, manager, member, spectator) VALUES (?, ?, ?, ?, ?)",
        [(1, 1, 1, 1, 1), (1, 2, 1, 1, 0), (3, 2, 0, 1, 0)],
    )
    db.execute(
        "INSERT INTO times (id, duration, user, project, notes, issue_uri, date_worked, created_at, uuid)"
        " VALUES (1, 12, 2, ?, '', 'http://example.com/project3/issues/56', ?, ?, ?)",
        (P1, D2015, D2015, T1),
    )
    # the time references an *old* revision row of "dev"; it renders the current slug
    db.executemany("INSERT INTO timesactivities (time, activity) VALUES (?, ?)", [(1, 1), (1, 2)])
    db.commit()
    db.close()


def _columns(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    db = sqlite3.connect(path)
    try:
        return {table: db.execute(f"PRAGMA table_info({table})").fetchall() for table in REFERENCE_COLUMNS}
    finally:
        db.close()


def test_created_schema_has_exactly_the_reference_tables(tmp_path: Path) -> None:
    engine = storage.create_engine(f"sqlite:///{tmp_path}/new.db")
    storage.create_schema(engine)
    storage.create_schema(engine)  # idempotent
    inspector = sa.inspect(engine)
    tables = set(inspector.get_table_names())
    assert [table.name for table in schema.REFERENCE_TABLES] == list(REFERENCE_COLUMNS)
    assert tables - {"sqlite_sequence"} == {*REFERENCE_COLUMNS, "pymesync_settings"}
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


def test_serves_a_database_the_reference_created(tmp_path: Path) -> None:
    path = tmp_path / "reference.db"
    _seed_reference_database(path)
    before = _columns(path)
    with serve(f"sqlite:///{path}", admin=None, version="v0") as server:
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
    assert _columns(path) == before
