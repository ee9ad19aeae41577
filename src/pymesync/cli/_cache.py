"""The local copy of the entries the server shows you, kept current with the changes feed.

``ls``, ``report`` and ``export`` read it: after the first sync, a sync asks the server only for what
changed (a server without the feed is compared in full, see ``Collection.changes``). One SQLite file per
profile in the cache directory; deleting it only costs a full read. A sync holds SQLite's write lock from
reading the token to storing the next one, so two processes syncing at once take turns.
"""

from __future__ import annotations

import contextlib
import datetime
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pymesync.cli._files import cache_dir

if TYPE_CHECKING:
    from pymesync.client import Client
    from pymesync.models import Time

#: Bumped when the layout changes: an older file is emptied and filled again.
LAYOUT = "2"
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
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # position: the order entries were first seen, which is the server's (creation) order
    "CREATE TABLE IF NOT EXISTS entries (position INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT NOT NULL"
    " UNIQUE, revision INTEGER, duration INTEGER NOT NULL, user TEXT, project TEXT NOT NULL,"
    " activities TEXT NOT NULL, date_worked TEXT, notes TEXT, issue_uri TEXT, created_at TEXT,"
    " updated_at TEXT)",
    "CREATE INDEX IF NOT EXISTS entries_day ON entries (date_worked)",
)
#: Between the slugs of a list (slugs never hold control characters).
_SEPARATOR = "\x1f"
#: Seconds a sync waits for another process's sync to finish.
LOCK_WAIT = 60.0


def cache_path(profile: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in profile)
    return cache_dir() / f"entries-{safe}.sqlite"


class EntryCache:
    """The entries of one profile (one server and user)."""

    def __init__(self, path: Path, owner: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=LOCK_WAIT, isolation_level=None)
        path.chmod(0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._owner = f"{LAYOUT} {owner}"
        self._db.execute(_SCHEMA[0])
        if self._meta("owner") not in (None, self._owner):  # another server, user or layout: start anew
            with self._writing() as db:
                db.execute("DROP TABLE IF EXISTS entries")
                db.execute("DELETE FROM meta")
        for statement in _SCHEMA[1:]:
            self._db.execute(statement)

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

    def _meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    @property
    def synced(self) -> bool:
        """Whether the cache was ever filled for this server and user."""
        return self._meta("owner") == self._owner and self._meta("token") is not None

    def sync(self, client: Client) -> int:
        """Bring the copy up to date; returns how many entries changed or went away."""
        from pymesync._operations import FULL_READ_TOKEN

        with self._writing() as db:
            self._set_meta("owner", self._owner)
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
                db.executemany("DELETE FROM entries WHERE uuid = ?", [(uuid,) for uuid in page.deleted])
                token, count = page.token, count + len(page.changed) + len(page.deleted)
            self._set_meta("token", token or "")
            self._set_meta("synced_at", datetime.datetime.now(datetime.timezone.utc).isoformat())
            return count

    def _store(self, entry: Time) -> None:
        self._db.execute(_UPSERT, _row(entry))

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

        query, params = f"SELECT {', '.join(FIELDS)} FROM entries WHERE 1 = 1", list[str]()
        if start is not None:
            query, params = query + " AND date_worked >= ?", [*params, start.isoformat()]
        if end is not None:
            query, params = query + " AND date_worked <= ?", [*params, end.isoformat()]
        if user is not None:
            query, params = query + " AND user = ?", [*params, user]
        if uuid_prefix is not None:  # uuids hold no LIKE wildcards; anything else matches nothing
            query, params = (
                query + " AND uuid LIKE ?",
                [*params, uuid_prefix.replace("%", "").replace("_", "") + "%"],
            )
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

        for row in self._db.execute(query + " ORDER BY position", params):
            uuid, revision, duration, user, projects, activities, worked, notes, issue, created, updated = row
            entry = Time(
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
            if project is not None and project not in entry.project:
                continue
            if activity is not None and activity not in entry.activities:
                continue
            yield entry

    def get(self, uuid: str) -> Time | None:
        found = self.starting_with(uuid)
        return found[0] if len(found) == 1 and found[0].uuid == uuid else None

    def starting_with(self, prefix: str) -> list[Time]:
        """Cached entries whose uuid starts with ``prefix`` (to name an entry while offline)."""
        return list(self.entries(uuid_prefix=prefix))

    def synced_at(self) -> str | None:
        return self._meta("synced_at")


def _day(value: datetime.date | None) -> str | None:
    return None if value is None else value.isoformat()


_UPSERT = (
    f"INSERT INTO entries ({', '.join(FIELDS)}) VALUES ({', '.join('?' * len(FIELDS))}) ON CONFLICT (uuid)"
    f" DO UPDATE SET {', '.join(f'{name} = excluded.{name}' for name in FIELDS[1:])}"
)


def _row(entry: Time) -> tuple[object, ...]:
    return (
        entry.uuid,
        entry.revision,
        entry.duration,
        entry.user,
        _SEPARATOR.join(entry.project),
        _SEPARATOR.join(entry.activities),
        _day(entry.date_worked),
        entry.notes,
        entry.issue_uri,
        _day(entry.created_at),
        _day(entry.updated_at),
    )
