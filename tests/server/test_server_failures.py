"""A database that cannot store data now: its disk is full, or it is read-only.

Real faults on real ``timesync-server serve`` processes: a small tmpfs filled with a ballast file
(root only: mounting needs it), a SQLite file whose mode forbids writing, and a PostgreSQL database
set to ``default_transaction_read_only``. Each time writes get the documented 503, reads keep
working, the log has one warning line and no traceback, and writes work again by themselves, without
a restart, once the fault is cleared.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from pymesync.server import storage

from .conftest import POSTGRES_URL, fresh_database
from .helpers import ADMIN, Api, Response
from .processes import ServerProcess, free_port, prepare_database, start_server_process

CANNOT_STORE = {
    "status": 503,
    "error": "Service unavailable",
    "text": "The server cannot store data right now and stored nothing; retry the request later.",
}
IS_ROOT = os.geteuid() == 0


@contextlib.contextmanager
def _small_tmpfs(directory: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted on ``directory``: a disk the test can fill and free."""
    if not IS_ROOT:
        pytest.skip("mounting a small tmpfs to fill needs root")
    directory.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(directory)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=True)


def _fill(directory: Path) -> Path:
    """Write a ballast file until the filesystem has no space left."""
    ballast = directory / "ballast"
    chunk = b"\0" * 65536
    with ballast.open("wb", buffering=0) as sink:
        with contextlib.suppress(OSError):
            while True:
                sink.write(chunk)
        with contextlib.suppress(OSError):
            while True:
                sink.write(b"\0")
    return ballast


@contextlib.contextmanager
def _server(database_url: str, log: Path, *, prefix: tuple[str, ...] = ()) -> Iterator[ServerProcess]:
    server = start_server_process(database_url, log, prefix=prefix)
    try:
        yield server
    finally:
        server.stop()
        text = server.log_text()
        assert "Traceback" not in text, text


def _new_time(api: Api) -> tuple[str, dict[str, Any]]:
    """An admin token and the body of a time the admin may log, once per call."""
    admin = api.admin_token()
    slug = api.create_project(users={ADMIN[0]: {"member": True}})["slugs"][0]
    activity = api.create_activity()["slug"]
    body = {"duration": 60, "user": ADMIN[0], "project": slug, "activities": [activity]}
    return admin, {**body, "date_worked": "2026-11-02"}


def _assert_cannot_store(answer: Response) -> None:
    assert answer.status == 503, (answer.status, answer.body[:300])
    assert answer.json == CANNOT_STORE
    assert answer.header("Retry-After") == "30"


def _warnings(server: ServerProcess) -> list[str]:
    return [line for line in server.log_text().splitlines() if "cannot store data now" in line]


def test_sqlite_disk_full(tmp_path: Path) -> None:
    """SQLite still fits some writes into pages it holds (and frees its WAL file when the
    connection that failed is closed), so writes on a full disk are a mix of 200 and 503."""
    with _small_tmpfs(tmp_path / "disk") as disk:
        url = f"sqlite:///{disk}/timesync.db"
        prepare_database(url)
        with _server(url, tmp_path / "server.log") as server:
            api = server.api
            admin, body = _new_time(api)
            stored = [api.ok(api.post("/times", body, admin))["uuid"]]
            ballast = _fill(disk)

            answers = [api.post("/times", body, admin) for _ in range(20)]
            refused = [answer for answer in answers if answer.status != 200]
            assert refused, "20 writes on a full disk were all stored"
            for answer in refused:
                _assert_cannot_store(answer)
            stored += [answer.json["uuid"] for answer in answers if answer.status == 200]
            listed = api.ok(api.get("/times", admin))
            assert sorted(entry["uuid"] for entry in listed) == sorted(stored)
            assert api.ok(api.get(f"/times/{stored[0]}", admin))["uuid"] == stored[0]
            warnings = _warnings(server)
            assert len(warnings) == len(refused)
            assert all("database or disk is full" in line for line in warnings), warnings

            ballast.unlink()
            started = time.monotonic()
            new = api.post("/times", body, admin)
            print(f"a write after freeing the disk took {time.monotonic() - started:.3f} s")
            assert new.status == 200, new.body
            for _ in range(10):
                assert api.post("/times", body, admin).status == 200
            assert len(api.ok(api.get("/times", admin))) == len(stored) + 11


def _without_file_permission_override() -> tuple[str, ...]:
    """Root writes to read-only files anyway: run the server without that capability."""
    if not IS_ROOT:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, and setpriv (util-linux) is missing to drop CAP_DAC_OVERRIDE")
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search")


def test_sqlite_read_only_file(tmp_path: Path) -> None:
    """Started on a database file it may not write to, the server serves reads and refuses writes;
    once the file is writable again, the next write succeeds (no connection stays read-only)."""
    prefix = _without_file_permission_override()
    database = tmp_path / "timesync.db"
    url = f"sqlite:///{database}"
    prepare_database(url)
    with _server(url, tmp_path / "setup.log") as server:
        admin, body = _new_time(server.api)
        first = server.api.ok(server.api.post("/times", body, admin))["uuid"]
    database.chmod(0o400)
    with _server(url, tmp_path / "server.log", prefix=prefix) as server:
        api = server.api
        for _ in range(3):
            _assert_cannot_store(api.post("/times", body, admin))
            assert api.ok(api.get(f"/times/{first}", admin))["uuid"] == first
        assert [entry["uuid"] for entry in api.ok(api.get("/times", admin))] == [first]
        assert "attempt to write a readonly database" in _warnings(server)[0]

        for path in tmp_path.glob("timesync.db*"):  # SQLite made its -wal and -shm files read-only too
            path.chmod(0o600)
        new = api.post("/times", body, admin)
        assert new.status == 200, new.body
        assert api.post("/times", body, admin).status == 200
        assert len(api.ok(api.get("/times", admin))) == 3


def test_no_token_key_and_a_read_only_database_is_one_line_at_start(tmp_path: Path) -> None:
    prefix = _without_file_permission_override()
    database = tmp_path / "timesync.db"
    engine = storage.create_engine(f"sqlite:///{database}")
    storage.create_schema(engine)
    engine.dispose()
    database.chmod(0o400)
    command = [*prefix, sys.executable, "-m", "pymesync.server.cli", "serve", "--port", str(free_port())]
    env = {**os.environ, "TIMESYNC_DATABASE_URL": f"sqlite:///{database}"}
    started = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert started.returncode == 2
    assert started.stderr == (
        "error: cannot store the token secret in the database: attempt to write a readonly database\n"
    )


def _postgres_admin(statement: str) -> None:
    assert POSTGRES_URL is not None
    with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute(statement)


def _database_name(url: str) -> str:
    return sa.make_url(url).database or ""


@pytest.mark.skipif(not POSTGRES_URL, reason="needs TIMESYNC_TEST_POSTGRES_URL (scripts/test.sh sets it)")
def test_postgresql_read_only_database(tmp_path: Path) -> None:
    with fresh_database("postgresql") as url:
        assert url is not None
        prepare_database(url)
        name = _database_name(url)
        with _server(url, tmp_path / "server.log") as server:
            api = server.api
            admin, body = _new_time(api)
            first = api.ok(api.post("/times", body, admin))["uuid"]

            _postgres_admin(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            _postgres_admin(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )
            for _ in range(3):
                assert api.ok(api.get(f"/times/{first}", admin))["uuid"] == first
                _assert_cannot_store(api.post("/times", body, admin))
            assert "read-only transaction" in _warnings(server)[0]

            _postgres_admin(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
            for _ in range(3):
                assert api.post("/times", body, admin).status == 200
            assert len(api.ok(api.get("/times", admin))) == 4


def _unwritable(orig: BaseException) -> bool:
    return storage.is_unwritable(sa.exc.OperationalError("INSERT ...", {}, orig))


@pytest.mark.parametrize(
    "sqlstate",
    ["53100", "53200", "53300", "53000", "25006", "57P03"],
    ids=[
        "disk-full",
        "out-of-memory",
        "too-many-connections",
        "insufficient-resources",
        "read-only",
        "in-recovery",
    ],
)
def test_postgresql_errors_that_mean_cannot_store(sqlstate: str) -> None:
    """PostgreSQL's disk full (and a standby or a server in recovery) are hard to produce here:
    the classification is checked on the errors psycopg raises for those SQLSTATEs."""
    assert _unwritable(psycopg.errors.lookup(sqlstate)("refused"))


@pytest.mark.parametrize("sqlstate", ["40001", "40P01", "23505", "55P03", "42P01", "22001"])
def test_postgresql_errors_that_do_not(sqlstate: str) -> None:
    assert not _unwritable(psycopg.errors.lookup(sqlstate)("refused"))
