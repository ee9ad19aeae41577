"""``POST /login`` (API doc §2.1): password and LDAP login, behind the login throttle.

Which check wins for a user who has both a local password and a directory entry is decided by
the auth type the client sends: ``password`` compares the local bcrypt hash, ``ldap`` binds to
the directory; neither falls back to the other.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from starlette.responses import Response

from pymesync.server import auth, errors, ldap, queries, schema, storage, throttle, validation
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


#: Stored as the password of users created by an LDAP login: not a bcrypt hash, so no password
#: login matches it (:func:`auth.check_password` compares the dummy hash instead).
DIRECTORY_ONLY_PASSWORD = "!ldap"

_LOCAL_USER_QUERY = (
    sa.select(_users.c.deleted_at, _changes.c.changed_at)
    .select_from(_users.outerjoin(_changes, _changes.c.user_id == _users.c.id))
    .where(_users.c.username == sa.bindparam("username"))
)


def _ldap_login(context: Context, username: str, password: str) -> int | None:
    """When the directory accepted ``password`` for ``username`` and TimeSync has (or, when the
    operator chose so, has just created) a not-deleted user of that name; see LOGIN_METHODS.

    Names that are not TimeSync usernames are refused before any LDAP call: they could not be
    TimeSync users, and so no ``*``, ``)(``, ``,`` or ``=`` ever reaches a filter or a DN."""
    directory = context.config.ldap
    if directory is None or not validation.is_username(username):
        return None
    read_at = storage.now_ms()
    found = ldap.authenticate(directory, username, password)
    if found is None:
        return None
    with transaction(context.engine) as connection:
        row = connection.execute(_LOCAL_USER_QUERY, {"username": username}).first()
    if row is None and directory.create_users:
        if not _create_directory_user(context, username, found):
            return None
    elif row is None or row.deleted_at is not None:
        return None
    floor = storage.token_floor(None if row is None else row.changed_at)
    return read_at if floor is None else max(read_at, floor)


def _create_directory_user(context: Context, username: str, found: ldap.DirectoryUser) -> bool:
    """Add the TimeSync user of a first LDAP login, with no site flags; False when the name is
    taken in another case (``Alice`` beside ``alice``), which logs in nobody."""
    email = found.email if found.email is not None and validation.is_email(found.email) else None
    name = found.display_name[: validation.MAX_VARCHAR] if found.display_name else None
    with transaction(context.engine, write=True) as connection:
        queries.claim_username(connection, username)
        if storage.user_exists(connection, username):
            return True  # a concurrent first login of the same user made it
        if storage.username_taken(connection, username):
            return False
        connection.execute(
            sa.insert(_users).values(
                username=username,
                password=DIRECTORY_ONLY_PASSWORD,
                display_name=name,
                email=email,
                active=True,
                created_at=storage.now_ms(),
            )
        )
    return True


#: Authentication types by name; only those in ``Config.auth_modules`` are enabled. Each returns
#: None for wrong credentials, else the epoch ms as of which they were found valid: the new token's
#: ``iat``. So a password change made while bcrypt was checking the old password voids the token.
LOGIN_METHODS: dict[str, Callable[[Context, str, str], int | None]] = {
    "password": _password_login,
    "ldap": _ldap_login,
}


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
    config = context.config
    address = throttle.client_address(
        context.peer, context.headers.get("x-forwarded-for"), config.trusted_proxies
    )
    limits = config.login_throttle
    # the same queries for known and unknown usernames, so the answer's timing tells neither
    has_failed_here = throttle.check(context.engine, limits, config.secret, username, address)
    verified_at = method(context, username, password)
    if verified_at is None:
        throttle.record_failure(context.engine, limits, config.secret, username, address)
        raise errors.authentication_failure("Incorrect username or password")
    if has_failed_here:
        throttle.forget(context.engine, limits, config.secret, username, address)
    token = auth.make_token(
        config.secret, config.instance_name, username, lifetime=config.token_lifetime, issued_at=verified_at
    )
    return json_response({"token": token}, headers=LOGIN_HEADERS)


ROUTES = [("/login", ["POST"], login)]
