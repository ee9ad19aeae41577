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

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pymesync.server import schema

changes = schema.changes
#: Settings rows: the log's identity (tokens of another log are refused) and the pruned horizon.
LOG_ID_SETTING = "changes_log_id"
HORIZON_SETTING = "changes_pruned_below"
TOKEN_VERSION = 1

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


def read_boundary(connection: Connection) -> int:
    """The position up to which this transaction's snapshot sees every change (exclusive)."""
    if connection.dialect.name == "postgresql":
        return int(
            connection.execute(
                sa.text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            ).scalar_one()
        )
    # the highest seq ever given (AUTOINCREMENT keeps it), not max(seq): pruning must not move it back
    last = connection.execute(
        sa.text("SELECT seq FROM sqlite_sequence WHERE name = :table"), {"table": changes.name}
    ).scalar()
    return int(last or 0) + 1


@dataclass(frozen=True)
class Token:
    """Where a follower of the feed stands: which log, and the position to read on from. ``after``
    is set while a complete read goes on page by page: the row id the next page starts after."""

    log_id: str
    position: int
    after: int | None = None

    def encode(self) -> str:
        data: dict[str, object] = {"v": TOKEN_VERSION, "log": self.log_id, "pos": self.position}
        if self.after is not None:
            data["after"] = self.after
        raw = json.dumps(data, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


class StartOver(Exception):
    """The token cannot be continued: the client must read everything again (no token)."""


def decode_token(connection: Connection, text: str) -> Token:
    """The token a client sent, checked against this database's log and its pruned horizon."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw)
        after = data.get("after")
        token = (
            Token(str(data["log"]), int(data["pos"]), None if after is None else int(after))
            if data.get("v") == TOKEN_VERSION
            else None
        )
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error):
        token = None
    if token is None:
        raise StartOver("the token is not a changes token of this server")
    if token.log_id != _setting(connection, LOG_ID_SETTING):
        raise StartOver("the token belongs to another database or an earlier change log")
    horizon = _setting(connection, HORIZON_SETTING)
    if horizon is not None and token.position <= int(horizon):
        raise StartOver("changes after the token were pruned from the log")
    if token.position > read_boundary(connection):
        raise StartOver("the token is ahead of this database (restored from a backup?)")
    return token


def current_token(connection: Connection) -> Token:
    log_id = _setting(connection, LOG_ID_SETTING)
    if log_id is None:
        raise RuntimeError("the change log has no id; create the schema first")
    return Token(log_id, read_boundary(connection))


def changed_keys(connection: Connection, kind: str, since: Token, until: Token) -> list[str]:
    """Keys of the objects of ``kind`` changed from ``since`` up to ``until``, oldest change first."""
    position = _position_column(connection)
    last_seq = sa.func.max(changes.c.seq)
    query = (
        sa.select(changes.c.key, last_seq)
        .where(changes.c.kind == kind, position >= since.position, position < until.position)
        .group_by(changes.c.key)
        .order_by(last_seq)
    )
    return [str(key) for key, _ in connection.execute(query)]


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
