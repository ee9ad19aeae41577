"""Our extensions for offline clients: ``GET /changes/<collection>`` and ``GET /`` (what we offer).

``GET /v1/changes/times?since=<token>`` answers ``{"changed": [...], "deleted": [...], "next": t,
"more": false}``: the objects of the collection created or changed since the token, as GET shows them
(oldest change first), the ids of those deleted since, and the token for the next call. Without
``since`` it answers every object, :data:`PAGE` at a time (``"more": true`` until the last page). A
token that cannot be continued gets 410 ``Start over``. What the caller may see is decided by the list
endpoints' own conditions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row
from starlette.responses import Response

from pymesync.server import auth, changelog, errors, schema, storage
from pymesync.server.context import (
    Config,
    Context,
    MuchToDo,
    error_reason,
    json_response,
    logger,
    query_caller,
    read_only,
)
from pymesync.server.routes import activities, projects, times, users

#: Collections that have a feed, in the order ``GET /`` lists them.
COLLECTIONS = ("times", "projects", "activities", "users")
#: Objects per page of a complete read.
PAGE = 2000
#: Most changed objects a read with a token looks up on the event loop (about 2 ms of times on
#: SQLite); with more, it runs in the thread pool, so other requests are not held up meanwhile.
ON_LOOP_KEYS = 100
#: How often one worker prunes the log, in seconds.
PRUNE_INTERVAL = 3600.0
_last_prune = 0.0
_prune_lock = threading.Lock()


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A read transaction whose statements share one snapshot (REPEATABLE READ on PostgreSQL;
    SQLite's read transactions always do), so the token matches what the answer shows."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            yield connection


@dataclass(frozen=True)
class Feed:
    """How one collection lists everything and reads back the objects the log names."""

    kind: str
    #: a page of the objects a listing shows the caller, rendered: those after a row id, in id order,
    #: and the id to continue after (None on the last page)
    everything: Callable[[Connection, auth.Caller, int], tuple[list[Any], int | None]]
    #: the objects with these keys: (rendered live ones, keys of deleted or vanished ones)
    lookup: Callable[[Connection, auth.Caller, Sequence[str]], tuple[list[Any], list[str]]]


def _in_key_order(keys: Sequence[str], live: dict[str, Any], seen: set[str]) -> tuple[list[Any], list[str]]:
    """Live objects in the order of their last change; keys not live but seen (deleted, or gone
    from the database) are tombstones."""
    changed = [live[key] for key in keys if key in live]
    deleted = [key for key in keys if key not in live and key in seen]
    return changed, deleted


def _page_end(rows: Sequence[Row[Any]]) -> int | None:
    return rows[-1].id if len(rows) == PAGE else None


def _all_times(connection: Connection, caller: auth.Caller, after: int) -> tuple[list[Any], int | None]:
    table = times.times
    query = (
        times.select_times()
        .where(*times.listed_to(caller), table.c.deleted_at.is_(None), table.c.id > after)
        .order_by(table.c.id)
        .limit(PAGE)
    )
    rows = connection.execute(query).all()
    return times.render_many(connection, rows), _page_end(rows)


#: Keys a look-up statement takes: a few changes (the usual case) fill one statement, padded with
#: repeats of a key; more take one statement per :data:`SLOTS`. Fixed, so the statements are
#: compiled once and run on the driver (:class:`storage.Read`).
SLOTS = 32
_KEYS: list[sa.BindParameter[str]] = [sa.bindparam(f"key{slot}") for slot in range(SLOTS)]


def _rows_by_key(read: storage.Read, connection: Connection, keys: Sequence[str]) -> list[Any]:
    """The rows ``read`` finds for ``keys``, :data:`SLOTS` keys a statement."""
    found = []
    for start in range(0, len(keys), SLOTS):
        chunk = keys[start : start + SLOTS]
        padded = [*chunk, *(chunk[0] for _ in range(SLOTS - len(chunk)))]
        found += read.all(connection, **{f"key{slot}": key for slot, key in enumerate(padded)})
    return found


@lru_cache(maxsize=1024)
def _time_lookup(caller: auth.Caller) -> storage.Read:
    """The current revision of each time among the keys, whether the caller's listings show it (the
    list endpoints' own conditions) and whether the caller may see it; built once per caller (a
    follower asks again and again with the same token), which keeps it a statement of its own."""
    table, users = times.times, schema.users
    visible = times.visible_to(caller)
    listed = sa.and_(users.c.id.is_not(None), *times.listed_to(caller))
    query = (
        sa.select(
            table,
            users.c.username,
            listed.label("listed"),
            (sa.true() if visible is None else visible).label("visible"),
        )
        .select_from(table.outerjoin(users, users.c.id == table.c.user))
        .where(table.c.uuid.in_(_KEYS), table.c.newest.is_(True))
        .order_by(table.c.id)
    )
    return storage.Read(query)


def _times(connection: Connection, caller: auth.Caller, keys: Sequence[str]) -> tuple[list[Any], list[str]]:
    rows = _rows_by_key(_time_lookup(caller), connection, keys)
    current = [row for row in rows if row.listed and row.deleted_at is None]
    live = {item["uuid"]: item for item in times.render_many(connection, current)}
    # a tombstone for each time the caller may see that is deleted or in no listing any more, and
    # for each time that no longer exists at all (removed by another program)
    present = {str(row.uuid) for row in rows}
    seen = {str(row.uuid) for row in rows if row.visible} | {key for key in keys if key not in present}
    return _in_key_order(keys, live, seen)


def _revisioned(
    table: sa.Table, render: Callable[[Connection, Sequence[Row[Any]]], list[dict[str, Any]]]
) -> tuple[Callable[..., tuple[list[Any], int | None]], Callable[..., tuple[list[Any], list[str]]]]:
    """``everything`` and ``lookup`` for projects and activities (every caller sees them all)."""

    def everything(connection: Connection, _caller: auth.Caller, after: int) -> tuple[list[Any], int | None]:
        query = sa.select(table).where(
            table.c.newest.is_(True), table.c.deleted_at.is_(None), table.c.id > after
        )
        rows = connection.execute(query.order_by(table.c.id).limit(PAGE)).all()
        return render(connection, rows), _page_end(rows)

    current = storage.Read(
        sa.select(table)
        .where(table.c.uuid.in_(_KEYS), table.c.newest.is_(True), table.c.deleted_at.is_(None))
        .order_by(table.c.id)
    )

    def lookup(
        connection: Connection, _caller: auth.Caller, keys: Sequence[str]
    ) -> tuple[list[Any], list[str]]:
        rows = _rows_by_key(current, connection, keys)
        live = {item["uuid"]: item for item in render(connection, rows)}
        return _in_key_order(keys, live, set(keys))

    return everything, lookup


def _users_everything(
    connection: Connection, _caller: auth.Caller, after: int
) -> tuple[list[Any], int | None]:
    table = schema.users
    query = sa.select(table).where(table.c.deleted_at.is_(None), table.c.id > after).order_by(table.c.id)
    rows = connection.execute(query.limit(PAGE)).all()
    return [users.render(row) for row in rows], _page_end(rows)


_CURRENT_USERS = storage.Read(
    sa.select(schema.users).where(schema.users.c.username.in_(_KEYS), schema.users.c.deleted_at.is_(None))
)


def _users(connection: Connection, _caller: auth.Caller, keys: Sequence[str]) -> tuple[list[Any], list[str]]:
    live = {row.username: users.render(row) for row in _rows_by_key(_CURRENT_USERS, connection, keys)}
    return _in_key_order(keys, live, set(keys))


_projects = _revisioned(schema.projects, lambda c, rows: projects.render_many(c, rows, with_parents=False))
_activities = _revisioned(schema.activities, lambda _c, rows: [activities.render(row) for row in rows])
FEEDS = {
    "times": Feed("time", _all_times, _times),
    "projects": Feed("project", *_projects),
    "activities": Feed("activity", *_activities),
    "users": Feed("user", _users_everything, _users),
}


def start_over(reason: str) -> errors.ApiError:
    return errors.ApiError(410, "Start over", f"{reason}; read everything again without since")


def _prune_now_and_then(config: Config) -> None:
    """Drop log rows older than the retention, at most once per :data:`PRUNE_INTERVAL` per worker,
    in a thread of its own: the request that finds it due does not wait for the write (on SQLite it
    runs on the event loop)."""
    global _last_prune
    now = time.monotonic()
    if _last_prune and now - _last_prune < PRUNE_INTERVAL:
        return
    with _prune_lock:
        if _last_prune and now - _last_prune < PRUNE_INTERVAL:
            return
        _last_prune = now
    threading.Thread(target=_prune, args=(config,), name="timesync-prune", daemon=True).start()


def _prune(config: Config) -> None:
    cutoff = storage.now_ms() - int(config.changes_retention_days * 86_400_000)
    try:
        with storage.transaction(config.engine, write=True) as connection:
            changelog.prune(connection, cutoff)
    except Exception as exc:
        logger.warning("pruning the change log failed (%s); the next try is in an hour", error_reason(exc))


def _position(since: str | None) -> changelog.Token | None:
    """``since`` if it is a token that continues from a position (not a page of a complete read):
    such a request reads the log since it, usually a few rows or none, and is answered inline."""
    if not since:
        return None
    try:
        token = changelog.parse_token(since)
    except changelog.StartOver:
        return None
    return token if token.after is None else None


def _feed(collection: str) -> Callable[[Context], Response]:
    feed = FEEDS[collection]

    def follow(context: Context, since: changelog.Token) -> Response:
        """What changed since a position: the log since it, then the objects it names."""
        with storage.transaction(context.engine) as connection:
            caller = query_caller(context, connection)
            try:
                keys, following = changelog.changes_since(connection, feed.kind, since)
            except changelog.StartOver as reason:
                raise start_over(str(reason)) from None
            if context.on_loop and len(keys) > ON_LOOP_KEYS:
                raise MuchToDo
            changed, deleted = feed.lookup(connection, caller, keys) if keys else ([], [])
        return json_response(
            {"changed": changed, "deleted": deleted, "next": following.encode(), "more": False}
        )

    def changes(context: Context) -> Response:
        _prune_now_and_then(context.config)
        since_text = context.first("since")
        position = _position(since_text)
        if position is not None:
            return follow(context, position)
        # a complete read, page by page; its later pages keep the first page's position, so what
        # changes while it goes on is read from the log afterwards
        with _snapshot(context.engine) as connection:
            caller = query_caller(context, connection)
            try:
                start = changelog.decode_token(connection, since_text) if since_text else None
            except changelog.StartOver as reason:
                raise start_over(str(reason)) from None
            start = start or changelog.current_token(connection)
            changed, last = feed.everything(connection, caller, start.after or 0)
        following = changelog.Token(start.log_id, start.position, last)
        return json_response(
            {"changed": changed, "deleted": [], "next": following.encode(), "more": last is not None}
        )

    changes.__qualname__ = f"{collection}_changes"
    return read_only(changes, inline=lambda context: _position(context.first("since")) is not None)


@read_only
def describe_server(_context: Context) -> Response:
    """What this server offers beyond the API, so clients know whether to use it."""
    return json_response(
        {
            "server": "pymesync",
            "extensions": {"etag": True, "if_match": True, "changes": list(COLLECTIONS)},
        }
    )


ROUTES = [
    ("", ["GET"], describe_server),
    *((f"/changes/{collection}", ["GET"], _feed(collection)) for collection in COLLECTIONS),
]
