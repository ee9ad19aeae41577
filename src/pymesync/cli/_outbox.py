"""The outbox: entries logged (``log``, ``stop``) and edits (``edit``) waiting to be sent, in order.

Every ``log`` passes through it: the entry is written here first, then sent. When the server cannot be
reached it stays here (the command says so, exit 7) and ``timesync sync``, or the next command that
reaches the server, sends it.

Never twice. Before an entry is first sent, the ids of the identical entries already on the server (from
the entry cache, just synced) are written down with it. If the answer is lost (the connection dropped
after the server stored it), the next attempt syncs the cache and finds an identical entry that is not
in that list: that one is ours, and nothing is sent again. The whole sending holds an exclusive lock on
the outbox, so two processes never send the same item.

Edits are sent with the revision they were based on (``If-Match``); if the entry changed on the server
meanwhile, the edit is kept as a conflict for the person to resolve, never applied.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pymesync.cli._errors import CliError, ExitCode
from pymesync.cli._files import make_parent, outbox_path

if TYPE_CHECKING:
    from pymesync.cli._app import App
    from pymesync.cli._cache import EntryCache
    from pymesync.models import Time

QUEUED, SENDING, CONFLICT, FAILED = "queued", "sending", "conflict", "failed"


class Queued(CliError):
    """The server cannot be reached; the change waits in the outbox (exit 7)."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"cannot reach the TimeSync server; {what} is queued and will be sent by 'timesync sync'"
            " (or the next command that reaches the server)",
            ExitCode.UNREACHABLE,
        )


class Item:
    """One waiting change (a plain class: see :class:`~pymesync.cli._app.Account`)."""

    __slots__ = ("baseline", "data", "detail", "id", "kind", "state")

    def __init__(
        self,
        id: int,
        kind: str,
        data: dict[str, Any],
        state: str,
        detail: str | None,
        baseline: list[str] | None,
    ) -> None:
        self.id = id
        self.kind = kind  # "create" or "update"
        self.data = data
        self.state = state
        self.detail = detail
        self.baseline = baseline

    def summary(self) -> str:
        return str(self.data.get("summary", ""))


class Outbox:
    def __init__(self, path: str) -> None:
        make_parent(path)
        self.path = path
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None)
        os.chmod(path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")  # one flush to disk per change instead of three
        self._db.execute("PRAGMA synchronous=FULL")  # changes wait for the disk (see add, remove_sent)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
            " data TEXT NOT NULL, state TEXT NOT NULL, detail TEXT, baseline TEXT, queued_at TEXT NOT NULL)"
        )

    def close(self) -> None:
        self._db.close()

    def add(self, kind: str, data: dict[str, Any]) -> int:
        """Queue a change, without waiting for the disk: it either goes out at once, after :meth:`mark`
        recorded the sending (which waits, and the log reaches the disk in order, this change with it),
        or stays queued, and :meth:`keep` makes it last before the command says so."""
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        with self._unsynced():
            cursor = self._db.execute(
                "INSERT INTO items (kind, data, state, queued_at) VALUES (?, ?, ?, ?)",
                (kind, json.dumps(data), QUEUED, now),
            )
        return int(cursor.lastrowid or 0)

    def keep(self, item_id: int) -> None:
        """Make a queued change last: a commit that waits for the disk, with every earlier one."""
        self._db.execute("UPDATE items SET state = state WHERE id = ?", (item_id,))

    def items(self, *states: str) -> list[Item]:
        marks = ",".join("?" * len(states))
        rows = self._db.execute(
            f"SELECT id, kind, data, state, detail, baseline FROM items WHERE state IN ({marks}) ORDER BY id",
            states,
        )
        return [
            Item(
                row[0],
                row[1],
                json.loads(row[2]),
                row[3],
                row[4],
                None if row[5] is None else json.loads(row[5]),
            )
            for row in rows
        ]

    def mark(
        self, item: Item, state: str, detail: str | None = None, baseline: list[str] | None = None
    ) -> None:
        self._db.execute(
            "UPDATE items SET state = ?, detail = ?, baseline = COALESCE(?, baseline) WHERE id = ?",
            (state, detail, None if baseline is None else json.dumps(baseline), item.id),
        )

    def remove(self, item_id: int) -> bool:
        return self._db.execute("DELETE FROM items WHERE id = ?", (item_id,)).rowcount > 0

    def remove_sent(self, item_id: int) -> None:
        """Drop an item the server has applied, without waiting for the disk: a power cut that undid it
        would leave the item as it was before it was sent ('sending' with its baseline, or an edit at its
        old revision), which the next sending recognises as applied and drops. Closing the outbox (or the
        next change) writes it through anyway; ``log`` waits for the disk once less."""
        with self._unsynced():
            self.remove(item_id)

    @contextmanager
    def _unsynced(self) -> Iterator[None]:
        """Commits that do not wait for the disk (see :meth:`add` and :meth:`remove_sent`)."""
        self._db.execute("PRAGMA synchronous=OFF")
        try:
            yield
        finally:
            self._db.execute("PRAGMA synchronous=FULL")

    @contextmanager
    def sending(self) -> Iterator[None]:
        """Hold the outbox: a second process waits here until the first has sent everything."""
        import fcntl  # only a sending needs it, and most runs find nothing to send

        with open(f"{os.path.splitext(self.path)[0]}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _same(entry: Time, fields: dict[str, Any]) -> bool:
    """Whether ``entry`` on the server is what creating ``fields`` gives."""
    return (
        entry.deleted_at is None
        and entry.user == fields["user"]
        and entry.date_worked is not None
        and entry.date_worked.isoformat() == fields["date_worked"]
        and entry.duration == fields["duration"]
        and fields["project"] in entry.project
        and (entry.notes or None) == (fields.get("notes") or None)
        and (entry.issue_uri or None) == (fields.get("issue_uri") or None)
        and ("activities" not in fields or sorted(entry.activities) == sorted(fields["activities"]))
    )


def _identical(cache: EntryCache, fields: dict[str, Any]) -> list[str]:
    day = datetime.date.fromisoformat(fields["date_worked"])
    return [
        entry.uuid or ""
        for entry in cache.entries(start=day, end=day, user=fields["user"])
        if _same(entry, fields)
    ]


def _send_create(app: App, cache: EntryCache, outbox: Outbox, item: Item) -> Time:
    from pymesync.cli._log import default_activity, entry_fields

    client = app.client()
    fields = entry_fields(app, **item.data["words"])
    identical = _identical(cache, fields)
    if item.state == SENDING and item.baseline is not None:
        ours = [uuid for uuid in identical if uuid not in item.baseline]
        stored = cache.get(ours[0]) if ours else None
        if stored is not None:  # the last attempt was stored; its answer was lost
            outbox.remove(item.id)
            return stored
    outbox.mark(item, SENDING, baseline=identical)
    created = client.times.create(fields)
    if not created.activities and "activities" not in fields:  # the echo omits the default activity
        default = default_activity(app, str(fields["project"]))
        created = dataclasses.replace(created, activities=(default,) if default else ())
    cache.store(created)
    outbox.remove_sent(item.id)
    return created


def _send_update(app: App, cache: EntryCache, outbox: Outbox, item: Item) -> Time:
    from pymesync.cli._browse import edit_changes
    from pymesync.errors import RevisionConflictError

    app.ask_extensions_again()  # the revision check must use what the server offers now
    client = app.client()
    uuid, revision = item.data["uuid"], item.data["revision"]
    changes = edit_changes(app, item.data["words"])
    try:
        updated = client.times.update(uuid, if_revision=revision, **changes)
    except RevisionConflictError:
        current = client.times[uuid]
        if current.revision == revision + 1 and _applied(current, changes):
            updated = current  # our own edit, whose answer was lost
        else:
            raise
    cache.store(updated)
    outbox.remove_sent(item.id)
    return updated


def _applied(entry: Time, changes: dict[str, Any]) -> bool:
    data = entry.to_dict()
    for name, value in changes.items():
        stored = data.get(name)
        if name == "project":
            if value not in (stored or []):
                return False
        elif name == "activities":
            if sorted(stored or []) != sorted(value):
                return False
        elif stored != value:
            return False
    return True


class Flushed:
    """What one sending did: the items sent (with what the server stored), and those kept back."""

    __slots__ = ("problems", "sent")

    def __init__(self) -> None:
        self.sent: list[tuple[Item, Time]] = []
        self.problems: list[Item] = []


def flush(app: App, outbox: Outbox | None = None) -> Flushed:
    """Send every waiting item in order (see :func:`_flush`), from ``outbox`` or the profile's."""
    if outbox is not None:
        return _flush(app, outbox)
    path = outbox_path(app.profile)
    if not waiting(path):
        return Flushed()
    opened = Outbox(path)
    try:
        return _flush(app, opened)
    finally:
        opened.close()


def waiting(path: str) -> int:
    """How many changes wait to be sent, read without the outbox's set-up and lock (:class:`Outbox`,
    :meth:`Outbox.sending`): the file stays once ``log`` made it, and most runs find it empty."""
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        row = db.execute("SELECT count(*) FROM items WHERE state IN (?, ?)", (QUEUED, SENDING)).fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # created a moment ago, not yet set up
            return 0
        raise
    finally:
        db.close()
    return int(row[0])


def _flush(app: App, outbox: Outbox, current: int | None = None) -> Flushed:
    """Send every waiting item in order, after reconciling the entry cache.

    A transport failure stops the sending (the rest waits). Other failures of earlier items are kept
    (as ``conflict`` or ``failed``) for the person; those of ``current`` (the item this command just
    queued) are raised and the item is dropped, as if it had been sent directly.
    """
    from pymesync.cli._errors import describe
    from pymesync.errors import RevisionConflictError, TimeSyncError, TransportError

    result = Flushed()
    with outbox.sending():
        items = outbox.items(QUEUED, SENDING)
        if not items:
            return result
        cache = app.entry_cache()
        app.sync_entries(projects=False)  # the entries decide; their slugs do not
        for item in items:
            send = _send_create if item.kind == "create" else _send_update
            try:
                result.sent.append((item, send(app, cache, outbox, item)))
            except TransportError:
                raise
            except (TimeSyncError, CliError) as exc:
                if item.id == current:
                    outbox.remove(item.id)
                    raise
                text = exc.format_message() if isinstance(exc, CliError) else describe(exc)
                state = CONFLICT if isinstance(exc, RevisionConflictError) else FAILED
                outbox.mark(item, state, text)
                result.problems.append(Item(item.id, item.kind, item.data, state, text, item.baseline))
    return result


def report(app: App, flushed: Flushed) -> None:
    """Say on stderr what the outbox sent, and what waits for the person."""
    for item, _ in flushed.sent:
        app.term.info(f"Sent the queued {item.summary()}")
    for item in flushed.problems:
        app.term.info(
            f"Not sent ({item.state}, #{item.id}): {item.summary()}: {item.detail}; see 'timesync sync'"
        )


def send_now(app: App, kind: str, data: dict[str, Any], what: str) -> Time:
    """Queue one change and send it (with anything queued before it); :class:`Queued` when unreachable."""
    from pymesync.errors import TransportError

    outbox = Outbox(outbox_path(app.profile))
    try:
        item_id = outbox.add(kind, data)
        result = _flush(app, outbox, current=item_id)
    except TransportError:
        outbox.keep(item_id)
        raise Queued(what) from None
    finally:
        outbox.close()
    for item, sent in result.sent:
        if item.id == item_id:
            return sent
    raise CliError(f"{what} was not sent; see 'timesync sync'", ExitCode.ERROR)
