"""``/users`` endpoints (API doc §5.4). Users are updated in place and have no revisions."""

from __future__ import annotations

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

users = schema.users
KIND = "user"
FLAG_FIELDS = ("site_spectator", "site_manager", "site_admin", "active")
#: Field order of the type checks (5.4.2 step 4).
TYPED_FIELDS = ("username", "display_name", "password", "email", *FLAG_FIELDS, "meta")
SERVER_SET = ("created_at", "updated_at", "deleted_at")
ALLOWED = {*TYPED_FIELDS}
#: Fields users may change on their own record, whatever their site-wide flags.
SELF_FIELDS = {"password", "display_name", "email", "meta"}
#: Fields a site manager may change on other users' records.
MANAGER_FIELDS = {"site_spectator", "email"}
#: Sent as ``null`` by a site admin, it restores a deleted user; no other update touches a deleted user.
RESTORE = "deleted_at"
#: Text columns without the varchar limit.
UNLIMITED = {"meta", "password"}


def render(row: Row[Any]) -> dict[str, Any]:
    return {
        "username": row.username,
        "display_name": row.display_name,
        "email": row.email,
        "meta": row.meta,
        "site_spectator": bool(row.site_spectator),
        "site_manager": bool(row.site_manager),
        "site_admin": bool(row.site_admin),
        "active": True if row.active is None else bool(row.active),
        "created_at": storage.ms_to_date(row.created_at),
        "updated_at": storage.ms_to_date(row.updated_at),
        "deleted_at": storage.ms_to_date(row.deleted_at),
    }


@read_only
def list_users(context: Context) -> Response:
    with transaction(context.engine) as connection:
        query_caller(context, connection)
        query = sa.select(users).order_by(users.c.id)
        if not context.flag("include_deleted"):
            query = query.where(users.c.deleted_at.is_(None))
        skip, limit = context.pagination()
        query = query.offset(skip).limit(limit)
        found = [render(row) for row in connection.execute(query)]
    return json_response(found)


def _find(connection: Connection, username: str) -> Row[Any] | None:
    if not validation.is_storable(username):
        return None
    return connection.execute(sa.select(users).where(users.c.username == username)).first()


@read_only
def get_user(context: Context) -> Response:
    username = context.param("username")
    with transaction(context.engine) as connection:
        query_caller(context, connection)
        if not validation.is_username(username):
            raise errors.invalid_identifier("username", username)
        row = _find(connection, username)
        if row is None or (row.deleted_at is not None and not context.flag("include_deleted")):
            raise errors.not_found(KIND)
        return preconditions.object_response(context, render(row), preconditions.user_etag(row))


def _check_types(fields: dict[str, Any], *, skip: tuple[str, ...] = ()) -> None:
    for name in TYPED_FIELDS:
        if name not in fields or name in skip:
            continue
        value = fields[name]
        expected = "boolean" if name in FLAG_FIELDS else "string"
        if validation.json_type(value) != expected:
            raise errors.invalid_field(KIND, name, expected, validation.json_type(value))
        if expected == "string" and name not in UNLIMITED and len(value) > validation.MAX_VARCHAR:
            raise errors.invalid_field(
                KIND, name, f"string of at most {validation.MAX_VARCHAR} characters", "longer string"
            )


def _check_password(context: Context, fields: dict[str, Any]) -> None:
    """Refuse what bcrypt would truncate, an empty or too short plaintext, and costly hashes."""
    if "password" not in fields:
        return
    problem = auth.password_problem(fields["password"], min_length=context.config.min_password_length)
    if problem is not None:
        raise errors.invalid_field(KIND, "password", problem.expected, problem.received)


def _check_unknown(fields: dict[str, Any]) -> None:
    for name in fields:
        if name not in ALLOWED and name not in SERVER_SET:
            raise errors.unknown_field(KIND, name)


def create_user(context: Context) -> Response:
    fields = body_object(context)
    with transaction(context.engine, write=True) as connection:
        caller = body_caller(context, connection)
        if not isinstance(fields, dict) or not validation.is_truthy(fields.get("username")):
            raise errors.missing_field(KIND, "username")
        if not validation.is_truthy(fields.get("password")):
            raise errors.missing_field(KIND, "password")
        for name in SERVER_SET:
            if validation.is_truthy(fields.get(name)):
                raise errors.unknown_field(KIND, name)
        _check_types(fields)
        _check_password(context, fields)
        username: str = fields["username"]
        if not validation.is_username(username):
            raise errors.invalid_field(KIND, "username", "valid username", "string")
        email = fields.get("email")
        if email and not validation.is_email(email):
            raise errors.invalid_field(KIND, "email", "valid email", "string")
        _check_unknown(fields)
        require_site_manager(caller, "create users")
        if not caller.site_admin and (fields.get("site_admin") or fields.get("site_manager")):
            raise errors.not_authorized(caller.username, f"set permissions of user {username}")
        queries.claim_username(connection, username)
        if storage.username_taken(connection, username):
            raise errors.username_exists(username)
        created = storage.now_ms()
        values = {name: fields.get(name) for name in ("display_name", "email", "meta")}
        flags = {name: bool(fields.get(name, False)) for name in FLAG_FIELDS if name != "active"}
        connection.execute(
            sa.insert(users).values(
                username=username,
                password=auth.password_for_storage(fields["password"]),
                active=bool(fields.get("active", True)),
                created_at=created,
                **values,
                **flags,
            )
        )
    return json_response(
        {
            "username": username,
            **values,
            **flags,
            "active": True,
            "created_at": created,
            "updated_at": None,
            "deleted_at": None,
        }
    )


def _authorize_update(caller: auth.Caller, username: str, fields: dict[str, Any]) -> None:
    """Who may change which fields (5.4.3 with the self-grant fixed, see docs/server.md)."""
    if caller.site_admin:
        return
    is_self = caller.username == username
    if not (is_self or caller.site_manager):
        raise errors.not_authorized(caller.username, f"modify user {username}")
    allowed = SELF_FIELDS if is_self else MANAGER_FIELDS
    requested = set(fields) - {"username", *SERVER_SET}
    if caller.site_manager and not is_self and requested - allowed:
        raise errors.not_authorized(
            caller.username, f"modify fields of user {username} other than site_spectator"
        )
    if requested - allowed:
        raise errors.not_authorized(caller.username, f"set permissions of user {username}")


def _may_manage(caller: auth.Caller, row: Row[Any]) -> bool:
    return auth.may_manage_user(caller, site_admin=bool(row.site_admin), site_manager=bool(row.site_manager))


def update_user(context: Context) -> Response:
    username = context.param("username")
    fields = body_object(context)
    with transaction(context.engine, write=True) as connection:
        caller = body_caller(context, connection)
        if not isinstance(fields, dict):
            raise errors.invalid_field(KIND, "object", "object", validation.json_type(fields))
        for name in (*SERVER_SET, "username"):
            if validation.is_truthy(fields.get(name)):
                raise errors.unknown_field(KIND, name)
        wants_restore = RESTORE in fields and fields[RESTORE] is None
        fields = {
            name: value
            for name, value in fields.items()
            if not (name in (*SERVER_SET, "username") and not validation.is_truthy(value))
        }
        email = fields.get("email")
        if validation.is_truthy(email) and not (isinstance(email, str) and validation.is_email(email)):
            raise errors.invalid_field(KIND, "email", "valid email", validation.js_typeof(email))
        _check_unknown(fields)
        _authorize_update(caller, username, fields)
        if "email" in fields and not email:
            fields["email"] = None
        _check_types(fields, skip=("email",))
        _check_password(context, fields)
        queries.claim_username(connection, username)
        row = _find(connection, username)
        if row is None or (row.deleted_at is not None and not (wants_restore and caller.site_admin)):
            raise errors.not_found(KIND)
        if caller.username != username and not _may_manage(caller, row):
            raise errors.not_authorized(caller.username, f"modify user {username}")
        preconditions.check_if_match(context, KIND, preconditions.user_etag(row))
        changes = dict(fields)
        if row.deleted_at is not None:
            changes["deleted_at"] = None
        storage.update_user(connection, row.id, changes)
        updated = connection.execute(sa.select(users).where(users.c.id == row.id)).one()
        return json_response(render(updated))


def delete_user(context: Context) -> Response:
    username = context.param("username")
    with transaction(context.engine, write=True) as connection:
        caller = query_caller(context, connection)
        if not validation.is_username(username):
            raise errors.invalid_identifier("username", username)
        require_site_manager(caller, "delete users")
        queries.claim_username(connection, username)
        row = _find(connection, username)
        if row is None:
            raise errors.not_found(KIND)
        if not _may_manage(caller, row):
            raise errors.not_authorized(caller.username, "delete users")
        preconditions.check_if_match(context, KIND, preconditions.user_etag(row))
        storage.delete_user(connection, row.id)
    return empty_response()


ROUTES = [
    ("/users", ["GET"], list_users),
    ("/users", ["POST"], create_user),
    ("/users/{username}", ["GET"], get_user),
    ("/users/{username}", ["POST"], update_user),
    ("/users/{username}", ["DELETE"], delete_user),
]
