"""Database access shared by all routes: engines, short transactions, schema, settings, dates.

Nothing read from the database outlives one request: every request opens a transaction with
:func:`transaction`, which commits (or rolls back) and returns the connection to the pool before
the response is sent, so other processes sharing the database see and may change everything.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import hashlib
import os
import secrets
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.schema import CreateIndex

from pymesync.server import auth, schema
from pymesync.server.errors import ConfigError

#: How long SQLite waits for another writer's lock before giving up, in milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 15000
#: How long a PostgreSQL statement waits for a lock before giving up, in milliseconds.
POSTGRES_LOCK_TIMEOUT_MS = 10000
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
    engine = sa.create_engine(
        url,
        connect_args={"options": f"-c lock_timeout={POSTGRES_LOCK_TIMEOUT_MS}"},
        pool_size=10,
        max_overflow=20,
        pool_recycle=3600,
        pool_pre_ping=True,
        hide_parameters=True,
    )
    _watch_writability(engine)
    sa.event.listen(engine, "connect", _note_read_only_session)
    return engine


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
    _sqlite_writers[engine] = threading.RLock()  # a write opened inside a write waits for SQLite, as before
    _inline_readers[engine] = InlineReader(engine)
    _watch_writability(engine)

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Driver-level autocommit: SQLAlchemy's "begin" event below issues BEGIN itself, so
        # writers can take the write lock up front (BEGIN IMMEDIATE) instead of failing to
        # upgrade a read lock when another process wrote in between.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        statement = "BEGIN IMMEDIATE" if connection.get_execution_options().get(_WRITE_OPTION) else "BEGIN"
        dbapi_connection: sqlite3.Connection = connection.connection.dbapi_connection  # type: ignore[assignment]
        if dbapi_connection.in_transaction and statement == "BEGIN":
            return  # an inline read began it (see InlineReader); SQLAlchemy's transaction joins it
        # on the driver's connection: through SQLAlchemy, running it cost 40 µs a request
        try:
            dbapi_connection.execute(statement)
        except sqlite3.Error as exc:
            if _is_unwritable_dbapi_error(exc):
                _unwritable_engines.add(engine)
            raise driver_error(statement, exc, engine.dialect) from exc

    return engine


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Put the database file in WAL mode (once set, it stays). Switching needs the file to itself,
    and SQLite then answers "locked" at once instead of waiting, which happens when servers start
    together on a new file: so wait here, within the busy timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


#: Per SQLite engine, the lock its writing threads queue on (see :func:`_one_writer`).
_sqlite_writers: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


@contextmanager
def _one_writer(engine: Engine) -> Iterator[None]:
    """Let one thread of this process at a time start a SQLite write.

    SQLite lets one transaction write at a time and makes the others poll: a writer that finds
    the database locked sleeps 1, 2, 5, 10 ms... before trying again, so writers of one process
    that meet each other lose milliseconds each time. Queued on a lock here, the next one starts
    the moment the previous one ends. Waiting is bounded by the busy timeout, as SQLite's is.
    """
    writer = _sqlite_writers.get(engine)
    if writer is None:
        yield
        return
    if not writer.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
        raise sa.exc.TimeoutError("another thread kept writing for the whole busy timeout")
    try:
        yield
    finally:
        writer.release()


@contextmanager
def transaction(engine: Engine, *, write: bool = False) -> Iterator[Connection]:
    """One short transaction: committed when the block ends, rolled back if it raises.

    A write runs on a connection that sees the database as it is now (see :func:`_watch_writability`).
    A read on PostgreSQL runs without BEGIN and COMMIT, two round trips of the four a small
    read makes: at READ COMMITTED every statement takes a fresh snapshot anyway. A read inside
    :class:`InlineReader`'s block runs on that thread's own SQLite connection.
    """
    reader: InlineReader | None = getattr(_thread, "reader", None)
    if not write and reader is not None and reader.engine is engine:
        connection = reader.begin()
        if connection is not None:
            try:
                yield connection
            except BaseException as exc:
                reader.end(commit=False, keep=not isinstance(exc, sa.exc.DBAPIError))
                raise
            reader.end(commit=True)
            return
    if write and engine in _unwritable_engines:
        engine.dispose()
    with _one_writer(engine) if write else contextlib.nullcontext(), engine.connect() as connection:
        if write:
            if connection.info.get(_READ_ONLY_SESSION):
                connection.invalidate()
            connection.execution_options(**{_WRITE_OPTION: True})
        elif takes_locks(connection):
            connection.execution_options(isolation_level="AUTOCOMMIT")
        with connection.begin():
            yield connection
        if write:
            _unwritable_engines.discard(engine)


#: What this thread does now: ``reader``, the :class:`InlineReader` whose block it is in, if any.
_thread = threading.local()


def driver_error(statement: str, error: Exception, dialect: sa.Dialect) -> sa.exc.StatementError:
    """A driver's error as ``Connection.execute`` would raise it (what :func:`is_transient`,
    :func:`is_busy` and the handlers read), without the statement's parameters."""
    return sa.exc.DBAPIError.instance(
        statement, None, error, dialect.loaded_dbapi.Error, hide_parameters=True, dialect=dialect
    )


class InlineReader:
    """Read transactions of one SQLite engine for handlers that run on the event loop, each on the
    loop thread's own connection, kept open, with BEGIN and COMMIT sent straight to the driver.

    Reads on the event loop never overlap (handlers are synchronous), so one connection per thread
    is enough; checking one out of SQLAlchemy's pool, its transaction objects and events, and
    checking it back in cost more than the reads of a small request. Each request still reads in a
    transaction of its own, so it sees every commit made before it began, by any process (WAL). A
    handler may still run SQLAlchemy statements on the connection: their transaction joins ours
    (see the engine's ``begin`` listener) and ends with it.

    After a database error the connection is closed. :meth:`Engine.dispose` closes every idle one
    (and one in a transaction when it ends): SQLite keeps a read-only state per file until the last
    connection of the process closes, and writes dispose the engine to shed it
    (:func:`_watch_writability`).

    Used as a context manager, it makes :func:`transaction`'s reads of its engine in this thread
    run here; a read opened inside another (none does) takes a pool connection as before.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        #: Per thread id: (connection, its driver connection, the generation it was opened in).
        self._held: dict[int, tuple[Connection, sqlite3.Connection, int]] = {}
        self._generation = 0
        self._lock = threading.Lock()  # against Engine.dispose in another thread
        sa.event.listen(engine, "engine_disposed", self._disposed)

    def __enter__(self) -> None:
        _thread.reader = self

    def __exit__(self, *_exc: object) -> None:
        _thread.reader = None

    def begin(self) -> Connection | None:
        """This thread's connection in a new read transaction; None if it is in one already."""
        thread = threading.get_ident()
        with self._lock:
            held = self._held.get(thread)
            if held is None or held[2] != self._generation:
                held = self._open(thread)
            connection, driver, _ = held
            if driver.in_transaction:
                return None
            try:
                driver.execute("BEGIN")
            except sqlite3.Error as exc:
                self._close(thread)
                raise driver_error("BEGIN", exc, self.engine.dialect) from exc
        return connection

    def end(self, *, commit: bool, keep: bool = True) -> None:
        """Commit or roll back what :meth:`begin` opened (and SQLAlchemy's transaction if it joined);
        close the connection unless ``keep`` (the transaction failed in the database)."""
        thread = threading.get_ident()
        connection, driver, generation = self._held[thread]
        try:
            if connection.in_transaction():
                connection.commit() if commit else connection.rollback()
            else:
                driver.commit() if commit else driver.rollback()
        except Exception as exc:
            self._close(thread)
            if not commit:
                return  # the error that ends the transaction is the one to report
            if isinstance(exc, sqlite3.Error):
                raise driver_error("COMMIT", exc, self.engine.dialect) from exc
            raise
        if not keep or generation != self._generation:
            with self._lock:
                self._close(thread)

    def _open(self, thread: int) -> tuple[Connection, sqlite3.Connection, int]:
        self._close(thread)
        connection = self.engine.connect()
        driver: sqlite3.Connection = connection.connection.dbapi_connection  # type: ignore[assignment]
        held = self._held[thread] = (connection, driver, self._generation)
        return held

    def _close(self, thread: int) -> None:
        held = self._held.pop(thread, None)
        if held is not None:
            with contextlib.suppress(Exception):
                held[0].invalidate()
                held[0].close()

    def _disposed(self, _engine: Engine) -> None:
        with self._lock:
            self._generation += 1
            for thread, (_, driver, _) in list(self._held.items()):
                if not driver.in_transaction:
                    self._close(thread)


#: Per SQLite engine, its :class:`InlineReader`.
_inline_readers: weakref.WeakKeyDictionary[Engine, InlineReader] = weakref.WeakKeyDictionary()


def inline_reader(engine: Engine) -> InlineReader | None:
    """The engine's :class:`InlineReader` (SQLite), else None."""
    return _inline_readers.get(engine)


class Read:
    """A SELECT compiled once per dialect and run straight on the DBAPI cursor of a transaction.

    SQLAlchemy's execution machinery (execution context, events, result objects, a processor per
    value) costs several times what an indexed read of one row costs the database; the reads
    every request makes skip it. Rows are named tuples of the statement's column names holding
    the driver's values: 0 and 1 for booleans on SQLite, :class:`uuid.UUID` for uuids on
    PostgreSQL (readers use ``bool()`` and ``str()``). Errors are SQLAlchemy's, as from
    ``Connection.execute``, without the parameters.
    """

    def __init__(self, statement: sa.Select[Any] | sa.TextualSelect) -> None:
        self._statement = statement
        self._row: Any = collections.namedtuple("Row", statement.selected_columns.keys())  # type: ignore[misc]
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def _compile(self, dialect: sa.Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        compiled = self._statement.compile(dialect=dialect)
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        found = self._compiled[dialect.name] = (str(compiled), order, dict(compiled.params))
        return found

    def all(self, connection: Connection, **params: Any) -> list[Any]:
        return list(map(self._row._make, self.tuples(connection, **params)))

    def tuples(self, connection: Connection, **params: Any) -> list[tuple[Any, ...]]:
        """The rows as plain tuples (for many rows read by position)."""
        dialect = connection.dialect
        sql, order, defaults = self._compiled.get(dialect.name) or self._compile(dialect)
        values = {**defaults, **params} if defaults else params
        arguments = values if order is None else [values[name] for name in order]
        driver = connection.connection.dbapi_connection
        try:
            if isinstance(driver, sqlite3.Connection):  # its cursor closes when dropped, here
                return driver.execute(sql, arguments).fetchall()
            cursor = driver.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(sql, arguments)
                return list(cursor.fetchall())
            finally:
                cursor.close()
        except dialect.loaded_dbapi.Error as exc:
            raise driver_error(sql, exc, dialect) from exc

    def first(self, connection: Connection, **params: Any) -> Any:
        rows = self.all(connection, **params)
        return rows[0] if rows else None


class Insert:
    """An INSERT of one row into ``table`` (of the ``columns`` given), compiled once per dialect
    and run straight on the DBAPI cursor, as :class:`Read` runs SELECTs: SQLAlchemy's execution
    machinery cost more than the insert of a small row. Values go to the driver as given (no
    type processing): plain ints, strings, booleans and None. Errors are SQLAlchemy's, without the
    parameters, and an unwritable database is noted as :func:`_watch_writability` notes it.
    """

    def __init__(self, table: sa.Table, columns: tuple[str, ...]) -> None:
        self._statement = sa.insert(table)
        self._columns = list(columns)
        self._id = table.c.id
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}

    def _compile(self, dialect: sa.Dialect, returning: bool) -> tuple[str, tuple[str, ...] | None]:
        statement = self._statement.returning(self._id) if returning else self._statement
        compiled = statement.compile(dialect=dialect, column_keys=self._columns)
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        found = self._compiled[f"{dialect.name}:{returning}"] = (str(compiled), order)
        return found

    def one(self, connection: Connection, **values: Any) -> int:
        """Insert a row; returns the id the database gave it."""
        new_id = self._run(connection, [values], want_id=True)
        if new_id is None:
            raise RuntimeError("the database returned no id for the new row")
        return new_id

    def many(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        self._run(connection, rows, want_id=False)

    def _run(self, connection: Connection, rows: list[dict[str, Any]], *, want_id: bool) -> int | None:
        dialect = connection.dialect
        # SQLite tells the new id without RETURNING (which it has only since 3.35)
        returning = want_id and dialect.name == "postgresql"
        sql, order = self._compiled.get(f"{dialect.name}:{returning}") or self._compile(dialect, returning)
        params: list[Any] = [row if order is None else tuple(row[name] for name in order) for row in rows]
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if len(params) == 1:
                cursor.execute(sql, params[0])
            else:
                cursor.executemany(sql, params)
            if not want_id:
                return None
            if not returning:
                return cursor.lastrowid
            inserted = cursor.fetchone()
            return None if inserted is None else int(inserted[0])
        except dialect.loaded_dbapi.Error as exc:
            if _is_unwritable_dbapi_error(exc):
                _unwritable_engines.add(connection.engine)
            raise driver_error(sql, exc, dialect) from exc
        finally:
            cursor.close()


def driver_rows(connection: Connection, statement: sa.Select[Any]) -> list[tuple[Any, ...]]:
    """Run ``statement`` and return the driver's rows: plain tuples of the driver's values, as
    :class:`Read` gives them, without SQLAlchemy's row objects and per-value processing (a
    third of the time of a page of a long list)."""
    result = connection.execute(statement)
    try:
        rows: list[tuple[Any, ...]] = list(result.cursor.fetchall())
    finally:
        result.close()
    return rows


class Contention(Exception):
    """A write met concurrent writes and must run again from the start of its transaction."""


#: SQLSTATEs after which running the whole transaction again can succeed: serialisation
#: failure, deadlock (one of the two is chosen to fail), and a unique violation (a concurrent
#: writer, perhaps another program, took the value first; the rerun sees it and answers 4xx).
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "23505"})
#: Lock wait timeout: something holds the lock for long; waiting again would not help.
_LOCK_TIMEOUT_SQLSTATE = "55P03"


def is_transient(error: BaseException) -> bool:
    """Whether the transaction that raised ``error`` may succeed when run again."""
    if isinstance(error, Contention):
        return True
    if isinstance(error, sa.exc.DBAPIError):
        return getattr(error.orig, "sqlstate", None) in _TRANSIENT_SQLSTATES
    return False


def is_busy(error: BaseException) -> bool:
    """Whether ``error`` means the database could not be had in time: a lock wait that timed
    out, SQLite still locked after its busy timeout, or no free connection in the pool."""
    if isinstance(error, sa.exc.TimeoutError):
        return True
    if isinstance(error, sa.exc.OperationalError):
        orig = error.orig
        if getattr(orig, "sqlstate", None) == _LOCK_TIMEOUT_SQLSTATE:
            return True
        return "database is locked" in str(orig)
    return False


#: PostgreSQL SQLSTATEs of a database that cannot store data now: a read-only transaction (the
#: database or role has ``default_transaction_read_only``, or the server is a hot standby) and a
#: server starting up, shutting down or in recovery. Class 53 (disk full, out of memory, too many
#: connections) is matched by its prefix.
_UNWRITABLE_SQLSTATES = frozenset({"25006", "57P03"})
_INSUFFICIENT_RESOURCES_CLASS = "53"
#: SQLite primary result codes of the same states: SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL
#: and SQLITE_CANTOPEN (a ``-wal`` or ``-shm`` file it may not create or open).
_UNWRITABLE_SQLITE_CODES = frozenset({8, 10, 13, 14})
#: Their messages, for Python 3.10, whose sqlite3 errors carry no result code.
_UNWRITABLE_SQLITE_MESSAGES = (
    "attempt to write a readonly database",
    "disk I/O error",
    "database or disk is full",
    "unable to open database file",
)


def is_unwritable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot store data now: its disk is full, it or its
    files are read-only, or the PostgreSQL server is out of resources, read-only or in recovery.

    These states end without the server's help (space is freed, the mode is reset), so the
    client is told to retry later; reads usually keep working meanwhile.
    """
    return isinstance(error, sa.exc.DBAPIError) and _is_unwritable_dbapi_error(error.orig)


def _is_unwritable_dbapi_error(error: BaseException | None) -> bool:
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in _UNWRITABLE_SQLSTATES or sqlstate.startswith(_INSUFFICIENT_RESOURCES_CLASS)
    if not isinstance(error, sqlite3.Error):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _UNWRITABLE_SQLITE_CODES
    return any(message in str(error) for message in _UNWRITABLE_SQLITE_MESSAGES)


#: Engines whose last write met an unwritable database, until a write succeeds again.
_unwritable_engines: weakref.WeakSet[Engine] = weakref.WeakSet()
#: ``connection.info`` key of a PostgreSQL session that started read-only.
_READ_ONLY_SESSION = "pymesync_read_only_session"


def _watch_writability(engine: Engine) -> None:
    """Let writes work again by themselves once the database can store data again.

    Connections can keep the state that failed: SQLite keeps a file it had to open read-only
    read-only (and its shared-memory index, which all its connections in the process share), and
    a PostgreSQL session keeps the ``default_transaction_read_only`` it started with. So after a
    write met an unwritable database, and until a write succeeds, each write first closes the
    engine's idle connections and runs on a fresh one. Faults are rare; reconnecting is cheap.
    """

    def note_failure(context: sa.engine.ExceptionContext) -> None:
        if _is_unwritable_dbapi_error(context.original_exception):
            _unwritable_engines.add(engine)

    sa.event.listen(engine, "handle_error", note_failure)


def _note_read_only_session(dbapi_connection: Any, record: Any) -> None:
    """Mark a PostgreSQL session that started read-only (the database's or role's
    ``default_transaction_read_only``, or a hot standby), so no write runs on it once the database
    is writable again. The server reports both settings when a session starts (PostgreSQL 14 and
    later), so this costs no round trip."""
    status = dbapi_connection.info.parameter_status
    if "on" in (status("default_transaction_read_only"), status("in_hot_standby")):
        record.info[_READ_ONLY_SESSION] = True


# One statement for any number of keys: unnest yields them in the array's (sorted) order, and the
# lock function runs once per key in that order.
_LOCK = sa.text("SELECT count(pg_advisory_xact_lock(key)) FROM unnest(CAST(:keys AS bigint[])) AS key")
_LOCK_SHARED = sa.text(
    "SELECT count(pg_advisory_xact_lock_shared(key)) FROM unnest(CAST(:keys AS bigint[])) AS key"
)


def takes_locks(connection: Connection) -> bool:
    """PostgreSQL runs writers side by side and needs :func:`lock`; SQLite runs one at a time."""
    return connection.dialect.name == "postgresql"


def lock(connection: Connection, *keys: str, shared: bool = False) -> None:
    """Hold each key until the transaction ends; writers of the same key wait for each other.

    PostgreSQL advisory locks belong to the database, so they also order writers in other
    worker processes and on other hosts. Statements after this one see everything the previous
    holder committed (READ COMMITTED takes a fresh snapshot per statement). Keys are taken in
    one order (their sorted ids) so two writers of the same keys cannot deadlock. A no-op on SQLite, where a
    write transaction holds the database's one write lock from its start (BEGIN IMMEDIATE).
    """
    if not keys or not takes_locks(connection):
        return
    ids = sorted({_lock_id(key) for key in keys})
    connection.execute(_LOCK_SHARED if shared else _LOCK, {"keys": ids})


def _lock_id(key: str) -> int:
    """A stable signed 64-bit number for a key: the same in every process and on every host."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8, person=b"timesync").digest()
    return int.from_bytes(digest, "big", signed=True)


def create_schema(engine: Engine) -> None:
    """Create whatever is missing of the schema; never alters existing tables.

    A complete schema is only read, so the server starts on a database it cannot write to now.
    Otherwise one transaction holding a lock creates the rest, so servers started together on an
    empty database (several hosts brought up at once) create it once: the others wait, then find
    every table there.
    """
    from pymesync.server import changelog  # it runs its statements with Read, defined here

    if _schema_is_complete(engine):
        return
    with transaction(engine, write=True) as connection:
        lock(connection, "pymesync:schema")
        schema.metadata.create_all(connection, checkfirst=True)
        for index in schema.EXTRA_INDEXES:
            connection.execute(CreateIndex(index, if_not_exists=True))
        changelog.create_triggers(connection)


def _schema_is_complete(engine: Engine) -> bool:
    inspector = sa.inspect(engine)
    if not set(inspector.get_table_names()).issuperset(schema.metadata.tables):
        return False
    tables = {index.table.name for index in schema.EXTRA_INDEXES if index.table is not None}
    existing = {index["name"] for table in tables for index in inspector.get_indexes(table)}
    if not all(index.name in existing for index in schema.EXTRA_INDEXES):
        return False
    from pymesync.server import changelog

    with engine.connect() as connection:
        return changelog.is_complete(connection)


_SECRET_SETTING = "token_secret"


def token_secret(engine: Engine) -> str:
    """The token signing secret kept in the database, generated on first use.

    Every worker and every restart reads the same value, so they all accept the same tokens. An
    existing secret is only read, so the server starts on a database it cannot write to now;
    when a new one cannot be stored, that is a :class:`errors.ConfigError` naming the reason.
    """
    table = schema.settings
    query = sa.select(table.c.value).where(table.c.name == _SECRET_SETTING)
    with transaction(engine) as connection:
        existing = connection.execute(query).scalar_one_or_none()
    if existing is not None:
        return str(existing)
    try:
        with transaction(engine, write=True) as connection:
            lock(connection, f"{table.name}:{_SECRET_SETTING}")
            existing = connection.execute(query).scalar_one_or_none()
            if existing is not None:
                return str(existing)
            fresh = secrets.token_urlsafe(64)
            connection.execute(sa.insert(table).values(name=_SECRET_SETTING, value=fresh))
            return fresh
    except sa.exc.DBAPIError as error:
        if not is_unwritable(error):
            raise
        reason = str(error.orig).splitlines()[0] if error.orig is not None else type(error).__name__
        raise ConfigError(f"cannot store the token secret in the database: {reason}") from None


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


def username_taken(connection: Connection, username: str) -> bool:
    """Whether a user (deleted or not) has this name in any case, so ``Admin`` cannot join ``admin``."""
    return user_named_like(connection, username) is not None


def user_named_like(connection: Connection, username: str) -> Row[Any] | None:
    """The user (deleted or not) whose name equals ``username`` in any case, else None; the exact
    name first, so commands can name what is in the way.

    Names compare by Unicode caseless matching (``str.casefold``), not ``lower``: it also folds ``ß``
    to ``ss`` and the Kelvin sign or long s to ``k`` and ``s``, so a name another program stored with
    such letters still blocks its plain look-alike. Databases cannot casefold, so every name is read;
    creating users is rare. Lookups stay exact: pairs already stored both keep working.
    """
    users = schema.users
    wanted = username.casefold()
    query: sa.Select[Any] = sa.select(users.c.id, users.c.username, users.c.deleted_at)
    rows = connection.execute(query).all()
    matches = [row for row in rows if row.username.casefold() == wanted]
    matches.sort(key=lambda row: row.username != username)
    return matches[0] if matches else None


def update_user(connection: Connection, user_id: int, changes: dict[str, Any]) -> None:
    """Apply checked ``changes`` to a user row: a plaintext or client-hashed ``password`` is stored as
    :func:`auth.password_for_storage` decides and voids the user's older tokens; ``deleted_at: None``
    restores a deleted user."""
    now = now_ms()
    values = dict(changes)
    if "password" in values:
        values["password"] = auth.password_for_storage(values["password"])
        void_tokens(connection, user_id, now)
    users = schema.users
    connection.execute(sa.update(users).where(users.c.id == user_id).values(**values, updated_at=now))


def delete_user(connection: Connection, user_id: int) -> None:
    """Soft-delete a user and void every token they hold."""
    now = now_ms()
    users = schema.users
    connection.execute(sa.update(users).where(users.c.id == user_id).values(deleted_at=now, updated_at=now))
    void_tokens(connection, user_id, now)


def void_tokens(connection: Connection, user_id: int, changed_at: int) -> None:
    """Refuse the user's tokens issued at or before ``changed_at`` (epoch ms): their password changed,
    or they were deleted. Tokens issued later (see :func:`token_floor`) are not affected."""
    table = schema.credential_changes
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(user_id=user_id, changed_at=changed_at)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.user_id], set_={"changed_at": statement.excluded.changed_at}
        )
    )


def token_floor(changed_at: int | None) -> int | None:
    """The earliest ``iat`` a new token may carry: after the last credential change, even one made in
    this same millisecond or by a machine whose clock runs ahead, so the token is not refused."""
    return None if changed_at is None else changed_at + 1
