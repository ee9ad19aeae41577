"""``/activities`` endpoints (API doc §5.3). Each update writes a new revision row."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from starlette.responses import Response

from pymesync.server import errors, preconditions, queries, schema, storage, validation
from pymesync.server.context import (
    Context,
    body_caller,
    body_object,
    empty_response,
    json_response,
    query_caller,
    read_only,
    require_site_manager,
)
from pymesync.server.storage import transaction

activities = schema.activities
times = schema.times
timesactivities = schema.timesactivities
KIND = "activity"
FIELDS = ("name", "slug")


def render(row: Row[Any]) -> dict[str, Any]:
    return {
        "name": row.name,
        "slug": row.slug,
        "uuid": str(row.uuid),
        "revision": row.revision or 1,
        "created_at": storage.ms_to_date(row.created_at),
        "updated_at": storage.ms_to_date(row.updated_at),
        "deleted_at": storage.ms_to_date(row.deleted_at),
    }


#: What GET /activities shows without parameters.
_CURRENT = storage.Read(
    sa.select(activities)
    .where(activities.c.newest.is_(True), activities.c.deleted_at.is_(None))
    .order_by(activities.c.id)
)


@read_only
def list_activities(context: Context) -> Response:
    with transaction(context.engine) as connection:
        query_caller(context, connection)
        skip, limit = context.pagination()
        include_deleted = context.flag("include_deleted")
        if not (skip or limit or include_deleted):
            rows = _CURRENT.all(connection)
        else:
            query = sa.select(activities).where(activities.c.newest.is_(True))
            if not include_deleted:
                query = query.where(activities.c.deleted_at.is_(None))
            query = query.order_by(activities.c.id).offset(skip).limit(limit)
            rows = list(connection.execute(query))
        found = [render(row) for row in rows]
        if context.flag("include_revisions"):
            parents: dict[str, list[dict[str, Any]]] = {item["uuid"]: [] for item in found}
            for batch in queries.batches(parents):
                older = sa.select(activities).where(
                    activities.c.uuid.in_(batch), activities.c.newest.is_not(True)
                )
                for row in connection.execute(older.order_by(activities.c.id)):
                    parents[str(row.uuid)].append(render(row))
            for item in found:
                item["parents"] = parents[item["uuid"]]
    return json_response(found)


def _current(connection: Connection, slug: str) -> Row[Any] | None:
    return queries.current_activities(connection, [slug]).get(slug)


def _current_locked(connection: Connection, slug: str) -> Row[Any] | None:
    """The current revision of the activity with this slug, locked for revising or deleting."""
    return queries.read_locked(connection, activities, lambda: _current(connection, slug))


@read_only
def get_activity(context: Context) -> Response:
    slug = context.param("slug")
    with transaction(context.engine) as connection:
        query_caller(context, connection)
        if not validation.is_lenient_slug(slug):
            raise errors.invalid_identifier("slug", slug)
        row = _current(connection, slug)
        if row is None:
            raise errors.not_found(KIND)
        found = render(row)
        if context.flag("include_revisions"):
            older = sa.select(activities).where(
                activities.c.uuid == row.uuid,
                activities.c.newest.is_not(True),
                activities.c.slug == slug,
            )
            found["parents"] = [
                render(parent) for parent in connection.execute(older.order_by(activities.c.id.desc()))
            ]
    return preconditions.object_response(context, found, preconditions.revision_etag(row))


def _check_unknown(fields: dict[str, Any]) -> None:
    for name in fields:
        if name not in FIELDS:
            raise errors.unknown_field(KIND, name)


def _check_name_length(name: str) -> None:
    if len(name) > validation.MAX_VARCHAR:
        raise errors.invalid_field(
            KIND, "name", f"string of at most {validation.MAX_VARCHAR} characters", "longer string"
        )


def create_activity(context: Context) -> Response:
    fields = body_object(context)
    with transaction(context.engine, write=True) as connection:
        caller = body_caller(context, connection)
        require_site_manager(caller, "create activities")
        if not isinstance(fields, dict):
            raise errors.missing_field(KIND, "name")
        _check_unknown(fields)
        for name in FIELDS:
            if not validation.is_truthy(fields.get(name)):
                raise errors.missing_field(KIND, name)
        for name in FIELDS:
            if not isinstance(fields[name], str):
                raise errors.invalid_field(KIND, name, "string", validation.json_type(fields[name]))
        name, slug = fields["name"], fields["slug"]
        if not validation.is_slug(slug):
            raise errors.invalid_field(KIND, "slug", "slug", "non-slug string")
        _check_name_length(name)
        created = queries.insert_activity(connection, name=name, slug=slug)
    return json_response(
        {
            **created,
            "created_at": storage.ms_to_date(created["created_at"]),
            "updated_at": None,
            "deleted_at": None,
        }
    )


def update_activity(context: Context) -> Response:
    slug = context.param("slug")
    fields = body_object(context)
    with transaction(context.engine, write=True) as connection:
        caller = body_caller(context, connection)
        require_site_manager(caller, "update activities")
        if not isinstance(fields, dict):
            raise errors.invalid_field(KIND, "object", "object", validation.json_type(fields))
        _check_unknown(fields)
        for name in FIELDS:
            if name in fields and not isinstance(fields[name], str):
                raise errors.invalid_field(KIND, name, "string", validation.json_type(fields[name]))
        if fields.get("name") == "":
            raise errors.invalid_field(KIND, "name", "string", "empty string")
        if fields.get("slug") == "":
            raise errors.invalid_field(KIND, "slug", "slug", "empty string")
        if not validation.is_slug(slug):
            raise errors.invalid_identifier("slug", slug)
        new_slug, new_name = fields.get("slug"), fields.get("name")
        if new_slug is not None and not validation.is_slug(new_slug):
            raise errors.invalid_field(KIND, "slug", "valid slug", f"invalid slug {new_slug}")
        if new_name is not None:
            _check_name_length(new_name)
        queries.claim_names(
            connection,
            activities,
            names=[] if new_name is None else [new_name],
            slugs=[] if new_slug is None else [new_slug, slug],
        )
        if new_slug is not None and queries.activity_slug_taken(connection, new_slug):
            raise errors.slugs_exist([new_slug])
        if new_name is not None and queries.name_taken(connection, activities, new_name):
            raise errors.not_unique_name(KIND)
        current = _current_locked(connection, slug)
        if current is None:
            raise errors.not_found(KIND)
        preconditions.check_if_match(context, KIND, preconditions.revision_etag(current))
        new_id = queries.add_revision(connection, activities, current, fields)
        row = connection.execute(sa.select(activities).where(activities.c.id == new_id)).one()
    updated = render(row)
    del updated["deleted_at"]
    return json_response(updated)


def delete_activity(context: Context) -> Response:
    slug = context.param("slug")
    with transaction(context.engine, write=True) as connection:
        caller = query_caller(context, connection)
        require_site_manager(caller, "delete activities")
        if not validation.is_slug(slug):
            raise errors.invalid_identifier("slug", slug)
        queries.hold_slugs(connection, activity_slugs=[slug])
        current = _current_locked(connection, slug)
        if current is None:
            raise errors.not_found("slug")
        preconditions.check_if_match(context, KIND, preconditions.revision_etag(current))
        queries.hold_projects_defaulting_to(connection, str(current.uuid))
        in_use = (
            sa.select(times.c.id)
            .join(timesactivities, timesactivities.c.time == times.c.id)
            .join(activities, activities.c.id == timesactivities.c.activity)
            .where(
                activities.c.uuid == current.uuid,
                times.c.newest.is_(True),
                times.c.deleted_at.is_(None),
            )
            .limit(1)
        )
        if connection.execute(in_use).first() is not None:
            raise errors.method_not_allowed(KIND)
        connection.execute(
            sa.update(activities)
            .where(activities.c.id == current.id)
            .values(deleted_at=storage.now_ms(), slug=None)
        )
    return empty_response()


ROUTES = [
    ("/activities", ["GET"], list_activities),
    ("/activities", ["POST"], create_activity),
    ("/activities/{slug}", ["GET"], get_activity),
    ("/activities/{slug}", ["POST"], update_activity),
    ("/activities/{slug}", ["DELETE"], delete_activity),
]
