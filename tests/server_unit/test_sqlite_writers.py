"""SQLite writers of several processes queue on a kernel lock of a file beside the database: all
their writes land, a process killed while it holds the lock stops no one, and writing works
without the lock file where it cannot be created."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from pymesync.server import schema, storage

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock")

#: A process that adds ``count`` activities, each in its own write transaction.
WRITER = """
import sys
import sqlalchemy as sa
from pymesync.server import schema, storage
url, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
engine = storage.create_engine(url)
for number in range(count):
    with storage.transaction(engine, write=True) as connection:
        connection.execute(sa.insert(schema.activities).values(
            name=f"{prefix}{number}", slug=f"{prefix}{number}", uuid=f"{prefix}{number}", created_at=0))
"""
#: A process that opens a write, says so, and waits inside it.
HOLDER = """
import sys, time
from pymesync.server import storage
engine = storage.create_engine(sys.argv[1])
with storage.transaction(engine, write=True):
    print("holding", flush=True)
    time.sleep(60)
"""


def _database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/writers.db"
    engine = storage.create_engine(url)
    storage.create_schema(engine)
    engine.dispose()
    return url


def _python(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args], stdout=subprocess.PIPE, text=True
    )


def _activities(url: str) -> int:
    engine = storage.create_engine(url)
    try:
        with storage.transaction(engine) as connection:
            return int(
                connection.execute(sa.select(sa.func.count()).select_from(schema.activities)).scalar_one()
            )
    finally:
        engine.dispose()


def _lock_is_held(path: Path) -> bool:
    descriptor = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def test_writers_of_several_processes_all_land(tmp_path: Path) -> None:
    url = _database(tmp_path)
    writers = [_python(WRITER, url, prefix, "150") for prefix in ("a", "b", "c")]
    for writer in writers:
        assert writer.wait(timeout=120) == 0
    assert _activities(url) == 450


def test_a_write_holds_the_lock_file_and_a_killed_holder_blocks_no_one(tmp_path: Path) -> None:
    url = _database(tmp_path)
    holder = _python(HOLDER, url)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        assert _lock_is_held(tmp_path / "writers.db-writers")
        holder.kill()
        holder.wait(timeout=30)
        started = time.monotonic()
        writer = _python(WRITER, url, "after", "3")
        assert writer.wait(timeout=60) == 0
        assert time.monotonic() - started < 10  # not the 15 s busy timeout: nothing was left locked
    finally:
        holder.kill()
        holder.wait()
    assert not _lock_is_held(tmp_path / "writers.db-writers")
    assert _activities(url) == 3


def test_writes_go_without_the_lock_file_where_it_cannot_be_made(tmp_path: Path) -> None:
    url = _database(tmp_path)
    lock_file = tmp_path / "writers.db-writers"
    lock_file.unlink()
    lock_file.mkdir()  # in the way: opening it fails
    engine = storage.create_engine(url)
    try:
        for number in range(2):
            with storage.transaction(engine, write=True) as connection:
                connection.execute(
                    sa.insert(schema.activities).values(
                        name=f"x{number}", slug=f"x{number}", uuid=f"x{number}", created_at=0
                    )
                )
    finally:
        engine.dispose()
    assert _activities(url) == 2
