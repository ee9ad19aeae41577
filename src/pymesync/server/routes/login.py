"""``POST /login`` (API doc §2.1): password login; other auth types plug in by name."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from starlette.responses import Response

from pymesync.server import auth, errors, schema
from pymesync.server.context import Context, body_auth, describe, json_response
from pymesync.server.storage import transaction

#: Login cache headers of the reference (1.3), on top of the app-wide ones, with the commas and the
#: directive name (``must-revalidate``) that the reference got wrong.
LOGIN_HEADERS = {
    "Cache-Control": "no-cache, no-store, must-revalidate, max-age=0",
    "Pragma": "no-cache",
    "Expires": "Thu, 01 Jan 1970 00:00:01 GMT",
}


def _password_login(context: Context, username: str, password: str) -> bool:
    """True when a not-deleted user ``username`` has this password."""
    users = schema.users
    with transaction(context.engine) as connection:
        stored = connection.execute(
            sa.select(users.c.password).where(users.c.username == username, users.c.deleted_at.is_(None))
        ).scalar_one_or_none()
    return auth.check_password(password, stored)


#: Authentication types by name; only those in ``Config.auth_modules`` are enabled.
LOGIN_METHODS: dict[str, Callable[[Context, str, str], bool]] = {"password": _password_login}


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
    if not method(context, username, password):
        raise errors.authentication_failure("Incorrect username or password")
    config = context.config
    token = auth.make_token(config.secret, config.instance_name, username, lifetime=config.token_lifetime)
    return json_response({"token": token}, headers=LOGIN_HEADERS)


ROUTES = [("/login", ["POST"], login)]
