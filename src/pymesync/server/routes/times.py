"""``/times`` endpoints (API doc §5.1). Each update writes a new revision row.

Big lists are streamed: the first page is read with the authentication in one transaction, and
each later page (keyset on ``id``) in its own short transaction, so memory stays flat and no
transaction stays open while the client reads.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.sql.elements import ColumnElement
from starlette.responses import Response, StreamingResponse

from pymesync.server import auth, errors, preconditions, queries, schema, storage, validation
from pymesync.server.context import (
    Context,
    body_caller,
    body_object,
    empty_response,
    encode_pages,
    json_response,
    query_caller,
    read_only,
)
from pymesync.server.storage import transaction

times = schema.times
users = schema.users
projects = schema.projects
projectslugs = schema.projectslugs
activities = schema.activities
timesactivities = schema.timesactivities
userroles = schema.userroles
KIND = "time"
#: Times rendered per page of a list.
PAGE = 1000
MAX_DURATION = 2**31 - 1
UPDATABLE = ("duration", "user", "project", "activities", "notes", "issue_uri", "date_worked")
#: Sent as ``null`` by a site admin, it restores a deleted time; no other update touches a deleted time.
RESTORE = "deleted_at"


# --- reading ---------------------------------------------------------------------------------


def select_times() -> sa.Select[Any]:
    return sa.select(times, users.c.username.label("username")).join(users, users.c.id == times.c.user)


# Statements built once: building and cache-keying a Core statement costs more than running
# a simple indexed query, so the hot paths reuse these with bound parameters.
_NEWEST = (
    select_times()
    .where(times.c.uuid == sa.bindparam("uuid"), times.c.newest.is_(True))
    .order_by(times.c.id.desc())
    .limit(1)
)
#: The same, for reads that render it (writes revise the row they read: SQLAlchemy rows).
_NEWEST_READ = storage.Read(_NEWEST)
_referenced = activities.alias("referenced")
_ACTIVITY_SLUGS = (
    sa.select(timesactivities.c.time, activities.c.slug)
    .join(_referenced, _referenced.c.id == timesactivities.c.activity)
    .join(
        activities,
        sa.and_(activities.c.uuid == _referenced.c.uuid, activities.c.newest.is_(True)),
    )
    .where(
        timesactivities.c.time.in_(sa.bindparam("ids", expanding=True)),
        activities.c.slug.is_not(None),
    )
)
#: The same for a dense run of ids (one time, a filtered list's close rows): a range, no IN list,
#: so it runs on the driver's cursor.
_ACTIVITY_SLUGS_IN_RANGE = storage.Read(
    sa.select(timesactivities.c.time, activities.c.slug)
    .join(_referenced, _referenced.c.id == timesactivities.c.activity)
    .join(
        activities,
        sa.and_(activities.c.uuid == _referenced.c.uuid, activities.c.newest.is_(True)),
    )
    .where(
        timesactivities.c.time >= sa.bindparam("low"),
        timesactivities.c.time <= sa.bindparam("high"),
        activities.c.slug.is_not(None),
    )
)
#: The columns a list shows, in the order :func:`encode_items` unpacks them. Uuids are read as
#: text: PostgreSQL's driver makes ``uuid.UUID`` objects, whose ``str()`` and hash are Python code.
_LISTED = (
    times.c.id,
    times.c.duration,
    users.c.username,
    sa.cast(times.c.project, sa.Text),
    times.c.notes,
    times.c.issue_uri,
    times.c.date_worked,
    sa.cast(times.c.uuid, sa.Text),
    times.c.revision,
    times.c.created_at,
    times.c.updated_at,
    times.c.deleted_at,
)


def _activity_slugs(connection: Connection, time_ids: Sequence[int]) -> dict[int, list[str]]:
    """The current slugs of each time revision's activities, sorted."""
    found: dict[int, list[str]] = {}
    if time_ids and max(time_ids) - min(time_ids) < 2 * len(time_ids):
        wanted = set(time_ids)
        rows = _ACTIVITY_SLUGS_IN_RANGE.tuples(connection, low=min(time_ids), high=max(time_ids))
        for time_id, slug in rows:
            if time_id in wanted:
                found.setdefault(time_id, []).append(slug)
    else:
        for batch in queries.batches(time_ids):
            for time_id, slug in connection.execute(_ACTIVITY_SLUGS, {"ids": batch}):
                found.setdefault(time_id, []).append(slug)
    for slugs in found.values():
        slugs.sort()
    return found


#: The activity rows (revision ids) of the times with ids in a range: a dense page of a list.
_ACTIVITIES_IN_RANGE = storage.Read(
    sa.select(timesactivities.c.time, timesactivities.c.activity).where(
        timesactivities.c.time >= sa.bindparam("low"), timesactivities.c.time <= sa.bindparam("high")
    )
)
_ACTIVITIES_OF_TIMES = sa.select(timesactivities.c.time, timesactivities.c.activity).where(
    timesactivities.c.time.in_(sa.bindparam("ids", expanding=True))
)
#: The current slug of the activity each of these revision rows belongs to.
_CURRENT_SLUGS = (
    sa.select(_referenced.c.id, activities.c.slug)
    .join(activities, sa.and_(activities.c.uuid == _referenced.c.uuid, activities.c.newest.is_(True)))
    .where(_referenced.c.id.in_(sa.bindparam("ids", expanding=True)), activities.c.slug.is_not(None))
)


#: Pages of at most this many times read their activities with one joined query.
_FEW_TIMES = 100


class _ActivityLists(NamedTuple):
    """The JSON of each time's activities: ``several.get(id) or by_row[one.get(id)]``."""

    one: dict[int, int]  # time id -> its activity row id (its last one, when it has several)
    by_row: dict[int | None, str]  # activity row id -> JSON of its current slugs; None -> "[]"
    several: dict[int, str]  # time id -> JSON of its activities, for times with several


def _activity_lists(connection: Connection, time_ids: Sequence[int]) -> _ActivityLists:
    """The activities of a page of times, read as (time, activity row) pairs: an activity's
    current slug is read once per page, not joined to each time. A few times (a filtered list)
    take one query, joined: the second query would cost more than the joins."""
    if len(time_ids) <= _FEW_TIMES:
        found = _activity_slugs(connection, time_ids)
        return _ActivityLists({}, {None: "[]"}, {time: _encode_value(slugs) for time, slugs in found.items()})
    if max(time_ids) - min(time_ids) < 2 * len(time_ids):
        # a dense run of ids (a page of an unfiltered list): one range scan, no IN list
        pairs = _ACTIVITIES_IN_RANGE.tuples(connection, low=min(time_ids), high=max(time_ids))
    else:
        pairs = []
        for batch in queries.batches(time_ids):
            pairs.extend(tuple(pair) for pair in connection.execute(_ACTIVITIES_OF_TIMES, {"ids": batch}))
    one = dict(pairs)
    rows = set(one.values()) if len(one) == len(pairs) else {row for _, row in pairs}
    slugs_of: dict[int, list[str]] = {}
    for batch in queries.batches(sorted(rows)):
        for row_id, slug in connection.execute(_CURRENT_SLUGS, {"ids": batch}):
            slugs_of.setdefault(row_id, []).append(slug)
    by_row: dict[int | None, str] = {row: _encode_value(sorted(slugs_of.get(row, []))) for row in rows}
    by_row[None] = "[]"
    several: dict[int, str] = {}
    if len(one) < len(pairs):
        grouped: dict[int, list[int]] = {}
        for time_id, row in pairs:
            grouped.setdefault(time_id, []).append(row)
        several = {
            time_id: _encode_value(sorted(slug for row in rows_ for slug in slugs_of.get(row, [])))
            for time_id, rows_ in grouped.items()
            if len(rows_) > 1
        }
    return _ActivityLists(one, by_row, several)


def render_many(
    connection: Connection, rows: Sequence[Row[Any]], *, parents: str | None = None
) -> list[dict[str, Any]]:
    """The GET form of each time (3.2); ``parents`` is None, ``"newest"`` or ``"oldest"`` first."""
    older: dict[str, list[Row[Any]]] = {str(row.uuid): [] for row in rows}
    if parents is not None:
        order = times.c.id.desc() if parents == "newest" else times.c.id.asc()
        for batch in queries.batches(older):
            query = select_times().where(times.c.uuid.in_(batch), times.c.newest.is_not(True))
            for row in connection.execute(query.order_by(order)):
                older[str(row.uuid)].append(row)
    every = [*rows, *(row for rows_ in older.values() for row in rows_)]
    slugs = queries.project_slugs(connection, {str(row.project) for row in every})
    time_activities = _activity_slugs(connection, [row.id for row in every])

    def one(row: Row[Any]) -> dict[str, Any]:
        return {
            "duration": row.duration,
            "user": row.username,
            "project": slugs.get(str(row.project), []),
            "activities": time_activities.get(row.id, []),
            "notes": row.notes,
            "issue_uri": row.issue_uri,
            "date_worked": storage.ms_to_date(row.date_worked),
            "uuid": str(row.uuid),
            "revision": row.revision or 1,
            "created_at": storage.ms_to_date(row.created_at),
            "updated_at": storage.ms_to_date(row.updated_at),
            "deleted_at": storage.ms_to_date(row.deleted_at),
        }

    rendered = []
    for row in rows:
        item = one(row)
        if parents is not None:
            item["parents"] = [one(parent) for parent in older[str(row.uuid)]]
        rendered.append(item)
    return rendered


_encode_text = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) does to a str


def _encode_value(value: object) -> str:
    """``value`` as :func:`json.dumps` with the responses' settings writes it."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return _encode_text(value)
    if type(value) is int:
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


#: Dates as the JSON of :func:`storage.ms_to_date`, shared by every list (a pure function of the
#: stored number); cleared when full, so it stays small.
_DAYS: dict[object, str] = {None: "null"}
_MOST_DAYS = 100_000


def _day(ms: Any) -> str:
    if len(_DAYS) > _MOST_DAYS:
        _DAYS.clear()
        _DAYS[None] = "null"
    found = _DAYS[ms] = _encode_value(storage.ms_to_date(ms))
    return found


def encode_items(connection: Connection, rows: Sequence[tuple[Any, ...]]) -> str:
    """The GET form of each time (rows of :data:`_LISTED`), as the comma-separated members of a
    JSON array.

    Byte for byte what ``json.dumps`` of :func:`render_many`'s dicts gives, without building them:
    lists of 100,000 times are mostly this loop. Values repeated across rows (usernames, slug
    lists, dates) are encoded once each.
    """
    if not rows:
        return ""
    project_slugs = queries.project_slugs(connection, {row[3] for row in rows})
    one, by_row, several = _activity_lists(connection, [row[0] for row in rows])
    one_get, several_get = one.get, several.get
    encoded: dict[object, str] = {None: "null"}  # usernames and project uuids
    days = _DAYS
    parts: list[str] = []
    append = parts.append
    for (
        time_id,
        duration,
        username,
        project,
        notes,
        issue_uri,
        worked,
        uuid,
        revision,
        created,
        updated,
        deleted,
    ) in rows:
        user_json = encoded.get(username)
        if user_json is None:
            user_json = encoded[username] = _encode_value(username)
        project_json = encoded.get(project)
        if project_json is None:
            project_json = encoded[project] = _encode_value(project_slugs.get(project, []))
        activities_json = several_get(time_id) or by_row[one_get(time_id)]
        worked_json = days.get(worked) or _day(worked)
        created_json = days.get(created) or _day(created)
        updated_json = days.get(updated) or _day(updated)
        deleted_json = days.get(deleted) or _day(deleted)
        append(
            f'{{"duration":{duration if type(duration) is int else _encode_value(duration)},'
            f'"user":{user_json},"project":{project_json},"activities":{activities_json},'
            f'"notes":{_encode_text(notes) if type(notes) is str else _encode_value(notes)},'
            f'"issue_uri":{_encode_text(issue_uri) if type(issue_uri) is str else _encode_value(issue_uri)},'
            f'"date_worked":{worked_json},"uuid":{_encode_text(uuid)},'
            f'"revision":{revision if type(revision) is int and revision else _encode_value(revision or 1)},'
            f'"created_at":{created_json},"updated_at":{updated_json},"deleted_at":{deleted_json}}}'
        )
    return ",".join(parts)


def visible_to(caller: auth.Caller) -> ColumnElement[bool] | None:
    """Times the caller may see (3.6, [IMPL]): own, spectated projects, or everything."""
    if caller.site_admin or caller.site_spectator:
        return None
    spectated = (
        sa.select(projects.c.uuid)
        .join(userroles, userroles.c.project == projects.c.id)
        .where(userroles.c.user == caller.id, userroles.c.spectator.is_(True))
    )
    return sa.or_(times.c.user == caller.id, times.c.project.in_(spectated))


def _is_visible(connection: Connection, caller: auth.Caller, row: Row[Any]) -> bool:
    if caller.site_admin or caller.site_spectator or row.user == caller.id:
        return True
    role = queries.project_role(connection, caller.id, str(row.project))
    return role is not None and role["spectator"]


def _refusal(
    connection: Connection, caller: auth.Caller, row: Row[Any], action: str, kind: str
) -> errors.ApiError:
    """Why ``caller`` may not ``action`` this time: 404 (as GET says) when they may not even see it,
    so the answer gives away neither that it exists nor whose it is."""
    if not _is_visible(connection, caller, row):
        return errors.not_found(kind)
    return errors.not_authorized(caller.username, action)


def _date_bound(context: Context, key: str) -> dt.date | None:
    value = context.first(key)
    if not value:
        return None
    has_pattern, day = validation.find_date(value)
    if not has_pattern:
        raise errors.bad_query_value(key, value)
    return day


def listed_to(caller: auth.Caller) -> list[Any]:
    """What every listing of times shows ``caller``, deleted times included: the current revisions
    of the times they may see, in projects that still have slugs (the changes feed reads these too)."""
    project_has_slugs = sa.exists().where(
        projectslugs.c.project == projects.c.id, projects.c.uuid == times.c.project
    )
    # times of deleted projects (no slugs left) are in no listing, as with the reference
    conditions: list[Any] = [times.c.newest.is_(True), project_has_slugs]
    visible = visible_to(caller)
    if visible is not None:
        conditions.append(visible)
    return conditions


def _filters(context: Context, connection: Connection, caller: auth.Caller) -> list[Any]:
    """The WHERE conditions of GET /times (5.1.1), validating each parameter."""
    conditions = listed_to(caller)
    if not context.flag("include_deleted"):
        conditions.append(times.c.deleted_at.is_(None))
    wanted_users = context.values("user")
    if wanted_users:
        ids = queries.user_ids(connection, wanted_users)
        if not ids:
            raise errors.bad_query_value("user", ",".join(wanted_users))
        conditions.append(times.c.user.in_(sorted(ids.values())))
    wanted_projects = context.values("project")
    if wanted_projects:
        uuids = queries.project_uuids_for_slugs(connection, wanted_projects)
        if not uuids:
            raise errors.bad_query_value("project", ",".join(wanted_projects))
        conditions.append(times.c.project.in_(sorted(uuids)))
    wanted_activities = context.values("activity")
    if wanted_activities:
        found = queries.current_activities(connection, wanted_activities)
        if not found:
            raise errors.bad_query_value("activity", ",".join(wanted_activities))
        tagged = (
            sa.select(timesactivities.c.time)
            .join(activities, activities.c.id == timesactivities.c.activity)
            .where(activities.c.uuid.in_(sorted(str(row.uuid) for row in found.values())))
        )
        conditions.append(times.c.id.in_(tagged))
    start, end = _date_bound(context, "start"), _date_bound(context, "end")
    if start is not None and (start > storage.today() or (end is not None and start > end)):
        raise errors.bad_query_value("start", context.first("start") or "")
    if start is not None:
        conditions.append(times.c.date_worked >= storage.date_to_ms(start))
    if end is not None:
        conditions.append(times.c.date_worked < storage.date_to_ms(end + dt.timedelta(days=1)))
    return conditions


class _Page(NamedTuple):
    items: str  # the JSON of the times, comma-separated, without brackets
    length: int
    last: int  # the id to continue after


def _page(
    connection: Connection, conditions: list[Any], after: int, size: int, skip: int, parents: bool
) -> _Page:
    if parents:
        query = select_times().where(*conditions, times.c.id > after).order_by(times.c.id).limit(size)
        rows = connection.execute(query.offset(skip) if skip else query).all()
        items = ",".join(_encode_value(item) for item in render_many(connection, rows, parents="newest"))
        return _Page(items, len(rows), rows[-1].id if rows else after)
    listed = (
        sa.select(*_LISTED)
        .join(users, users.c.id == times.c.user)
        .where(*conditions, times.c.id > after)
        .order_by(times.c.id)
        .limit(size)
    )
    found = storage.driver_rows(connection, listed.offset(skip) if skip else listed)
    return _Page(encode_items(connection, found), len(found), found[-1][0] if found else after)


def _remaining_pages(
    engine: Engine,
    conditions: list[Any],
    after: int,
    remaining: int | None,
    parents: bool,
) -> Iterator[str]:
    """Later pages, each read in its own transaction."""
    while remaining is None or remaining > 0:
        size = PAGE if remaining is None else min(PAGE, remaining)
        with transaction(engine) as connection:
            page = _page(connection, conditions, after, size, 0, parents)
        after = page.last
        yield page.items
        if remaining is not None:
            remaining -= page.length
        if page.length < size:
            return


@read_only
def list_times(context: Context) -> Response:
    with transaction(context.engine) as connection:
        caller = query_caller(context, connection)
        conditions = _filters(context, connection, caller)
        skip, limit = context.pagination()
        parents = context.flag("include_revisions")
        size = PAGE if limit is None else min(PAGE, limit)
        first = _page(connection, conditions, 0, size, skip, parents)
    if first.length < size or (limit is not None and first.length >= limit):
        return Response(f"[{first.items}]".encode(), media_type="application/json")
    remaining = None if limit is None else limit - first.length

    def pages() -> Iterator[str]:
        yield first.items
        yield from _remaining_pages(context.engine, conditions, first.last, remaining, parents)

    return StreamingResponse(encode_pages(pages()), media_type="application/json")


def _uuid_param(context: Context, kind: str) -> str:
    value = context.param("uuid")
    if not validation.is_uuid(value):
        raise errors.invalid_identifier(kind, value)
    return value


def _newest(connection: Connection, uuid: str) -> Row[Any] | None:
    """The current revision; stored uuids are lowercase, so other spellings find nothing."""
    if uuid != uuid.lower():
        return None
    return connection.execute(_NEWEST, {"uuid": uuid}).first()


@read_only
def get_time(context: Context) -> Response:
    with transaction(context.engine) as connection:
        caller = query_caller(context, connection)
        uuid = _uuid_param(context, "UUID")
        row = _NEWEST_READ.first(connection, uuid=uuid) if uuid == uuid.lower() else None
        if (
            row is None
            or (row.deleted_at is not None and not context.flag("include_deleted"))
            or not _is_visible(connection, caller, row)
        ):
            raise errors.not_found(KIND)
        parents = "oldest" if context.flag("include_revisions") else None
        [found] = render_many(connection, [row], parents=parents)
    return preconditions.object_response(context, found, preconditions.revision_etag(row))


# --- writing ---------------------------------------------------------------------------------


def _type_error(field: str, expected: str, value: object) -> errors.ApiError:
    return errors.invalid_field(KIND, field, expected, validation.json_type(value))


def _check_duration(value: float, *, create: bool) -> None:
    if value < 0:
        word = "number" if create else "integer"
        raise errors.invalid_field(KIND, "duration", f"positive {word}", f"negative {word}")
    if value > MAX_DURATION:
        raise errors.invalid_field(
            KIND, "duration", f"number of at most {MAX_DURATION} seconds", "larger number"
        )


def _check_activity_items(value: list[Any]) -> None:
    for item in value:
        if not isinstance(item, str):
            raise errors.invalid_field(
                KIND,
                "activities",
                "slugs",
                f"array containing at least 1 {validation.json_type(item)}",
            )
    if not all(validation.is_slug(item) for item in value):
        raise errors.invalid_field(KIND, "activities", "slugs", "array containing at least 1 invalid slug")


def _check_text_lengths(fields: dict[str, Any]) -> None:
    for name in ("notes", "issue_uri"):
        value = fields.get(name)
        if isinstance(value, str) and len(value) > validation.MAX_VARCHAR:
            raise errors.invalid_field(
                KIND, name, f"string of at most {validation.MAX_VARCHAR} characters", "longer string"
            )


def _date_worked(value: str) -> int:
    day = validation.parse_date(value)
    if day is None:
        raise errors.invalid_field(KIND, "date_worked", "ISO-8601 date", value)
    return storage.date_to_ms(day)


def _check_new_time(fields: dict[str, Any]) -> int:
    """Validation steps 1-6 of 5.1.3; returns ``date_worked`` in epoch ms."""
    required = {"duration", "project", "user", "date_worked"}
    for name, expected in (
        ("duration", "number"),
        ("project", "string"),
        ("user", "string"),
        ("issue_uri", "string"),
        ("activities", "array"),
        ("date_worked", "string"),
    ):
        if name not in fields:
            if name in required:
                raise errors.missing_field(KIND, name)
            continue
        value = fields[name]
        if validation.json_type(value) != expected:
            raise _type_error(name, expected, value)
    if fields.get("notes") is not None and not isinstance(fields["notes"], str):
        raise _type_error("notes", "string", fields["notes"])
    _check_duration(fields["duration"], create=True)
    if not validation.is_slug(fields["project"]):
        raise errors.invalid_field(KIND, "project", "slug", f"invalid slug {fields['project']}")
    _check_activity_items(fields.get("activities") or [])
    issue_uri = fields.get("issue_uri")
    if issue_uri and not validation.is_http_uri(issue_uri):
        raise errors.invalid_field(KIND, "issue_uri", "URI", f"invalid URI {issue_uri}")
    date_worked = _date_worked(fields["date_worked"])
    _check_text_lengths(fields)
    return date_worked


def _hold_references(connection: Connection, project: str | None, activity_slugs: list[str] | None) -> None:
    """Hold, shared, the slugs of the project and activities a write names, before reading them:
    whoever deletes them or moves their slugs waits until this write commits."""
    queries.hold_slugs(
        connection,
        project_slugs=[] if project is None else [project],
        activity_slugs=activity_slugs or [],
        shared=True,
    )


def _activity_ids(connection: Connection, slugs: list[str]) -> list[int]:
    """Current row ids of these (held) activities; 409 when any slug is unknown."""
    wanted = set(slugs)
    found = queries.current_activity_ids(connection, wanted)
    if len(found) != len(wanted):
        raise errors.invalid_foreign_key(KIND, "activities")
    return sorted(set(found.values()))


def _default_activity_ids(connection: Connection, project: Any) -> list[int]:
    """The project's default activity, read under the project's held slug: whoever deletes the
    activity or changes the default holds that slug exclusively (see ``hold_slugs``)."""
    if project.default_activity is not None:
        activity = queries.newest_row(connection, activities, str(project.default_activity))
        if activity is not None and activity.deleted_at is None and activity.slug is not None:
            return [activity.id]
    raise errors.missing_field(KIND, "activities")


def _require_member(connection: Connection, caller: auth.Caller, project_uuid: str, slug: str) -> None:
    if caller.site_admin:
        return
    role = queries.project_role(connection, caller.id, project_uuid)
    if not auth.may_log_time_in(caller, role):
        raise errors.not_authorized(caller.username, f"create time entries for project {slug}.")


def _project(connection: Connection, slug: str) -> Any:
    """The current project with this (held) slug (see :func:`queries.project_read_by_slug`);
    409 when there is none."""
    project = queries.project_read_by_slug(connection, slug) if validation.is_slug(slug) else None
    if project is None or project.deleted_at is not None:
        raise errors.invalid_foreign_key(KIND, "project")
    return project


_INSERT_TIME = storage.Insert(
    times,
    (
        "duration",
        "user",
        "project",
        "notes",
        "issue_uri",
        "date_worked",
        "created_at",
        "uuid",
        "revision",
        "newest",
    ),
)
_INSERT_ACTIVITY = storage.Insert(timesactivities, ("time", "activity"))


def _write_activities(connection: Connection, time_id: int, activity_ids: list[int]) -> None:
    if activity_ids:
        _INSERT_ACTIVITY.many(
            connection, [{"time": time_id, "activity": activity} for activity in activity_ids]
        )


def create_time(context: Context) -> Response:
    fields = body_object(context)
    with transaction(context.engine, write=True) as connection:
        caller = body_caller(context, connection)
        if not isinstance(fields, dict):
            raise errors.missing_field(KIND, "duration")
        date_worked = _check_new_time(fields)
        if fields["user"] != caller.username:
            raise errors.not_authorized(caller.username, f"create time entries for {fields['user']}")
        requested = fields.get("activities") or []
        _hold_references(connection, fields["project"], requested)
        project = _project(connection, fields["project"])
        activity_ids = (
            _activity_ids(connection, requested) if requested else _default_activity_ids(connection, project)
        )
        _require_member(connection, caller, str(project.uuid), fields["project"])
        created = storage.now_ms()
        uuid = queries.new_uuid()
        time_id = _INSERT_TIME.one(
            connection,
            duration=int(fields["duration"]),
            user=caller.id,
            project=str(project.uuid),
            notes=fields.get("notes"),
            issue_uri=fields.get("issue_uri"),
            date_worked=date_worked,
            created_at=created,
            uuid=uuid,
            revision=1,
            newest=True,
        )
        _write_activities(connection, time_id, activity_ids)
    return json_response(
        {
            **fields,
            "uuid": uuid,
            "revision": 1,
            "created_at": storage.ms_to_date(created),
            "updated_at": None,
            "deleted_at": None,
        }
    )


def _check_update(fields: dict[str, Any]) -> dict[str, Any]:
    """Validation steps 2-8 of 5.1.4; returns the column changes they determine alone."""
    if isinstance(fields.get("duration"), dict):
        raise _type_error("duration", "number", fields["duration"])
    for name in fields:
        if name not in UPDATABLE and not (name == RESTORE and fields[name] is None):
            raise errors.unknown_field(KIND, name)
    for name, expected in (
        ("duration", "number"),
        ("project", "string"),
        ("activities", "array"),
        ("user", "string"),
        ("issue_uri", "string"),
        ("date_worked", "string"),
        ("notes", "string"),
    ):
        if name not in fields or (name in ("notes", "issue_uri") and fields[name] is None):
            continue
        value = fields[name]
        if validation.json_type(value) != expected:
            raise _type_error(name, expected, value)
    changes: dict[str, Any] = {}
    if "duration" in fields:
        _check_duration(fields["duration"], create=False)
        changes["duration"] = int(fields["duration"])
    if "activities" in fields:
        if not fields["activities"]:
            raise errors.invalid_field(KIND, "activities", "array of slugs", "empty array")
        _check_activity_items(fields["activities"])
    issue_uri = fields.get("issue_uri")
    if issue_uri is not None and not validation.is_http_uri(issue_uri):
        raise errors.invalid_field(KIND, "issue_uri", "URI", f"invalid URI {issue_uri}")
    if "date_worked" in fields:
        changes["date_worked"] = _date_worked(fields["date_worked"])
    _check_text_lengths(fields)
    for name in ("notes", "issue_uri"):
        if name in fields:
            changes[name] = fields[name]
    return changes


def update_time(context: Context) -> Response:
    fields = body_object(context)
    with transaction(context.engine, write=True) as connection:
        caller = body_caller(context, connection)
        uuid = _uuid_param(context, "UUID")
        if not isinstance(fields, dict):
            raise errors.invalid_field(KIND, "object", "object", validation.json_type(fields))
        changes = _check_update(fields)
        queries.lock_objects(connection, times, [uuid])
        current = _newest(connection, uuid)
        if current is None:
            raise errors.not_found(KIND)
        if current.deleted_at is not None and not (RESTORE in fields and caller.site_admin):
            raise errors.not_found(KIND)
        if not auth.may_update_time(caller, current.user):
            raise _refusal(connection, caller, current, f"update time {uuid}", KIND)
        preconditions.check_if_match(context, KIND, preconditions.revision_etag(current))
        if current.deleted_at is not None:
            changes["deleted_at"] = None
        if "user" in fields:
            owner = queries.user_ids(connection, [fields["user"]]).get(fields["user"])
            if owner is None:
                raise errors.invalid_foreign_key(KIND, "user")
            if owner != caller.id and not caller.site_admin:
                raise errors.not_authorized(caller.username, f"create time entries for {fields['user']}")
            changes["user"] = owner
        _hold_references(connection, fields.get("project"), fields.get("activities"))
        if "project" in fields:
            project = _project(connection, fields["project"])
            if str(project.uuid) != str(current.project):
                _require_member(connection, caller, str(project.uuid), fields["project"])
            changes["project"] = str(project.uuid)
        activity_ids = _activity_ids(connection, fields["activities"]) if "activities" in fields else None
        stored = connection.execute(sa.select(times).where(times.c.id == current.id)).one()
        new_id = queries.add_revision(connection, times, stored, changes)
        if activity_ids is None:
            old = sa.select(timesactivities.c.activity).where(timesactivities.c.time == current.id)
            activity_ids = sorted(set(connection.execute(old).scalars()))
        _write_activities(connection, new_id, activity_ids)
        [updated] = render_many(connection, [_row_by_id(connection, new_id)])
    return json_response(updated)


def _row_by_id(connection: Connection, time_id: int) -> Row[Any]:
    return connection.execute(select_times().where(times.c.id == time_id)).one()


def delete_time(context: Context) -> Response:
    with transaction(context.engine, write=True) as connection:
        caller = query_caller(context, connection)
        uuid = _uuid_param(context, "uuid")
        queries.lock_objects(connection, times, [uuid])
        current = _newest(connection, uuid)
        if current is None:
            raise errors.not_found("uuid")
        if not auth.may_delete_time(caller, current.user):
            raise _refusal(connection, caller, current, f"delete time {uuid}", "uuid")
        preconditions.check_if_match(context, KIND, preconditions.revision_etag(current))
        if current.deleted_at is None:
            connection.execute(
                sa.update(times).where(times.c.id == current.id).values(deleted_at=storage.now_ms())
            )
    return empty_response()


ROUTES = [
    ("/times", ["GET"], list_times),
    ("/times", ["POST"], create_time),
    ("/times/{uuid}", ["GET"], get_time),
    ("/times/{uuid}", ["POST"], update_time),
    ("/times/{uuid}", ["DELETE"], delete_time),
]
