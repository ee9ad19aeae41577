"""The backup and restore commands of docs/server.md, run for real while the server writes.

A backup is taken while a client keeps logging times; a server started on the restored copy must
serve every write acknowledged before the backup began, nothing half written, and accept a token
issued by the original server (the signing key is in the database).
"""

from __future__ import annotations

import contextlib
import glob
import secrets
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from pymesync.server import storage

from .conftest import POSTGRES_URL, fresh_database
from .helpers import ADMIN, Api
from .processes import ServerProcess, half_written, prepare_database, start_server_process


class Writer:
    """A client logging times on one server until stopped; it records what was acknowledged."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.token = api.admin_token()
        slug = api.create_project(users={ADMIN[0]: {"member": True}})["slugs"][0]
        activity = api.create_activity()["slug"]
        self.body = {"duration": 60, "user": ADMIN[0], "project": slug, "activities": [activity]}
        self.body["date_worked"] = "2026-11-02"
        self.acknowledged: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            answer = self.api.post("/times", self.body, self.token)
            assert answer.status == 200, answer.body
            self.acknowledged.append(answer.json["uuid"])

    def __enter__(self) -> Writer:
        self._thread.start()
        while len(self.acknowledged) < 20:
            self._stop.wait(0.01)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _check_restored(restored: ServerProcess, writer: Writer, before_backup: list[str]) -> None:
    api, token = restored.api, writer.token
    listed = {entry["uuid"] for entry in api.ok(api.get("/times", token))}
    assert set(before_backup) <= listed
    assert listed <= set(writer.acknowledged)  # nothing unacknowledged, nothing invented
    for uuid in before_backup[:3]:
        assert api.ok(api.get(f"/times/{uuid}", token))["activities"] == writer.body["activities"]
    assert api.post("/times", writer.body, token).status == 200


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    database = tmp_path / "timesync.db"
    prepare_database(f"sqlite:///{database}")
    server = start_server_process(f"sqlite:///{database}", tmp_path / "server.log")
    try:
        yield server, database
    finally:
        server.stop()


def _sqlite3_cli(database: Path, backup: Path) -> None:
    command = shutil.which("sqlite3")
    if command is None:
        pytest.skip("the sqlite3 command is not installed")
    subprocess.run([command, str(database), f".backup '{backup}'"], check=True, timeout=60)


def _python_backup(database: Path, backup: Path) -> None:
    with (
        contextlib.closing(sqlite3.connect(database)) as source,
        contextlib.closing(sqlite3.connect(backup)) as target,
    ):
        source.backup(target)


@pytest.mark.parametrize("backup_with", [_sqlite3_cli, _python_backup], ids=["sqlite3-cli", "python"])
def test_sqlite_backup_while_writing(
    sqlite_server: tuple[ServerProcess, Path], tmp_path: Path, backup_with: Callable[[Path, Path], None]
) -> None:
    server, database = sqlite_server
    backup = tmp_path / "restored" / "timesync.db"
    backup.parent.mkdir()
    with Writer(server.api) as writer:
        before_backup = list(writer.acknowledged)
        backup_with(database, backup)
    assert not glob.glob(f"{backup}-*")
    url = f"sqlite:///{backup}"
    engine = storage.create_engine(url)
    try:
        assert not half_written(engine)
    finally:
        engine.dispose()
    restored = start_server_process(url, tmp_path / "restored.log")
    try:
        _check_restored(restored, writer, before_backup)
    finally:
        restored.stop()


def _postgres_tool(name: str) -> str:
    """pg_dump or pg_restore of the newest installed PostgreSQL, as scripts/pg.sh finds initdb."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        pytest.skip(f"{name} is not installed")
    return found[-1]


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.mark.skipif(not POSTGRES_URL, reason="needs TIMESYNC_TEST_POSTGRES_URL (scripts/test.sh sets it)")
def test_postgresql_pg_dump_and_pg_restore_while_writing(tmp_path: Path) -> None:
    pg_dump, pg_restore = _postgres_tool("pg_dump"), _postgres_tool("pg_restore")
    dump = tmp_path / "timesync.dump"
    with fresh_database("postgresql") as url:
        assert url is not None
        prepare_database(url)
        server = start_server_process(url, tmp_path / "server.log")
        try:
            with Writer(server.api) as writer:
                before_backup = list(writer.acknowledged)
                subprocess.run([pg_dump, "-Fc", "-f", str(dump), _libpq_url(url)], check=True, timeout=120)
        finally:
            server.stop()
    restored_name = f"restored_{secrets.token_hex(4)}"
    restored_url = str(sa.make_url(url).set(database=restored_name).render_as_string(hide_password=False))
    assert POSTGRES_URL is not None
    with psycopg.connect(_libpq_url(POSTGRES_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{restored_name}"')
    try:
        command = [pg_restore, "--no-owner", "-d", _libpq_url(restored_url), str(dump)]
        subprocess.run(command, check=True, timeout=120)
        engine = storage.create_engine(restored_url)
        try:
            assert not half_written(engine)
        finally:
            engine.dispose()
        restored = start_server_process(restored_url, tmp_path / "restored.log")
        try:
            _check_restored(restored, writer, before_backup)
        finally:
            restored.stop()
    finally:
        with psycopg.connect(_libpq_url(POSTGRES_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{restored_name}" WITH (FORCE)')
