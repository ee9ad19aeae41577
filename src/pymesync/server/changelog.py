"""The change log behind the changes feed: ``pymesync_changes``, filled by database triggers.

Triggers on the reference tables record every write, whoever makes it (this server, the reference
server, admin SQL), without our write paths doing anything. A row says which object changed
(kind and uuid, or username); what it looks like now is read from the reference tables.

Positions. A feed token holds the position from which the log must still be read:

* SQLite runs one writer at a time, so ``seq`` order is commit order: the position is the next
  ``seq`` not yet returned.
* PostgreSQL commits in any order, so each row also records its transaction's id
  (``pg_current_xact_id()``). A reader returns only rows of transactions that have ended
  (``xid < xmin`` of its snapshot; all of them are visible to it, and no later commit can add
  rows below that boundary), and the position is that ``xmin``. A transaction still open at the
  read is returned by a later read, however old its ``seq``.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pymesync.server import schema, storage

changes = schema.changes
#: Settings rows: the log's identity (tokens of another log are refused) and the pruned horizon.
LOG_ID_SETTING = "changes_log_id"
HORIZON_SETTING = "changes_pruned_below"
TOKEN_VERSION = 1
#: Longer than any token of ours (about 110 characters): not worth decoding, nor remembering.
MAX_TOKEN_LENGTH = 256
_BIGINT_END = 2**63

#: (table, the kind it changes, how the trigger finds the changed object's key from the row ``r``)
_SQLITE_SOURCES = (
    ("times", "time", "SELECT {r}.uuid AS k"),
    ("timesactivities", "time", "SELECT uuid AS k FROM times WHERE id = {r}.time"),
    ("projects", "project", "SELECT {r}.uuid AS k"),
    ("projectslugs", "project", "SELECT uuid AS k FROM projects WHERE id = {r}.project"),
    ("userroles", "project", "SELECT uuid AS k FROM projects WHERE id = {r}.project"),
    ("activities", "activity", "SELECT {r}.uuid AS k"),
    ("users", "user", "SELECT {r}.username AS k"),
)
TRIGGERED_TABLES = tuple(table for table, _, _ in _SQLITE_SOURCES)
_SQLITE_NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"

_POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION pymesync_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
  key text;
  kind text;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  IF TG_TABLE_NAME = 'times' THEN kind := 'time'; key := r.uuid::text;
  ELSIF TG_TABLE_NAME = 'timesactivities' THEN
    kind := 'time'; SELECT uuid::text INTO key FROM times WHERE id = r.time;
  ELSIF TG_TABLE_NAME = 'projects' THEN kind := 'project'; key := r.uuid::text;
  ELSIF TG_TABLE_NAME IN ('projectslugs', 'userroles') THEN
    kind := 'project'; SELECT uuid::text INTO key FROM projects WHERE id = r.project;
  ELSIF TG_TABLE_NAME = 'activities' THEN kind := 'activity'; key := r.uuid::text;
  ELSE kind := 'user'; key := r.username;
  END IF;
  IF key IS NOT NULL THEN
    INSERT INTO pymesync_changes (kind, key, at, xid) VALUES (
      kind, key, (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
      pg_current_xact_id()::text::bigint);
  END IF;
  RETURN NULL;
END $$
"""


def _trigger_name(table: str) -> str:
    return f"pymesync_changes_{table}"


def is_complete(connection: Connection) -> bool:
    """Whether every trigger and the log's id exist, so :func:`create_triggers` has nothing to do."""
    if connection.dialect.name == "postgresql":
        query = "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'pymesync_changes_%'"
        expected = {_trigger_name(table) for table in TRIGGERED_TABLES}
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'pymesync_changes_%'"
        expected = {
            f"{_trigger_name(table)}_{event}"
            for table in TRIGGERED_TABLES
            for event in ("insert", "update", "delete")
        }
    existing = set(connection.execute(sa.text(query)).scalars())
    return expected <= existing and _setting(connection, LOG_ID_SETTING) is not None


def create_triggers(connection: Connection) -> None:
    """Create the triggers that are missing (called by ``storage.create_schema`` under its lock)."""
    if connection.dialect.name == "postgresql":
        existing = set(
            connection.execute(
                sa.text("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'pymesync_changes_%'")
            )
            .scalars()
            .all()
        )
        connection.execute(sa.text(_POSTGRES_FUNCTION))
        for table in TRIGGERED_TABLES:
            if _trigger_name(table) not in existing:
                connection.execute(
                    sa.text(
                        f"CREATE TRIGGER {_trigger_name(table)} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                        "FOR EACH ROW EXECUTE FUNCTION pymesync_record_change()"
                    )
                )
    else:
        for table, kind, key_query in _SQLITE_SOURCES:
            for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
                key = key_query.format(r=row)
                connection.execute(
                    sa.text(
                        f"CREATE TRIGGER IF NOT EXISTS {_trigger_name(table)}_{event.lower()} "
                        f"AFTER {event} ON {table} FOR EACH ROW BEGIN "
                        f"INSERT INTO pymesync_changes (kind, key, at) "
                        f"SELECT '{kind}', k, {_SQLITE_NOW_MS} FROM ({key}) WHERE k IS NOT NULL; END"
                    )
                )
    settings = schema.settings
    known = connection.execute(sa.select(settings.c.value).where(settings.c.name == LOG_ID_SETTING)).first()
    if known is None:
        connection.execute(sa.insert(settings).values(name=LOG_ID_SETTING, value=secrets.token_hex(8)))


def _setting(connection: Connection, name: str) -> str | None:
    settings = schema.settings
    value = connection.execute(sa.select(settings.c.value).where(settings.c.name == name)).scalar()
    return None if value is None else str(value)


def _position_column(connection: Connection) -> sa.ColumnElement[int]:
    return changes.c.xid if connection.dialect.name == "postgresql" else changes.c.seq


#: Per dialect: the log's position column, and the read boundary: the position up to which the
#: statement's snapshot sees every change (exclusive). SQLite's is the highest ``seq`` ever given
#: plus one (AUTOINCREMENT keeps it in ``sqlite_sequence``), not ``max(seq)``: pruning must not
#: move it back. PostgreSQL's is the snapshot's ``xmin`` (see the module's docstring).
_POSITIONS = {
    "sqlite": ("seq", f"COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{changes.name}'), 0) + 1"),
    "postgresql": ("xid", "CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS bigint)"),
}
_STATE_COLUMNS = (
    sa.column("log_id", sa.Text),
    sa.column("horizon", sa.Text),
    sa.column("boundary", sa.BigInteger),
)


def _state_query(position: str, boundary: str, *, with_keys: bool) -> storage.Read:
    """The log's id, its pruned horizon and the read boundary, read in one statement (so in one
    snapshot and one round trip); ``with_keys`` adds after that row the keys of ``:kind`` changed
    from ``:since`` up to the boundary, in the order of their last change."""
    settings = schema.settings.name
    state = f"""
        WITH state AS (
            SELECT
                (SELECT value FROM {settings} WHERE name = '{LOG_ID_SETTING}') AS log_id,
                (SELECT value FROM {settings} WHERE name = '{HORIZON_SETTING}') AS horizon,
                {boundary} AS boundary
        )
    """
    if not with_keys:
        query = sa.text(f"{state} SELECT log_id, horizon, boundary FROM state")
        return storage.Read(query.columns(*_STATE_COLUMNS))
    # seq starts at 1: the state's row, "last" 0, comes first
    keys = f"""
        SELECT log_id, horizon, boundary, NULL AS key, 0 AS last FROM state
        UNION ALL
        SELECT NULL, NULL, NULL, log.key, max(log.seq)
        FROM {changes.name} AS log
        WHERE log.kind = :kind AND log.{position} >= :since AND log.{position} < (SELECT boundary FROM state)
        GROUP BY log.key
        ORDER BY last
    """
    columns = (*_STATE_COLUMNS, sa.column("key", sa.Text), sa.column("last", sa.BigInteger))
    return storage.Read(sa.text(state + keys).columns(*columns))


_STATE = {name: _state_query(*position, with_keys=False) for name, position in _POSITIONS.items()}
_STATE_AND_KEYS = {name: _state_query(*position, with_keys=True) for name, position in _POSITIONS.items()}


@dataclass(frozen=True)
class Token:
    """Where a follower of the feed stands: which log, and the position to read on from. ``after``
    is set while a complete read goes on page by page: the row id the next page starts after."""

    log_id: str
    position: int
    after: int | None = None

    def encode(self) -> str:
        return _encode(self)


@lru_cache(maxsize=1024)
def _encode(token: Token) -> str:
    """A token's text (remembered: a follower that finds nothing new gets the same one again)."""
    data: dict[str, object] = {"v": TOKEN_VERSION, "log": token.log_id, "pos": token.position}
    if token.after is not None:
        data["after"] = token.after
    raw = json.dumps(data, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


class StartOver(Exception):
    """The token cannot be continued: the client must read everything again (no token)."""


@lru_cache(maxsize=1024)
def parse_token(text: str) -> Token:
    """The token a client sent, as it reads (remembered: a client sends the same one again and
    again); :func:`check` says whether this database can continue it."""
    token = None
    try:
        if len(text) <= MAX_TOKEN_LENGTH:
            data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            after = data.get("after")
            if data.get("v") == TOKEN_VERSION:
                token = Token(str(data["log"]), int(data["pos"]), None if after is None else int(after))
                if not all(0 <= number < _BIGINT_END for number in (token.position, token.after or 0)):
                    token = None  # not ours, and beyond what the databases' integers hold
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, binascii.Error):
        pass
    if token is None:
        raise StartOver("the token is not a changes token of this server")
    return token


def check(token: Token, log_id: str | None, horizon: str | None, boundary: int) -> None:
    """Refuse a token this log cannot continue: of another log, older than its pruned horizon, or
    ahead of its read boundary."""
    if token.log_id != log_id:
        raise StartOver("the token belongs to another database or an earlier change log")
    if horizon is not None and token.position <= int(horizon):
        raise StartOver("changes after the token were pruned from the log")
    if token.position > boundary:
        raise StartOver("the token is ahead of this database (restored from a backup?)")


def _state(connection: Connection) -> tuple[str | None, str | None, int]:
    log_id, horizon, boundary = _STATE[connection.dialect.name].tuples(connection)[0]
    return log_id, horizon, int(boundary)


def decode_token(connection: Connection, text: str) -> Token:
    """The token a client sent, checked against this database's log and its pruned horizon."""
    token = parse_token(text)
    check(token, *_state(connection))
    return token


def current_token(connection: Connection) -> Token:
    log_id, _, boundary = _state(connection)
    if log_id is None:
        raise RuntimeError("the change log has no id; create the schema first")
    return Token(log_id, boundary)


def changes_since(connection: Connection, kind: str, since: Token) -> tuple[list[str], Token]:
    """Keys of the objects of ``kind`` changed since the token, oldest change first, and the token
    to read on from; :class:`StartOver` if this log cannot continue it. One statement: when nothing
    changed it costs about what reading one settings row costs."""
    rows = _STATE_AND_KEYS[connection.dialect.name].tuples(connection, kind=kind, since=since.position)
    log_id, horizon, boundary, _, _ = rows[0]
    check(since, log_id, horizon, int(boundary))
    return [str(key) for _, _, _, key, _ in rows[1:]], Token(since.log_id, int(boundary))


def prune(connection: Connection, older_than_ms: int) -> int:
    """Delete log rows written before ``older_than_ms``; tokens that still needed them get "start over"."""
    position = _position_column(connection)
    old = changes.c.at < older_than_ms
    highest = connection.execute(sa.select(sa.func.max(position)).where(old)).scalar()
    if highest is None:
        return 0
    settings = schema.settings
    horizon = _setting(connection, HORIZON_SETTING)
    if horizon is None:
        connection.execute(sa.insert(settings).values(name=HORIZON_SETTING, value=str(highest)))
    elif int(horizon) < int(highest):
        connection.execute(
            sa.update(settings).where(settings.c.name == HORIZON_SETTING).values(value=str(highest))
        )
    return connection.execute(sa.delete(changes).where(position <= highest)).rowcount
