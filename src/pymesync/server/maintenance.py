"""Operator work on a whole database: online backups and consistency checks.

Both only read the database, so they are safe while servers run. Failures are
:class:`MaintenanceError`, one line for the operator, never with a password in it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pymesync.server import schema, storage

#: Tables whose rows are revisions of an object: every uuid has exactly one newest row.
REVISIONED = (schema.projects, schema.activities, schema.times)


class MaintenanceError(Exception):
    """The backup or check could not be done; the message is one line."""


@contextlib.contextmanager
def _private_new_file(target: Path) -> Iterator[Path]:
    """A fresh 0600 file next to ``target`` to write into; when the block succeeds it becomes
    ``target`` (which must not exist: a backup never replaces a file), else it is removed."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise MaintenanceError(f"cannot write {target}: {exc.strerror}") from None
    try:
        yield partial
        try:
            os.link(partial, target)
        except FileExistsError:
            raise MaintenanceError(f"{target} exists; a backup never replaces a file") from None
        except OSError as exc:
            raise MaintenanceError(f"cannot write {target}: {exc.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)


def backup(engine: Engine, target: Path) -> None:
    """Write a consistent copy of the database to ``target`` (mode 0600) while servers run.

    SQLite: a SQLite file made with SQLite's backup API, which copies one snapshot even in WAL
    mode; restore it by putting it in place of the database file. PostgreSQL: ``pg_dump``'s
    custom format (one REPEATABLE READ snapshot); restore it with ``pg_restore``.
    """
    if target.exists():
        raise MaintenanceError(f"{target} exists; a backup never replaces a file")
    with _private_new_file(target) as partial:
        if engine.dialect.name == "sqlite":
            _backup_sqlite(engine, partial)
        else:
            _backup_postgresql(engine.url, partial)


def _backup_sqlite(engine: Engine, partial: Path) -> None:
    path = engine.url.database
    if not path or path == ":memory:":
        raise MaintenanceError("only a SQLite database in a file can be backed up")
    try:
        source = sqlite3.connect(path, timeout=storage.SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            copy = sqlite3.connect(partial)
            try:
                source.backup(copy)  # all pages in one step: one consistent snapshot
            finally:
                copy.close()
        finally:
            source.close()
    except sqlite3.Error as exc:
        raise MaintenanceError(f"cannot back up {path}: {exc}") from None


#: libpq's environment variables for the parts of a URL; the password never goes on a command line.
_LIBPQ_ENVIRONMENT = {"host": "PGHOST", "port": "PGPORT", "username": "PGUSER", "password": "PGPASSWORD"}


def _backup_postgresql(url: sa.URL, partial: Path) -> None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise MaintenanceError(
            "pg_dump is not installed; install the PostgreSQL client tools of your server's version "
            "(Debian and Ubuntu: apt install postgresql-client)"
        )
    env = {name: value for name, value in os.environ.items() if not name.startswith("PG")}
    for part, variable in _LIBPQ_ENVIRONMENT.items():
        value = getattr(url, part)
        if value is not None:
            env[variable] = str(value)
    env["PGDATABASE"] = url.database or ""
    for name, value in url.query.items():  # sslmode=require and the like
        env[f"PG{name.upper()}"] = value if isinstance(value, str) else value[-1]
    with partial.open("wb") as output:
        done = subprocess.run(
            [pg_dump, "--format=custom", "--no-password"],
            stdout=output,
            stderr=subprocess.PIPE,
            env=env,
            check=False,
        )
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"]
        raise MaintenanceError(f"pg_dump failed: {lines[0].removeprefix('pg_dump: error: ')}")


@dataclass
class Report:
    """What :func:`check` found: problems (empty when the database is sound) and counts."""

    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def check(engine: Engine) -> Report:
    """Check the schema (every table of the reference and ours, with the columns we use) and the
    data (one newest row per object, slugs on live newest revisions, unique names), plus SQLite's
    own ``PRAGMA integrity_check``; count users, projects, activities and times."""
    report = Report()
    inspector = sa.inspect(engine)
    present = set(inspector.get_table_names())
    complete = True
    for table in schema.metadata.sorted_tables:
        if table.name not in present:
            report.problems.append(f"table {table.name} is missing")
            complete = False
            continue
        columns = {column["name"] for column in inspector.get_columns(table.name)}
        missing = [column.name for column in table.columns if column.name not in columns]
        if missing:
            report.problems.append(f"table {table.name} lacks the columns {', '.join(missing)}")
            complete = False
    with storage.transaction(engine) as connection:
        if engine.dialect.name == "sqlite":
            verdict = [row[0] for row in connection.exec_driver_sql("PRAGMA integrity_check")]
            if verdict != ["ok"]:
                report.problems.append(f"SQLite integrity_check: {'; '.join(verdict[:3])}")
        if complete:
            _check_data(connection, report)
    return report


def _check_data(connection: Connection, report: Report) -> None:
    for table in REVISIONED:
        newest = sa.func.sum(sa.case((table.c.newest.is_(True), 1), else_=0))
        grouped = sa.select(table.c.uuid, newest.label("n")).group_by(table.c.uuid).subquery()
        bad = connection.execute(
            sa.select(sa.func.count()).select_from(grouped).where(grouped.c.n != 1)
        ).scalar_one()
        if bad:
            report.problems.append(f"{table.name}: {bad} objects do not have exactly one newest row")
    projects, slugs = schema.projects, schema.projectslugs
    stray = connection.execute(
        sa.select(slugs.c.name)
        .outerjoin(projects, projects.c.id == slugs.c.project)
        .where(sa.or_(projects.c.id.is_(None), projects.c.newest.is_not(True)))
        .order_by(slugs.c.name)
    ).scalars()
    stray_slugs = list(stray)
    if stray_slugs:
        report.problems.append(
            f"project slugs not on a newest project revision: {', '.join(stray_slugs[:10])}"
        )
    activities = schema.activities
    doubled = connection.execute(
        sa.select(activities.c.slug)
        .where(activities.c.newest.is_(True), activities.c.slug.is_not(None))
        .group_by(activities.c.slug)
        .having(sa.func.count() > 1)
    ).scalars()
    doubled_slugs = sorted(doubled)
    if doubled_slugs:
        report.problems.append(f"activity slugs held by several activities: {', '.join(doubled_slugs[:10])}")
    users = schema.users
    report.counts = {
        "users": _count(connection, users, users.c.deleted_at.is_(None)),
        "deleted users": _count(connection, users, users.c.deleted_at.is_not(None)),
        **{
            table.name: _count(connection, table, table.c.newest.is_(True), table.c.deleted_at.is_(None))
            for table in REVISIONED
        },
    }


def _count(connection: Connection, table: sa.Table, *conditions: sa.ColumnElement[bool]) -> int:
    return int(
        connection.execute(sa.select(sa.func.count()).select_from(table).where(*conditions)).scalar_one()
    )
