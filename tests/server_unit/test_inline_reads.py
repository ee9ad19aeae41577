"""The SQLite read connection that handlers on the event loop keep open (storage.InlineReader):
each read is its own transaction, sees every commit at once, and never keeps a broken or
disposed connection."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pymesync.server import schema, storage

_NAMES = storage.Read(sa.select(schema.activities.c.slug).order_by(schema.activities.c.id))


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Path, Engine]]:
    path = tmp_path / "timesync.db"
    engine = storage.create_engine(f"sqlite:///{path}")
    storage.create_schema(engine)
    yield path, engine
    engine.dispose()


def _reader(engine: Engine) -> storage.InlineReader:
    reader = storage.inline_reader(engine)
    assert reader is not None
    return reader


def _inline_slugs(engine: Engine) -> tuple[list[str], object]:
    """The slugs read inline, and the driver connection that read them."""
    with _reader(engine), storage.transaction(engine) as connection:
        slugs = [row.slug for row in _NAMES.all(connection)]
        return slugs, connection.connection.dbapi_connection


def _is_closed(driver: object) -> bool:
    assert isinstance(driver, sqlite3.Connection)
    try:
        driver.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


def _add_in_another_process(path: Path, slug: str) -> None:
    script = (
        "import sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        'db.execute("INSERT INTO activities (name, slug, uuid, revision, newest, created_at) '
        'VALUES (?, ?, lower(hex(randomblob(16))), 1, 1, 0)", (sys.argv[2], sys.argv[2]))\n'
    )
    subprocess.run([sys.executable, "-c", script, str(path), slug], check=True, timeout=30)


def test_one_connection_sees_another_process_write_at_once(database: tuple[Path, Engine]) -> None:
    path, engine = database
    assert _inline_slugs(engine)[0] == []
    _add_in_another_process(path, "dev")
    slugs, first = _inline_slugs(engine)
    assert slugs == ["dev"]
    _add_in_another_process(path, "docs")
    slugs, second = _inline_slugs(engine)
    assert slugs == ["dev", "docs"]
    assert first is second  # the same connection, kept open between reads


def test_outside_the_block_reads_use_the_pool(database: tuple[Path, Engine]) -> None:
    _path, engine = database
    _, inline = _inline_slugs(engine)
    with storage.transaction(engine) as connection:
        assert connection.connection.dbapi_connection is not inline


def test_a_read_leaves_no_transaction_open(database: tuple[Path, Engine]) -> None:
    """Not even when the handler ran SQLAlchemy statements (their transaction joins the read's)."""
    _path, engine = database
    with _reader(engine), storage.transaction(engine) as connection:
        connection.execute(sa.select(schema.activities.c.id)).all()
        driver: sqlite3.Connection = connection.connection.dbapi_connection  # type: ignore[assignment]
        assert driver.in_transaction
    assert not driver.in_transaction
    assert not connection.in_transaction()
    with _reader(engine), storage.transaction(engine) as again:
        assert again is connection
        with pytest.raises(LookupError), storage.transaction(engine) as inner:
            assert inner is not connection  # a read inside a read takes a pool connection
            raise LookupError
    assert not driver.in_transaction


def test_an_error_in_the_handler_rolls_back_and_keeps_the_connection(database: tuple[Path, Engine]) -> None:
    _path, engine = database
    _, before = _inline_slugs(engine)
    with pytest.raises(LookupError), _reader(engine), storage.transaction(engine):
        raise LookupError
    _, after = _inline_slugs(engine)
    assert after is before


def test_a_database_error_closes_the_connection(database: tuple[Path, Engine]) -> None:
    _path, engine = database
    _, before = _inline_slugs(engine)
    with pytest.raises(sa.exc.OperationalError), _reader(engine), storage.transaction(engine) as connection:
        connection.execute(sa.text("SELECT * FROM no_such_table"))
    assert _is_closed(before)
    slugs, after = _inline_slugs(engine)
    assert slugs == []
    assert not _is_closed(after)


def test_survives_the_schema_recreated_by_another_connection(database: tuple[Path, Engine]) -> None:
    path, engine = database
    _add_in_another_process(path, "old")
    assert _inline_slugs(engine)[0] == ["old"]
    other = storage.create_engine(f"sqlite:///{path}")
    schema.metadata.drop_all(other)
    storage.create_schema(other)
    other.dispose()
    assert _inline_slugs(engine)[0] == []
    _add_in_another_process(path, "new")
    assert _inline_slugs(engine)[0] == ["new"]


def test_dispose_closes_the_connection(database: tuple[Path, Engine]) -> None:
    """SQLite keeps a file's read-only state while any connection of the process is open."""
    _path, engine = database
    _, before = _inline_slugs(engine)
    engine.dispose()
    assert _is_closed(before)
    slugs, after = _inline_slugs(engine)
    assert slugs == []
    assert not _is_closed(after)


def test_dispose_during_a_read_closes_the_connection_when_it_ends(database: tuple[Path, Engine]) -> None:
    _path, engine = database
    with _reader(engine), storage.transaction(engine) as connection:
        driver = connection.connection.dbapi_connection
        engine.dispose()  # as a write in another thread does after an unwritable database
        assert _NAMES.all(connection) == []
    assert _is_closed(driver)
