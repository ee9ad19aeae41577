"""``/projects`` endpoints (API doc §5.2). Slugs and roles follow the newest revision row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from starlette.responses import Response

from pymesync.server import auth, errors, preconditions, queries, schema, storage, validation
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

projects = schema.projects
projectslugs = schema.projectslugs
userroles = schema.userroles
users = schema.users
times = schema.times
KIND = "project"
FIELDS = ("name", "uri", "slugs", "users", "default_activity")
ROLE_FLAGS = ("member", "spectator", "manager")
#: Fields that accept ``null``: it clears them.
NULLABLE = ("uri", "default_activity")
#: (field, JSON type) in the order the types are checked.
TYPES = (
    ("name", "string"),
    ("uri", "string"),
    ("slugs", "array"),
    ("users", "object"),
    ("default_activity", "string"),
)


def _base(row: Row[Any], default_slugs: dict[str, str]) -> dict[str, Any]:
    default = row.default_activity
    return {
        "name": row.name,
        "uri": row.uri,
        "uuid": str(row.uuid),
        "default_activity": None if default is None else default_slugs.get(str(default)),
        "revision": row.revision or 1,
        "created_at": storage.ms_to_date(row.created_at),
        "updated_at": storage.ms_to_date(row.updated_at),
        "deleted_at": storage.ms_to_date(row.deleted_at),
    }


def _members(connection: Connection, project_uuids: Sequence[str]) -> dict[str, dict[str, dict[str, bool]]]:
    found: dict[str, dict[str, dict[str, bool]]] = {}
    for batch in queries.batches(project_uuids):
        query = (
            sa.select(projects.c.uuid, users.c.username, *(userroles.c[f] for f in ROLE_FLAGS))
            .join(projects, projects.c.id == userroles.c.project)
            .join(users, users.c.id == userroles.c.user)
            .where(projects.c.uuid.in_(batch))
            .order_by(userroles.c.id)
        )
        for row in connection.execute(query):
            found.setdefault(str(row.uuid), {})[row.username] = {
                flag: bool(getattr(row, flag)) for flag in ROLE_FLAGS
            }
    return found


def render_many(
    connection: Connection, rows: Sequence[Row[Any]], *, with_parents: bool
) -> list[dict[str, Any]]:
    """The GET form of each project (3.3), with a few batched queries for the whole list."""
    uuids = [str(row.uuid) for row in rows]
    parents_by_uuid: dict[str, list[Row[Any]]] = {uuid: [] for uuid in uuids}
    if with_parents:
        for batch in queries.batches(uuids):
            older = sa.select(projects).where(projects.c.uuid.in_(batch), projects.c.newest.is_not(True))
            for parent in connection.execute(older.order_by(projects.c.id.desc())):
                parents_by_uuid[str(parent.uuid)].append(parent)
    defaults = {
        str(row.default_activity)
        for row in [*rows, *(p for ps in parents_by_uuid.values() for p in ps)]
        if row.default_activity is not None
    }
    default_slugs = queries.activity_slugs(connection, defaults)
    slugs = queries.project_slugs(connection, uuids)
    members = _members(connection, uuids)
    rendered = []
    for row in rows:
        uuid = str(row.uuid)
        item = _base(row, default_slugs)
        item["slugs"] = slugs.get(uuid, [])
        if members.get(uuid):
            item["users"] = members[uuid]
        if with_parents:
            item["parents"] = [_base(parent, default_slugs) for parent in parents_by_uuid[uuid]]
        rendered.append(item)
    return rendered


@read_only
def list_projects(context: Context) -> Response:
    with transaction(context.engine) as connection:
        query_caller(context, connection)
        query = sa.select(projects).where(projects.c.newest.is_(True))
        if not context.flag("include_deleted"):
            query = query.where(projects.c.deleted_at.is_(None))
        wanted = context.values("user")
        if wanted:
            ids = queries.user_ids(connection, wanted)
            if not ids:
                raise errors.bad_query_value("user", ",".join(wanted))
            member_of = (
                sa.select(projects.c.uuid)
                .join(userroles, userroles.c.project == projects.c.id)
                .where(userroles.c.user.in_(list(ids.values())))
            )
            query = query.where(projects.c.uuid.in_(member_of))
        skip, limit = context.pagination()
        query = query.order_by(projects.c.id).offset(skip).limit(limit)
        rows = connection.execute(query).all()
        found = render_many(connection, rows, with_parents=context.flag("include_revisions"))
    return json_response(found)


def _current_locked(connection: Connection, slug: str) -> Row[Any] | None:
    """The current revision of the project with this slug, locked for revising or deleting."""
    return queries.read_locked(connection, projects, lambda: queries.project_by_slug(connection, slug))


def _hold_own_slugs(connection: Connection, project: Row[Any]) -> None:
    """Hold the slugs of a project that gives them up or changes what they guard (a change of
    slugs or of the default activity, a delete), so a time being written through one of them
    commits first and is seen by the checks that follow."""
    held = connection.execute(sa.select(projectslugs.c.name).where(projectslugs.c.project == project.id))
    queries.hold_slugs(connection, project_slugs=list(held.scalars()))


@read_only
def get_project(context: Context) -> Response:
    slug = context.param("slug")
    with transaction(context.engine) as connection:
        query_caller(context, connection)
        if not validation.is_lenient_slug(slug):
            raise errors.invalid_identifier("slug", slug)
        row = queries.project_by_slug(connection, slug)
        if row is None or row.deleted_at is not None:
            raise errors.not_found(KIND)
        [found] = render_many(connection, [row], with_parents=context.flag("include_revisions"))
    return preconditions.object_response(context, found, preconditions.revision_etag(row))


def _check_fields(fields: dict[str, Any], *, creating: bool) -> None:
    """Unknown keys, types, uri and slugs (5.2.3 steps 2-5, 5.2.4 steps 1-4)."""
    for name in fields:
        if name not in FIELDS:
            raise errors.unknown_field(KIND, name)
    for name, expected in TYPES:
        if creating and name in ("name", "slugs") and not validation.is_truthy(fields.get(name)):
            raise errors.missing_field(KIND, name)
        if name not in fields or (name in NULLABLE and fields[name] is None):
            continue
        if validation.json_type(fields[name]) != expected:
            raise errors.invalid_field(KIND, name, expected, validation.json_type(fields[name]))
    for name in ("name", "uri"):
        if len(fields.get(name) or "") > validation.MAX_VARCHAR:
            raise errors.invalid_field(
                KIND, name, f"string of at most {validation.MAX_VARCHAR} characters", "longer string"
            )
    uri = fields.get("uri")
    if uri and not validation.is_http_uri(uri):
        raise errors.invalid_field(KIND, "uri", "uri", "non-uri string" if creating else "string")
    if "slugs" in fields:
        slugs = fields["slugs"]
        if not slugs:
            if creating:
                raise errors.missing_field(KIND, "slugs")
            raise errors.invalid_field(KIND, "slugs", "array of slugs", "empty array")
        if not all(isinstance(slug, str) and validation.is_slug(slug) for slug in slugs):
            raise errors.invalid_field(KIND, "slugs", "slugs", "non-slug strings")
    for username, roles in (fields.get("users") or {}).items():
        if not isinstance(roles, dict) or not validation.is_storable(username):
            raise errors.invalid_field(KIND, "users", "object", validation.json_type(roles))


def _default_activity(connection: Connection, fields: dict[str, Any]) -> str | None:
    """The uuid of the requested default activity (409 when the slug is unknown)."""
    return queries.default_activity_uuid(connection, fields.get("default_activity"))


def _known_members(
    connection: Connection, requested: dict[str, dict[str, Any]]
) -> dict[str, tuple[int, dict[str, Any]]]:
    ids = queries.user_ids(connection, requested)
    return {name: (ids[name], roles) for name, roles in requested.items() if name in ids}


def _write_members(
    connection: Connection, project_id: int, members: dict[str, tuple[int, dict[str, Any]]]
) -> None:
    if members:
        connection.execute(
            sa.insert(userroles),
            [
                {
                    "project": project_id,
                    "user": user_id,
                    **{flag: validation.is_truthy(roles.get(flag)) for flag in ROLE_FLAGS},
                }
                for user_id, roles in members.values()
            ],
        )


def create_project(context: Context) -> Response:
    fields = body_object(context)
    with transaction(context.engine, write=True) as connection:
        caller = body_caller(context, connection)
        require_site_manager(caller, "create projects")
        if not isinstance(fields, dict):
            raise errors.missing_field(KIND, "name")
        _check_fields(fields, creating=True)
        project_id, uuid, created = queries.insert_project(
            connection,
            name=fields["name"],
            slugs=fields["slugs"],
            uri=fields.get("uri"),
            default_activity=fields.get("default_activity"),
        )
        echo = dict(fields)
        if "users" in fields:
            members = _known_members(connection, fields["users"])
            _write_members(connection, project_id, members)
            echo["users"] = {name: roles for name, (_, roles) in members.items()}
    echo.update(
        uuid=uuid,
        created_at=storage.ms_to_date(created),
        revision=1,
        updated_at=None,
        deleted_at=None,
    )
    return json_response(echo)


def update_project(context: Context) -> Response:
    slug = context.param("slug")
    fields = body_object(context)
    with transaction(context.engine, write=True) as connection:
        caller = body_caller(context, connection)
        if not isinstance(fields, dict):
            raise errors.invalid_field(KIND, "object", "object", validation.json_type(fields))
        _check_fields(fields, creating=False)
        queries.claim_names(
            connection,
            projects,
            names=[fields["name"]] if fields.get("name") else [],
            slugs=fields.get("slugs") or [],
        )
        current = _current_locked(connection, slug)
        if current is None or current.deleted_at is not None:
            raise errors.not_found(KIND)
        if "slugs" in fields or "default_activity" in fields:
            _hold_own_slugs(connection, current)
        uuid = str(current.uuid)
        role = None if caller.manages_site else queries.project_role(connection, caller.id, uuid)
        if not auth.may_manage_project(caller, role):
            raise errors.not_authorized(caller.username, f"make changes to {current.name}")
        preconditions.check_if_match(context, KIND, preconditions.revision_etag(current))
        changes: dict[str, Any] = {}
        if "default_activity" in fields:
            changes["default_activity"] = _default_activity(connection, fields)
        name = fields.get("name")
        if name:
            if name != current.name and queries.name_taken(connection, projects, name):
                raise errors.not_unique_name(KIND)
            changes["name"] = name
        slugs = sorted(set(fields["slugs"])) if "slugs" in fields else None
        if slugs is not None:
            taken = queries.colliding_project_slugs(connection, slugs, uuid)
            if taken:
                raise errors.slugs_exist(taken)
        if "uri" in fields:
            changes["uri"] = fields["uri"] or None
        new_id = queries.add_revision(connection, projects, current, changes)
        revision_ids = sa.select(projects.c.id).where(projects.c.uuid == uuid)
        if slugs is not None:
            connection.execute(sa.delete(projectslugs).where(projectslugs.c.project.in_(revision_ids)))
            queries.write_project_slugs(connection, new_id, slugs)
        else:
            connection.execute(
                sa.update(projectslugs).where(projectslugs.c.project.in_(revision_ids)).values(project=new_id)
            )
        if "users" in fields:
            connection.execute(sa.delete(userroles).where(userroles.c.project.in_(revision_ids)))
            _write_members(connection, new_id, _known_members(connection, fields["users"]))
        else:
            connection.execute(
                sa.update(userroles).where(userroles.c.project.in_(revision_ids)).values(project=new_id)
            )
        row = connection.execute(sa.select(projects).where(projects.c.id == new_id)).one()
        [updated] = render_many(connection, [row], with_parents=False)
    return json_response(updated)


def delete_project(context: Context) -> Response:
    slug = context.param("slug")
    with transaction(context.engine, write=True) as connection:
        caller = query_caller(context, connection)
        current = _current_locked(connection, slug) if validation.is_slug(slug) else None
        if not caller.manages_site:
            role = None if current is None else queries.project_role(connection, caller.id, str(current.uuid))
            if not auth.may_manage_project(caller, role):
                raise errors.not_authorized(caller.username, f"delete project {slug}")
        if not validation.is_slug(slug):
            raise errors.invalid_identifier("slug", slug)
        if current is None:
            raise errors.not_found("slug")
        preconditions.check_if_match(context, KIND, preconditions.revision_etag(current))
        _hold_own_slugs(connection, current)
        uuid = str(current.uuid)
        in_use = sa.select(times.c.id).where(
            times.c.project == uuid, times.c.newest.is_(True), times.c.deleted_at.is_(None)
        )
        if connection.execute(in_use.limit(1)).first() is not None:
            raise errors.method_not_allowed(KIND)
        revision_ids = sa.select(projects.c.id).where(projects.c.uuid == uuid)
        connection.execute(sa.delete(projectslugs).where(projectslugs.c.project.in_(revision_ids)))
        connection.execute(sa.delete(userroles).where(userroles.c.project.in_(revision_ids)))
        connection.execute(
            sa.update(projects).where(projects.c.id == current.id).values(deleted_at=storage.now_ms())
        )
    return empty_response()


ROUTES = [
    ("/projects", ["GET"], list_projects),
    ("/projects", ["POST"], create_project),
    ("/projects/{slug}", ["GET"], get_project),
    ("/projects/{slug}", ["POST"], update_project),
    ("/projects/{slug}", ["DELETE"], delete_project),
]
