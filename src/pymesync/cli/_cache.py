"""The local copy of the entries the server shows you, kept current with the changes feed.

``ls``, ``report`` and ``export`` read it: after the first sync, a sync asks the server only for what
changed (a server without the feed is compared in full, see ``Collection.changes``). One SQLite file per
profile in the cache directory; deleting it only costs a full read. A sync holds SQLite's write lock from
reading the token to storing the next one, so two processes syncing at once take turns.

Project slugs. A renamed project's times are not sent again by the feed, so the copy also follows the
projects (their uuid and slugs) and keeps, with each entry, the uuid of its project: a rename rewrites
the slugs of that project's entries, and every entry carries its project's slugs as the server lists them
now (all of them, sorted), even one stored from a create's echo that named a single slug.

Reports are summed here, in SQL, by the fields the grouping keys read
(:data:`pymesync.reports.GROUPED_FIELDS`): :meth:`EntryCache.gathered` hands ``pymesync.reports`` one
:class:`~pymesync.reports.Gathered` per set of alike entries instead of a year of entries one by one.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sqlite3
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from pymesync.cli._files import cache_file, make_parent, profile_file_part

if TYPE_CHECKING:
    from pymesync.client import Client
    from pymesync.models import Time
    from pymesync.reports import Gathered

#: Bumped when the layout changes: an older file is emptied and filled again.
LAYOUT = "4"
#: The fields of an entry, one column each: reading a year of entries builds the models straight from
#: the rows (about 5 µs an entry), without parsing JSON or validating again what the server sent.
FIELDS = (
    "uuid",
    "revision",
    "duration",
    "user",
    "project",
    "activities",
    "date_worked",
    "notes",
    "issue_uri",
    "created_at",
    "updated_at",
)


def _alike(row: str) -> str:
    """The name of an entry's group in ``totals`` (``row`` is NEW or OLD in a trigger)."""
    return " || ' ' || ".join(
        f"quote({row}.{name})" for name in ("user", "date_worked", "project", "activities")
    )


_ADD = (
    "INSERT INTO totals (alike, user, date_worked, project, activities, seconds, entries)"
    f" VALUES ({_alike('NEW')}, NEW.user, NEW.date_worked, NEW.project, NEW.activities, NEW.duration, 1)"
    " ON CONFLICT (alike) DO UPDATE SET seconds = seconds + excluded.seconds, entries = entries + 1;"
)
_REMOVE = (
    "UPDATE totals SET seconds = seconds - OLD.duration, entries = entries - 1"
    f" WHERE alike = {_alike('OLD')}; DELETE FROM totals WHERE alike = {_alike('OLD')} AND entries = 0;"
)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # position: the order entries were first seen, which is the server's (creation) order;
    # project_uuid: the project the slugs named when stored (NULL while that project is not known here)
    "CREATE TABLE IF NOT EXISTS entries (position INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT NOT NULL"
    " UNIQUE, revision INTEGER, duration INTEGER NOT NULL, user TEXT, project TEXT NOT NULL,"
    " activities TEXT NOT NULL, date_worked TEXT, notes TEXT, issue_uri TEXT, created_at TEXT,"
    " updated_at TEXT, project_uuid TEXT)",
    "CREATE INDEX IF NOT EXISTS entries_day ON entries (date_worked)",
    "CREATE TABLE IF NOT EXISTS projects (uuid TEXT PRIMARY KEY, slugs TEXT NOT NULL)",
    # the sums a report reads, per value of the fields it groups by, kept by the triggers below in the
    # same transaction as the entries; ``alike`` names the group (quote() keeps NULL apart from 'NULL')
    "CREATE TABLE IF NOT EXISTS totals (alike TEXT PRIMARY KEY, user TEXT, date_worked TEXT,"
    " project TEXT NOT NULL, activities TEXT NOT NULL, seconds INTEGER NOT NULL, entries INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS totals_day ON totals (user, date_worked)",
    f"CREATE TRIGGER IF NOT EXISTS entries_insert AFTER INSERT ON entries BEGIN {_ADD} END",
    f"CREATE TRIGGER IF NOT EXISTS entries_delete AFTER DELETE ON entries BEGIN {_REMOVE} END",
    f"CREATE TRIGGER IF NOT EXISTS entries_update AFTER UPDATE ON entries BEGIN {_REMOVE} {_ADD} END",
)
#: Between the slugs of a list (slugs never hold control characters).
_SEPARATOR = "\x1f"
#: Seconds a sync waits for another process's sync to finish.
LOCK_WAIT = 60.0


def cache_path(profile: str) -> str:
    return cache_file(f"entries-{profile_file_part(profile)}.sqlite")


class EntryCache:
    """The entries of one profile (one server and user)."""

    def __init__(self, path: str, owner: str) -> None:
        make_parent(path)
        self._db = sqlite3.connect(path, timeout=LOCK_WAIT, isolation_level=None)
        os.chmod(path, 0o600)
        # a commit need not wait for the disk: a power cut may undo the last sync, never half of it, and
        # the next sync reads those changes again (the outbox, which must not forget, waits for the disk)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._owner = f"{LAYOUT} {owner}"
        # a file this layout synced for this owner has its schema and WAL mode (both kept in the file)
        if self._stored_owner() != self._owner:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA[0])
            # another server, user or layout, or never synced (perhaps by an older layout): start anew
            with self._writing() as db:
                if self._meta("owner") != self._owner:  # again, now that no sync can be running
                    for table in ("entries", "projects", "totals"):  # the triggers go with entries
                        db.execute(f"DROP TABLE IF EXISTS {table}")
                    db.execute("DELETE FROM meta")
            for statement in _SCHEMA[1:]:
                self._db.execute(statement)
        #: slug -> (project uuid, all its slugs joined), read from the projects table when first needed
        self._projects: dict[str, tuple[str, str]] | None = None

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _stored_owner(self) -> str | None:
        """The owner the file was last synced for; None for a new file (no meta table yet)."""
        try:
            return self._meta("owner")
        except sqlite3.OperationalError:
            return None

    def _meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, name: str, value: str) -> None:
        """Written only when it changes: a sync that changed nothing then writes nothing, and closing
        the file has nothing to flush to disk."""
        if self._meta(name) != value:
            self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    @property
    def synced(self) -> bool:
        """Whether the cache was ever filled for this server and user."""
        return self._meta("owner") == self._owner and self._meta("token") is not None

    def sync(self, client: Client, *, projects: bool = True) -> int:
        """Bring the copy up to date; returns how many entries changed or went away.

        ``projects=False`` leaves the project slugs as they are (``log`` needs the entries, not their
        slugs); the next full sync brings any rename.
        """
        from pymesync._operations import FULL_READ_TOKEN

        with self._writing() as db:
            self._set_meta("owner", self._owner)
            if projects:
                self._sync_projects(client)
            token = self._meta("token")
            held: dict[str, Time] = {}
            if token == FULL_READ_TOKEN:  # the server has no feed: its list is compared with ours
                held = {entry.uuid or "": entry for entry in self.entries()}
            count = 0
            for page in client.times.iter_changes(token, held):  # one page in memory at a time
                if page.restarted:
                    db.execute("DELETE FROM entries")
                for entry in page.changed:
                    self._store(entry)
                if page.deleted:  # preparing the statement for nothing took 40 µs of every warm sync
                    db.executemany("DELETE FROM entries WHERE uuid = ?", [(uuid,) for uuid in page.deleted])
                token, count = page.token, count + len(page.changed) + len(page.deleted)
            self._set_meta("token", token or "")
            return count

    def _sync_projects(self, client: Client) -> None:
        """Follow the projects' slugs; a changed project rewrites the slugs of its entries."""
        from pymesync._operations import FULL_READ_TOKEN

        token = self._meta("projects_token")
        stored: dict[str, str] | None = None  # read when the feed names a project (a warm sync: none)
        # nothing held: where the server has no feed, every sync compares the whole list with ``stored``
        for page in client.projects.iter_changes(None if token == FULL_READ_TOKEN else token):
            for project in page.changed:
                if stored is None:
                    stored = dict(self._db.execute("SELECT uuid, slugs FROM projects").fetchall())
                slugs = _SEPARATOR.join(sorted(project.slugs))
                if project.uuid is None or not slugs or stored.get(project.uuid) == slugs:
                    continue
                stored[project.uuid] = slugs
                self._db.execute(
                    "INSERT OR REPLACE INTO projects (uuid, slugs) VALUES (?, ?)", (project.uuid, slugs)
                )
                self._db.execute(
                    "UPDATE entries SET project = ? WHERE project_uuid = ? AND project != ?",
                    (slugs, project.uuid, slugs),
                )
                for slug in project.slugs:  # entries stored before this project was known here
                    self._db.execute(
                        "UPDATE entries SET project = ?, project_uuid = ?"
                        f" WHERE project_uuid IS NULL AND {_HAS['project']}",
                        (slugs, project.uuid, slug),
                    )
            token = page.token
        self._set_meta("projects_token", token or "")
        self._projects = None

    def _project_of(self, slugs: tuple[str, ...]) -> tuple[str | None, str]:
        """The uuid and current slugs of the project ``slugs`` name, or ``(None, slugs)`` if not known."""
        if self._projects is None:
            self._projects = {
                slug: (uuid, joined)
                for uuid, joined in self._db.execute("SELECT uuid, slugs FROM projects")
                for slug in joined.split(_SEPARATOR)
            }
        for slug in slugs:
            found = self._projects.get(slug)
            if found is not None:
                return found
        return None, _SEPARATOR.join(slugs)

    def _store(self, entry: Time) -> None:
        project_uuid, slugs = self._project_of(entry.project)
        self._db.execute(_UPSERT, _row(entry, slugs, project_uuid))

    def store(self, entry: Time) -> None:
        """Keep an entry this command line just wrote, so it is there before the next sync."""
        with self._writing():
            self._store(entry)

    def entries(
        self,
        *,
        start: datetime.date | None = None,
        end: datetime.date | None = None,
        user: str | None = None,
        project: str | None = None,
        activity: str | None = None,
        uuid_prefix: str | None = None,
    ) -> Iterator[Time]:
        """Cached entries in the server's order, filtered as ``GET /times`` filters them."""
        from pymesync.models import Time

        where, params = _where(start, end, user, project, activity, uuid_prefix)
        days: dict[str | None, datetime.date | None] = {None: None}
        slugs: dict[str, tuple[str, ...]] = {"": ()}

        def day(text: str | None) -> datetime.date | None:
            found = days.get(text)
            if found is None and text is not None:
                found = days[text] = datetime.date.fromisoformat(text)
            return found

        def listed(text: str) -> tuple[str, ...]:
            found = slugs.get(text)
            if found is None:
                found = slugs[text] = tuple(text.split(_SEPARATOR))
            return found

        for row in self._db.execute(
            f"SELECT {', '.join(FIELDS)} FROM entries{where} ORDER BY position", params
        ):
            uuid, revision, duration, user, projects, activities, worked, notes, issue, created, updated = row
            yield Time(
                uuid=uuid,
                revision=revision,
                duration=duration,
                user=user,
                project=listed(projects),
                activities=listed(activities),
                date_worked=day(worked),
                notes=notes,
                issue_uri=issue,
                created_at=day(created),
                updated_at=day(updated),
            )

    def seconds(self, *, start: datetime.date | None, end: datetime.date | None, user: str | None) -> int:
        """The sum of the durations of the entries :meth:`entries` would give, read from the sums the
        triggers keep (no entry is built)."""
        where, params = _where(start, end, user, None, None)
        row = self._db.execute(f"SELECT COALESCE(SUM(seconds), 0) FROM totals{where}", params).fetchone()
        return int(row[0])

    def gathered(
        self,
        *,
        start: datetime.date | None = None,
        end: datetime.date | None = None,
        user: str | None = None,
        project: str | None = None,
        activity: str | None = None,
        step: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[Gathered]:
        """The entries :meth:`entries` would give, summed per value of ``fields`` (those a report's keys
        read, see :func:`pymesync.reports.fields_read`; by default every field reports group by). The
        other fields are left empty: a year of days summed per project is one row, not 365.

        ``step`` rounds each entry's duration up to a multiple of it first (billing increments), as
        ``-(-duration // step) * step`` does.
        """
        from pymesync.models import Time
        from pymesync.reports import GROUPED_FIELDS, Gathered

        assert set(GROUPED_FIELDS) == set(_GROUPED)  # the columns below
        # in the order the rows below read them; the fields not summed per value are NULL
        columns = [field if fields is None or field in fields else "NULL" for field in _GROUPED]
        grouped = ", ".join(column for column in columns if column != "NULL") or "NULL"
        seconds, count = "seconds", "entries"  # summed already, as the entries were stored
        table = "totals"
        if step:  # integer division truncates: up for negative durations, so only positive ones add
            seconds = f"(duration + (duration > 0) * ({int(step)} - 1)) / {int(step)} * {int(step)}"
            count, table = "1", "entries"
        where, params = _where(start, end, user, project, activity)
        sums = f"SUM({seconds}), SUM({count})"
        rows = self._db.execute(
            f"SELECT {', '.join(columns)}, {sums} FROM {table}{where} GROUP BY {grouped}", params
        )
        return [
            Gathered(
                Time(
                    user=who,
                    project=tuple(slugs.split(_SEPARATOR)) if slugs else (),
                    activities=tuple(kinds.split(_SEPARATOR)) if kinds else (),
                    date_worked=None if day is None else datetime.date.fromisoformat(day),
                ),
                total,
                entries,
            )
            for who, day, slugs, kinds, total, entries in rows
        ]

    def get(self, uuid: str) -> Time | None:
        found = self.starting_with(uuid)
        return found[0] if len(found) == 1 and found[0].uuid == uuid else None

    def starting_with(self, prefix: str) -> list[Time]:
        """Cached entries whose uuid starts with ``prefix`` (to name an entry while offline)."""
        return list(self.entries(uuid_prefix=prefix))


#: Whether a column's list of slugs (joined by _SEPARATOR, which is char(31)) holds the slug given.
_HAS = {
    column: f"instr(char(31) || {column} || char(31), char(31) || ? || char(31)) > 0"
    for column in ("project", "activities")
}


def _where(
    start: datetime.date | None,
    end: datetime.date | None,
    user: str | None,
    project: str | None,
    activity: str | None,
    uuid_prefix: str | None = None,
) -> tuple[str, list[str]]:
    """The WHERE clause (with a leading space, or empty) choosing entries as ``GET /times`` filters them."""
    clauses, params = [], list[str]()
    if uuid_prefix is not None:  # uuids hold no LIKE wildcards; anything else matches nothing
        clauses.append("uuid LIKE ?")
        params.append(uuid_prefix.replace("%", "").replace("_", "") + "%")
    if start is not None:
        clauses.append("date_worked >= ?")
        params.append(start.isoformat())
    if end is not None:
        clauses.append("date_worked <= ?")
        params.append(end.isoformat())
    if user is not None:
        clauses.append("user = ?")
        params.append(user)
    for column, slug in (("project", project), ("activities", activity)):
        if slug is not None:
            clauses.append(_HAS[column])
            params.append(slug)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


#: The fields reports group by (:data:`pymesync.reports.GROUPED_FIELDS`, each stored in the column of its
#: name), in the order :meth:`EntryCache.gathered` reads them.
_GROUPED = ("user", "date_worked", "project", "activities")


def _day(value: datetime.date | None) -> str | None:
    return None if value is None else value.isoformat()


_STORED = (*FIELDS, "project_uuid")
#: An entry's row: the project column is replaced by its project's current slugs where known.
_UPSERT = (
    f"INSERT INTO entries ({', '.join(_STORED)}) VALUES ({', '.join('?' * len(_STORED))}) ON CONFLICT (uuid)"
    f" DO UPDATE SET {', '.join(f'{name} = excluded.{name}' for name in _STORED[1:])}"
)


def _row(entry: Time, slugs: str, project_uuid: str | None) -> tuple[object, ...]:
    """The values of :data:`_STORED`; the project's as :meth:`EntryCache._project_of` found them."""
    return (
        entry.uuid,
        entry.revision,
        entry.duration,
        entry.user,
        slugs,
        _SEPARATOR.join(entry.activities),
        _day(entry.date_worked),
        entry.notes,
        entry.issue_uri,
        _day(entry.created_at),
        _day(entry.updated_at),
        project_uuid,
    )
