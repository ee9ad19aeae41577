"""The reference server's seven tables (API doc §11), byte-compatible, plus our additive ones.

Column names, types, nullability and defaults follow the reference migration so that a database
created by either server can be served by the other. Our own additions (the settings and credential
tables, the indexes) carry a ``pymesync_`` prefix and never reference the reference tables.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData()

#: UUID columns: native ``uuid`` on PostgreSQL, 36-character text elsewhere (what the reference
#: writes on SQLite). Values are always handled as lowercase canonical strings.
UuidText = sa.String(36).with_variant(postgresql.UUID(as_uuid=False), "postgresql")


def _varchar() -> sa.String:
    return sa.String(255)


def _bool_column(name: str, default: bool) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), server_default=sa.true() if default else sa.false())


def _timestamps(*, created_required: bool) -> list[sa.Column[int]]:
    return [
        sa.Column("created_at", sa.BigInteger(), nullable=not created_required),
        sa.Column("updated_at", sa.BigInteger(), nullable=True),
        sa.Column("deleted_at", sa.BigInteger(), nullable=True),
    ]


def _revisioned() -> list[sa.Column[Any]]:
    return [
        sa.Column("uuid", UuidText, nullable=False),
        sa.Column("revision", sa.Integer(), server_default=sa.text("1")),
        _bool_column("newest", True),
    ]


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("username", _varchar(), nullable=False, unique=True),
    sa.Column("password", _varchar(), nullable=False),
    sa.Column("display_name", _varchar()),
    sa.Column("email", _varchar()),
    _bool_column("site_spectator", False),
    _bool_column("site_manager", False),
    _bool_column("site_admin", False),
    _bool_column("active", True),
    *_timestamps(created_required=True),
    sa.Column("meta", sa.Text()),
    sqlite_autoincrement=True,
)

activities = sa.Table(
    "activities",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", _varchar(), nullable=False),
    sa.Column("slug", _varchar()),
    *_timestamps(created_required=False),
    *_revisioned(),
    sqlite_autoincrement=True,
)

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", _varchar(), nullable=False),
    sa.Column("uri", _varchar()),
    sa.Column("default_activity", UuidText),
    *_timestamps(created_required=False),
    *_revisioned(),
    sqlite_autoincrement=True,
)

times = sa.Table(
    "times",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("duration", sa.Integer(), nullable=False),
    sa.Column("user", sa.Integer(), sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=False),
    sa.Column("project", UuidText, nullable=False),
    sa.Column("notes", _varchar()),
    sa.Column("issue_uri", _varchar()),
    sa.Column("date_worked", sa.BigInteger(), nullable=False),
    *_timestamps(created_required=False),
    *_revisioned(),
    sqlite_autoincrement=True,
)

projectslugs = sa.Table(
    "projectslugs",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", _varchar(), nullable=False, unique=True),
    sa.Column("project", sa.Integer(), sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    sqlite_autoincrement=True,
)

timesactivities = sa.Table(
    "timesactivities",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("time", sa.Integer(), sa.ForeignKey("times.id", ondelete="CASCADE"), nullable=False),
    sa.Column("activity", sa.Integer(), sa.ForeignKey("activities.id", ondelete="CASCADE"), nullable=False),
    sqlite_autoincrement=True,
)

userroles = sa.Table(
    "userroles",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("project", sa.Integer(), sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    _bool_column("manager", False),
    _bool_column("member", False),
    _bool_column("spectator", False),
    sqlite_autoincrement=True,
)

REFERENCE_TABLES = (users, activities, projects, times, projectslugs, timesactivities, userroles)

#: Our own key/value settings (the token secret). No foreign keys into the reference tables.
settings = sa.Table(
    "pymesync_settings",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
)

#: When each user's password last changed, or the user was deleted: tokens issued (``iat``) at or
#: before that millisecond are refused. Keyed by ``users.id`` with no foreign key, like all our tables.
credential_changes = sa.Table(
    "pymesync_credential_changes",
    metadata,
    sa.Column("user_id", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("changed_at", sa.BigInteger(), nullable=False),
)

#: Failed logins per bucket (a username and address, an address, a username), for the throttle of
#: :mod:`pymesync.server.throttle`. ``bucket`` is an HMAC of the bucket's name, so attempted
#: usernames (sometimes passwords typed in the wrong field) are not kept; ``level`` is the leaky
#: bucket's content as of ``updated_at`` (epoch ms); ``failures`` counts the failures since it was
#: last empty.
login_failures = sa.Table(
    "pymesync_login_failures",
    metadata,
    sa.Column("bucket", sa.String(64), primary_key=True),
    sa.Column("level", sa.Float(), nullable=False),
    sa.Column("failures", sa.Integer(), nullable=False),
    sa.Column("updated_at", sa.BigInteger(), nullable=False),
)

#: Web page sessions signed out before they expired: their cookies are refused from then on, on every
#: worker and host. ``session_id`` is the random id in the signed cookie; a row is kept until
#: ``expires_at`` (epoch seconds), when the cookie would be refused anyway.
ended_sessions = sa.Table(
    "pymesync_ended_sessions",
    metadata,
    sa.Column("session_id", sa.String(64), primary_key=True),
    sa.Column("expires_at", sa.BigInteger(), nullable=False),
)

#: Lookup indexes the reference schema lacks. Created with IF NOT EXISTS, also on databases that
#: the reference server made; they change no column and no behaviour of the reference tables.
EXTRA_INDEXES = (
    sa.Index("pymesync_times_uuid", times.c.uuid),
    sa.Index("pymesync_times_user", times.c.user),
    sa.Index("pymesync_times_project", times.c.project),
    sa.Index("pymesync_timesactivities_time", timesactivities.c.time),
    sa.Index("pymesync_timesactivities_activity", timesactivities.c.activity),
    sa.Index("pymesync_projectslugs_project", projectslugs.c.project),
    sa.Index("pymesync_userroles_project", userroles.c.project),
    sa.Index("pymesync_userroles_user", userroles.c.user),
    sa.Index("pymesync_projects_uuid", projects.c.uuid),
    sa.Index("pymesync_activities_uuid", activities.c.uuid),
    sa.Index("pymesync_activities_slug", activities.c.slug),
    sa.Index("pymesync_login_failures_updated_at", login_failures.c.updated_at),
    sa.Index("pymesync_ended_sessions_expires_at", ended_sessions.c.expires_at),
)

#: The change log of the changes feed (see ``changelog``): one row per write to a reference table,
#: added by triggers. ``xid`` is the writing transaction's id on PostgreSQL (null on SQLite, where
#: ``seq`` order is commit order); ``at`` is epoch ms, for pruning.
changes = sa.Table(
    "pymesync_changes",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("key", sa.Text(), nullable=False),
    sa.Column("at", sa.BigInteger(), nullable=False),
    sa.Column("xid", sa.BigInteger(), nullable=True),
    sa.Index("pymesync_changes_xid", "xid"),
    sa.Index("pymesync_changes_kind_seq", "kind", "seq"),
    sqlite_autoincrement=True,
)
