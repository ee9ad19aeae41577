"""Database access shared by all routes: engines, short transactions, schema, settings, dates.

Nothing read from the database outlives one request: every request opens a transaction with
:func:`transaction`, which commits (or rolls back) and returns the connection to the pool before
the response is sent, so other processes sharing the database see and may change everything.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateIndex

from pymesync.server import auth, schema

#: How long SQLite waits for another writer's lock before giving up, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 15000
_WRITE_OPTION = "pymesync_write"
_DAY_MS = 86_400_000
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def normalise_url(url: str) -> str:
    """Map the URLs users type to SQLAlchemy's: ``postgresql://`` means psycopg 3."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_engine(url: str) -> Engine:
    """An engine for SQLite (WAL, busy timeout, foreign keys) or PostgreSQL.

    Statement parameters are kept out of error messages: they may hold password hashes.
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return sa.create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_recycle=3600,
        pool_pre_ping=True,
        hide_parameters=True,
    )


#: umask while SQLite opens a database: a file it creates is private to the server's account.
_PRIVATE_UMASK = 0o077
_umask_lock = threading.Lock()


def _connect_privately(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    """Open a SQLite connection with umask 077, so a new database file is mode 0600.

    The file holds the token signing secret and password hashes. SQLite gives the ``-wal`` and
    ``-shm`` files it creates later (after each checkpoint or restart) the mode of the database
    file, so they stay 0600 too. umask is process-wide: the lock keeps two connecting threads
    from restoring each other's value.
    """
    with _umask_lock:
        previous = os.umask(_PRIVATE_UMASK)
        try:
            return dialect.connect(*cargs, **cparams)
        finally:
            os.umask(previous)


def _sqlite_engine(url: str) -> Engine:
    engine = sa.create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        hide_parameters=True,
    )
    sa.event.listen(engine, "do_connect", _connect_privately)

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Driver-level autocommit: SQLAlchemy's "begin" event below issues BEGIN itself, so
        # writers can take the write lock up front (BEGIN IMMEDIATE) instead of failing to
        # upgrade a read lock when another process wrote in between.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@contextmanager
def transaction(engine: Engine, *, write: bool = False) -> Iterator[Connection]:
    """One short transaction: committed when the block ends, rolled back if it raises."""
    with engine.connect() as connection:
        if write:
            connection.execution_options(**{_WRITE_OPTION: True})
        with connection.begin():
            yield connection


def create_schema(engine: Engine) -> None:
    """Create whatever is missing of the schema; never alters existing tables."""
    schema.metadata.create_all(engine, checkfirst=True)
    with transaction(engine, write=True) as connection:
        for index in schema.EXTRA_INDEXES:
            connection.execute(CreateIndex(index, if_not_exists=True))


_SECRET_SETTING = "token_secret"


def token_secret(engine: Engine) -> str:
    """The token signing secret kept in the database, generated on first use.

    Every worker and every restart reads the same value, so they all accept the same tokens.
    """
    table = schema.settings
    query = sa.select(table.c.value).where(table.c.name == _SECRET_SETTING)
    with transaction(engine, write=True) as connection:
        existing = connection.execute(query).scalar_one_or_none()
        if existing is not None:
            return str(existing)
        fresh = secrets.token_urlsafe(64)
        connection.execute(sa.insert(table).values(name=_SECRET_SETTING, value=fresh))
        return fresh


def now_ms() -> int:
    return int(time.time() * 1000)


@lru_cache(maxsize=65536)
def _day_string(day: int) -> str | None:
    try:
        return dt.date.fromordinal(_EPOCH_ORDINAL + day).isoformat()
    except (ValueError, OverflowError):
        return None


def ms_to_date(ms: int | float | None) -> str | None:
    """Epoch milliseconds to the UTC ``YYYY-MM-DD`` the API shows."""
    if ms is None:
        return None
    return _day_string(int(ms) // _DAY_MS)


def date_to_ms(day: dt.date) -> int:
    """UTC midnight of ``day`` in epoch milliseconds."""
    return (day.toordinal() - _EPOCH_ORDINAL) * _DAY_MS


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def insert_user(
    connection: Connection,
    username: str,
    password: str,
    *,
    site_admin: bool = False,
    site_manager: bool = False,
    site_spectator: bool = False,
    bcrypt_rounds: int = auth.BCRYPT_ROUNDS,
) -> None:
    """Add a user with the password stored as :func:`auth.password_for_storage` decides."""
    connection.execute(
        sa.insert(schema.users).values(
            username=username,
            password=auth.password_for_storage(password, bcrypt_rounds),
            site_admin=site_admin,
            site_manager=site_manager,
            site_spectator=site_spectator,
            active=True,
            created_at=now_ms(),
        )
    )


def user_exists(connection: Connection, username: str) -> bool:
    query = sa.select(schema.users.c.id).where(schema.users.c.username == username)
    return connection.execute(query).first() is not None


def set_password(connection: Connection, username: str, password: str) -> bool:
    """Replace a user's password; False when there is no such user."""
    result = connection.execute(
        sa.update(schema.users)
        .where(schema.users.c.username == username)
        .values(password=auth.password_for_storage(password), updated_at=now_ms())
    )
    return result.rowcount > 0
