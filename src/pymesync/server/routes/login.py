"""``POST /login`` (API doc §2.1): password login; other auth types plug in by name."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from starlette.responses import Response

from pymesync.server import auth, errors, schema, storage
from pymesync.server.context import Context, body_auth, describe, json_response
from pymesync.server.storage import transaction

#: Login cache headers of the reference (1.3), on top of the app-wide ones, with the commas and the
#: directive name (``must-revalidate``) that the reference got wrong.
LOGIN_HEADERS = {
    "Cache-Control": "no-cache, no-store, must-revalidate, max-age=0",
    "Pragma": "no-cache",
    "Expires": "Thu, 01 Jan 1970 00:00:01 GMT",
}


_users = schema.users
_changes = schema.credential_changes
_PASSWORD_QUERY = (
    sa.select(_users.c.password, _changes.c.changed_at)
    .select_from(_users.outerjoin(_changes, _changes.c.user_id == _users.c.id))
    .where(_users.c.username == sa.bindparam("username"), _users.c.deleted_at.is_(None))
)


def _password_login(context: Context, username: str, password: str) -> int | None:
    """When a not-deleted user ``username`` has this password: the moment it was read (see LOGIN_METHODS)."""
    read_at = storage.now_ms()
    with transaction(context.engine) as connection:
        row = connection.execute(_PASSWORD_QUERY, {"username": username}).first()
    # checked even for unknown users, so they take as long as known ones
    matches = auth.check_password(password, None if row is None else row.password)
    if row is None or not matches:
        return None
    floor = storage.token_floor(row.changed_at)
    return read_at if floor is None else max(read_at, floor)


#: Authentication types by name; only those in ``Config.auth_modules`` are enabled. Each returns
#: None for wrong credentials, else the epoch ms as of which they were found valid: the new token's
#: ``iat``. So a password change made while bcrypt was checking the old password voids the token.
LOGIN_METHODS: dict[str, Callable[[Context, str, str], int | None]] = {"password": _password_login}


def login(context: Context) -> Response:
    credentials = body_auth(context)
    auth_type = credentials["type"]
    method = LOGIN_METHODS.get(auth_type) if isinstance(auth_type, str) else None
    if method is None or auth_type not in context.config.auth_modules:
        raise errors.bad_auth_type(describe(auth_type))
    username, password = credentials.get("username"), credentials.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise errors.missing_credentials()
    if not username or not password:
        raise errors.missing_credentials()
    verified_at = method(context, username, password)
    if verified_at is None:
        raise errors.authentication_failure("Incorrect username or password")
    config = context.config
    token = auth.make_token(
        config.secret, config.instance_name, username, lifetime=config.token_lifetime, issued_at=verified_at
    )
    return json_response({"token": token}, headers=LOGIN_HEADERS)


ROUTES = [("/login", ["POST"], login)]
