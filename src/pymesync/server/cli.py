"""``timesync-server``: set up a database, manage users, and serve the API.

Examples::

    timesync-server init --admin admin            # schema + first admin (asks for the password)
    timesync-server serve --port 8000 --workers 4
    timesync-server user create alice --site-manager
    timesync-server user set-password alice
    timesync-server user list
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import sqlalchemy as sa

from pymesync.server import auth, ldap, queries, schema, storage, throttle, validation
from pymesync.server.errors import ConfigError
from pymesync.server.protocol import PROTOCOL

ENV_DATABASE = "TIMESYNC_DATABASE_URL"
ENV_ADMIN_PASSWORD = "TIMESYNC_ADMIN_PASSWORD"
ENV_USER_PASSWORD = "TIMESYNC_USER_PASSWORD"


def default_database_url() -> str:
    """``$TIMESYNC_DATABASE_URL``, else a SQLite file in the user's data directory."""
    configured = os.environ.get(ENV_DATABASE)
    if configured:
        return configured
    import platformdirs

    directory = Path(platformdirs.user_data_dir("timesync-server", appauthor=False))
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)  # ours alone: the database in it holds password hashes (and the token secret)
    return f"sqlite:///{directory / 'timesync.db'}"


def _fail(message: str) -> NoReturn:
    """A usage or configuration error: one line on stderr, exit code 2."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _min_password_length(args: argparse.Namespace) -> int:
    """``--min-password-length``, else ``$TIMESYNC_MIN_PASSWORD_LENGTH``, else 1."""
    length: int | None = args.min_password_length
    if length is None:
        return auth.min_password_length_setting(os.environ)
    auth.check_min_password_length(length)
    return length


def _check_password(password: str, min_length: int) -> str:
    """The password, unless the API would refuse it too (then exit code 2)."""
    problem = auth.password_problem(password, min_length=min_length)
    if problem is not None:
        _fail(problem.message)
    return password


def _password_from_environment(env_name: str, min_length: int) -> str | None:
    """``$env_name``, checked before the database is touched, so a refusal writes nothing."""
    password = os.environ.get(env_name)
    return _check_password(password, min_length) if password else None


def _read_password(env_name: str, prompt: str, min_length: int) -> str:
    """A password from the environment, else asked twice without echo."""
    password = _password_from_environment(env_name, min_length)
    if password is not None:
        return password
    if not sys.stdin.isatty():
        raise SystemExit(f"error: set {env_name} or run this command in a terminal")
    password = getpass.getpass(prompt)
    if password and getpass.getpass("Repeat it: ") != password:
        raise SystemExit("error: the passwords differ")
    return _check_password(password, min_length)


def _engine(url: str | None) -> sa.Engine:
    """The database, with its schema; a bad URL or an unreachable database is a one-line error."""
    try:
        engine = storage.create_engine(url or default_database_url())
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError):
        raise SystemExit(
            "error: not a database URL (use sqlite:///path/to/file.db or postgresql://user@host/db)"
        ) from None
    try:
        storage.create_schema(engine)
    except sa.exc.DBAPIError as exc:
        shown = engine.url.render_as_string(hide_password=True)
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
        raise SystemExit(f"error: cannot open the database {shown}: {reason}") from None
    return engine


def _check_username(name: str) -> None:
    if not validation.is_username(name):
        raise SystemExit(f"error: {name!r} is not a valid username (letters, digits, _ ~ -)")


def _refuse_taken(connection: sa.Connection, username: str) -> None:
    """Refuse a name taken in any case; in a write transaction, hold it against the API's writers."""
    queries.claim_username(connection, username)
    if storage.username_taken(connection, username):
        raise SystemExit(f"error: user {username} already exists (usernames are unique regardless of case)")


def cmd_init(args: argparse.Namespace) -> int:
    _check_username(args.admin)
    min_length = _min_password_length(args)
    _password_from_environment(ENV_ADMIN_PASSWORD, min_length)
    engine = _engine(args.database)
    try:
        with storage.transaction(engine) as connection:
            exists = storage.user_exists(connection, args.admin)
            if not exists:
                _refuse_taken(connection, args.admin)
        if exists:
            print(f"The database is ready; user {args.admin} already exists.")
            return 0
        password = _read_password(ENV_ADMIN_PASSWORD, f"Password for {args.admin}: ", min_length)
        with storage.transaction(engine, write=True) as connection:
            if not storage.user_exists(connection, args.admin):
                _refuse_taken(connection, args.admin)
                storage.insert_user(
                    connection,
                    args.admin,
                    password,
                    site_admin=True,
                    site_manager=True,
                    site_spectator=True,
                )
        print(f"The database is ready; created the site admin {args.admin}.")
        return 0
    finally:
        engine.dispose()


def cmd_user_create(args: argparse.Namespace) -> int:
    _check_username(args.username)
    min_length = _min_password_length(args)
    _password_from_environment(ENV_USER_PASSWORD, min_length)
    engine = _engine(args.database)
    try:
        with storage.transaction(engine) as connection:
            _refuse_taken(connection, args.username)
        password = _read_password(ENV_USER_PASSWORD, f"Password for {args.username}: ", min_length)
        with storage.transaction(engine, write=True) as connection:
            _refuse_taken(connection, args.username)
            storage.insert_user(
                connection,
                args.username,
                password,
                site_admin=args.site_admin,
                site_manager=args.site_manager,
                site_spectator=args.site_spectator,
            )
        print(f"Created user {args.username}.")
        return 0
    finally:
        engine.dispose()


def cmd_user_set_password(args: argparse.Namespace) -> int:
    min_length = _min_password_length(args)
    _password_from_environment(ENV_USER_PASSWORD, min_length)
    engine = _engine(args.database)
    try:
        with storage.transaction(engine) as connection:
            if not storage.user_exists(connection, args.username):
                raise SystemExit(f"error: no user {args.username}")
        password = _read_password(ENV_USER_PASSWORD, f"New password for {args.username}: ", min_length)
        with storage.transaction(engine, write=True) as connection:
            storage.set_password(connection, args.username, password)
        print(f"Changed the password of {args.username}.")
        return 0
    finally:
        engine.dispose()


def cmd_user_list(args: argparse.Namespace) -> int:
    engine = _engine(args.database)
    users = schema.users
    try:
        with storage.transaction(engine) as connection:
            rows = connection.execute(sa.select(users).order_by(users.c.id)).all()
    finally:
        engine.dispose()
    print(f"{'username':<24} {'flags':<40} {'created':<10}  status")
    for row in rows:
        flags = ",".join(
            name for name in ("site_admin", "site_manager", "site_spectator") if getattr(row, name)
        )
        status = "deleted" if row.deleted_at is not None else ("active" if row.active else "inactive")
        created = storage.ms_to_date(row.created_at) or ""
        print(f"{row.username:<24} {flags or '-':<40} {created:<10}  {status}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from pymesync.server.app import ENV_CORS_ORIGINS, ENV_SYNC_EXTENSIONS, parse_cors_origins

    if args.secret_file:  # the workers read the file themselves, perhaps from another directory
        os.environ[auth.ENV_SECRET_FILE] = os.path.abspath(args.secret_file)
    external_secret = auth.external_secret(os.environ)
    origins = parse_cors_origins(args.cors_origin or os.environ.get(ENV_CORS_ORIGINS, "").split(","))
    min_length = _min_password_length(args)
    ldap.apply_options(args, os.environ)
    throttle.apply_options(args, os.environ)
    url = args.database or default_database_url()
    engine = _engine(url)
    try:
        if external_secret is None:
            storage.token_secret(engine)  # before the workers start, so they all read the same one
    finally:
        engine.dispose()
    os.environ.update(
        {
            ENV_DATABASE: url,
            "TIMESYNC_TOKEN_LIFETIME": str(args.token_lifetime),
            "TIMESYNC_INSTANCE_NAME": args.instance_name,
            "TIMESYNC_CREATE_SCHEMA": "0",
            ENV_CORS_ORIGINS: ",".join(origins),
            auth.ENV_MIN_PASSWORD_LENGTH: str(min_length),
        }
    )
    if not args.sync_extensions:
        os.environ[ENV_SYNC_EXTENSIONS] = "0"
    print(f"Serving TimeSync at http://{args.host}:{args.port}/v1 (also /v0)", flush=True)
    uvicorn.run(
        "pymesync.server.app:create_app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        proxy_headers=False,
        http=PROTOCOL,
        access_log=args.access_log,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from pymesync.server.app import DEFAULT_INSTANCE_NAME, ENV_CORS_ORIGINS

    parser = argparse.ArgumentParser(prog="timesync-server", description="A TimeSync API server.")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_database(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument(
            "--database",
            metavar="URL",
            help="sqlite:///path or postgresql://user@host/db "
            f"(default: ${ENV_DATABASE}, else a SQLite file in the user data directory)",
        )
        return sub

    def with_min_password_length(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument(
            "--min-password-length",
            type=int,
            metavar="N",
            help=f"shortest plaintext password (default: ${auth.ENV_MIN_PASSWORD_LENGTH}, else 1)",
        )
        return sub

    init = with_min_password_length(
        with_database(commands.add_parser("init", help="create the schema and a first admin"))
    )
    init.add_argument("--admin", default="admin", metavar="NAME", help="admin username (admin)")
    init.set_defaults(run=cmd_init)

    serve = with_min_password_length(with_database(commands.add_parser("serve", help="serve the API")))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, metavar="N")
    serve.add_argument("--token-lifetime", type=float, default=1800.0, metavar="SECONDS", help="(1800)")
    serve.add_argument("--instance-name", default=DEFAULT_INSTANCE_NAME, help="token issuer")
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=False)
    serve.add_argument(
        "--sync-extensions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ETags, If-Match and the changes feed (off: --no-sync-extensions or TIMESYNC_SYNC_EXTENSIONS=0)",
    )
    serve.add_argument(
        "--secret-file",
        metavar="PATH",
        help=f"token signing secret, a file of mode 600 (default: ${auth.ENV_SECRET_FILE}, "
        f"${auth.ENV_SECRET_KEY}, else kept in the database)",
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help=f"let web pages of ORIGIN call the API (repeatable; * for all; default: ${ENV_CORS_ORIGINS})",
    )
    ldap.add_options(serve)
    throttle.add_options(serve)
    serve.set_defaults(run=cmd_serve)

    user = commands.add_parser("user", help="manage users").add_subparsers(dest="user_command", required=True)
    create = with_min_password_length(
        with_database(
            user.add_parser("create", help=f"add a user (password: ${ENV_USER_PASSWORD} or prompt)")
        )
    )
    create.add_argument("username")
    for flag in ("site-admin", "site-manager", "site-spectator"):
        create.add_argument(f"--{flag}", action="store_true")
    create.set_defaults(run=cmd_user_create)
    password = with_min_password_length(
        with_database(user.add_parser("set-password", help="change a user's password"))
    )
    password.add_argument("username")
    password.set_defaults(run=cmd_user_set_password)
    listing = with_database(user.add_parser("list", help="list users"))
    listing.set_defaults(run=cmd_user_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as error:
        _fail(str(error))


if __name__ == "__main__":
    raise SystemExit(main())
