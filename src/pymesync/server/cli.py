"""``timesync-server``: set up a database, manage users, projects and activities, back up, check,
and serve the API.

Examples::

    timesync-server init --admin admin            # schema + first admin (asks for the password)
    timesync-server serve --port 8000 --workers 4
    timesync-server user create alice --site-manager
    timesync-server project create "Ganeti Web Manager" --slug gwm
    timesync-server backup /var/backups/timesync-2026-12-04.db
    timesync-server check

Exit codes: 0 done; 1 could not be done (the database is unreachable, a name is taken, no such
user, the address is in use, ...); 2 a mistake in the command line or the environment (nothing
was started or written); 3 ``check`` found problems.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import sqlalchemy as sa

from pymesync.server import auth, ldap, maintenance, queries, schema, settings, storage, throttle, validation
from pymesync.server.errors import ApiError, ConfigError
from pymesync.server.protocol import PROTOCOL

T = TypeVar("T")

ENV_DATABASE = settings.ENV_DATABASE
ENV_ADMIN_PASSWORD = "TIMESYNC_ADMIN_PASSWORD"
ENV_USER_PASSWORD = "TIMESYNC_USER_PASSWORD"

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PROBLEMS_FOUND = 3
USER_FLAGS = ("site_admin", "site_manager", "site_spectator")


class CommandFailed(Exception):
    """The command was understood but could not be done (exit code 1); one line, no secrets."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its complaints as one line (``error: ...``) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def default_database_url() -> str:
    """A SQLite file in the user's data directory (made private to the user)."""
    import platformdirs

    directory = Path(platformdirs.user_data_dir("timesync-server", appauthor=False))
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)  # ours alone: the database in it holds password hashes (and the token secret)
    return f"sqlite:///{directory / 'timesync.db'}"


def _database_url(args: argparse.Namespace) -> str:
    """``--database``, else ``$TIMESYNC_DATABASE_URL``, else the default file; checked first."""
    given: str | None = args.database
    url = settings.option_or_environment(
        "--database", given, os.environ, ENV_DATABASE, settings.database_url, None
    )
    return url if url is not None else default_database_url()


def describe_database(url: str) -> str:
    """The database as the operator should see it: a SQLite file by its full path, any other URL
    without its password."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {os.path.abspath(parsed.database or '')}"
    return parsed._replace(password=None).render_as_string(hide_password=False)


def _engine(url: str, *, create: bool = True) -> sa.Engine:
    """The database (with its schema when ``create``); unreachable is a one-line error, exit 1.

    Without ``create`` a SQLite file must already exist: reading commands never make one."""
    engine = storage.create_engine(url)
    if not create and engine.dialect.name == "sqlite":
        path = engine.url.database or ""
        if not os.path.isfile(path):
            engine.dispose()
            raise CommandFailed(f"there is no database at {os.path.abspath(path)} (make one with init)")
    try:
        if create:
            storage.create_schema(engine)
        else:
            with engine.connect():
                pass
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
        raise CommandFailed(f"cannot open the database {describe_database(url)}: {reason}") from None
    return engine


def _min_password_length(args: argparse.Namespace) -> int:
    """``--min-password-length``, else ``$TIMESYNC_MIN_PASSWORD_LENGTH``, else 1."""
    length = settings.option_or_environment(
        "--min-password-length",
        args.min_password_length,
        os.environ,
        auth.ENV_MIN_PASSWORD_LENGTH,
        settings.whole_number(1, auth.BCRYPT_MAX_BYTES),
        1,
    )
    return length


def _check_password(password: str, min_length: int) -> str:
    """The password, unless the API would refuse it too (then exit code 2)."""
    problem = auth.password_problem(password, min_length=min_length)
    if problem is not None:
        raise ConfigError(problem.message)
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
        raise ConfigError(f"set {env_name} or run this command in a terminal")
    password = getpass.getpass(prompt)
    if password and getpass.getpass("Repeat it: ") != password:
        raise ConfigError("the passwords differ")
    return _check_password(password, min_length)


def _check_username(name: str) -> None:
    if not validation.is_username(name):
        raise ConfigError(f"{name!r} is not a valid username (letters, digits, _ ~ -)")


def _check_slug(slug: str, what: str = "slug") -> None:
    if not validation.is_slug(slug):
        raise ConfigError(f"{slug!r} is not a valid {what} (lowercase letters and digits, words joined by -)")


def _check_name(name: str, kind: str) -> None:
    if not name.strip() or len(name) > validation.MAX_VARCHAR or not validation.is_storable(name):
        raise ConfigError(f"{name!r} is not a valid {kind} name (1 to {validation.MAX_VARCHAR} characters)")


def _deleted_hint(username: str) -> str:
    return f"user {username} exists but is deleted; restore it with: timesync-server user restore {username}"


def _refuse_taken(connection: sa.Connection, username: str) -> None:
    """Refuse a name taken in any case; in a write transaction, hold it against the API's writers."""
    queries.claim_username(connection, username)
    holder = storage.user_named_like(connection, username)
    if holder is None:
        return
    if holder.deleted_at is not None:
        raise CommandFailed(_deleted_hint(holder.username))
    raise CommandFailed(f"user {username} already exists (usernames are unique regardless of case)")


def _live_user(connection: sa.Connection, username: str) -> Any:
    """The user row to change, held against concurrent writers; a missing or deleted user fails."""
    queries.claim_username(connection, username)
    row = connection.execute(sa.select(schema.users).where(schema.users.c.username == username)).first()
    if row is None:
        raise CommandFailed(f"no user {username}")
    if row.deleted_at is not None:
        raise CommandFailed(_deleted_hint(username))
    return row


def _write(engine: sa.Engine, change: Callable[[sa.Connection], T]) -> T:
    """Run ``change`` in one write transaction; an API rule it breaks is a one-line failure."""
    try:
        with storage.transaction(engine, write=True) as connection:
            return change(connection)
    except ApiError as error:
        raise CommandFailed(error.text) from None


def _read(args: argparse.Namespace, fetch: Callable[[sa.Connection], T]) -> T:
    """Run ``fetch`` in one read transaction on the command's database, which it never creates."""
    engine = _engine(_database_url(args), create=False)
    try:
        with storage.transaction(engine) as connection:
            return fetch(connection)
    finally:
        engine.dispose()


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max([len(title), *(len(row[i]) for row in rows)]) for i, title in enumerate(header)]
    for line in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def _status(row: Any) -> str:
    return "deleted" if row.deleted_at is not None else "active"


# --- init and serve -------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    url = _database_url(args)
    _check_username(args.admin)
    min_length = _min_password_length(args)
    _password_from_environment(ENV_ADMIN_PASSWORD, min_length)
    engine = _engine(url)
    print(f"Database: {describe_database(url)}")
    try:
        with storage.transaction(engine) as connection:
            exists = storage.user_exists(connection, args.admin)
            if not exists:
                _refuse_taken(connection, args.admin)
        if exists:
            print(f"The database is ready; user {args.admin} already exists.")
            return 0
        password = _read_password(ENV_ADMIN_PASSWORD, f"Password for {args.admin}: ", min_length)

        def create(connection: sa.Connection) -> None:
            if not storage.user_exists(connection, args.admin):
                _refuse_taken(connection, args.admin)
                storage.insert_user(
                    connection, args.admin, password, site_admin=True, site_manager=True, site_spectator=True
                )

        _write(engine, create)
        print(f"The database is ready; created the site admin {args.admin}.")
        return 0
    finally:
        engine.dispose()


@dataclass(frozen=True)
class ServeSettings:
    url: str
    port: int
    workers: int
    log_level: str
    token_lifetime: float
    instance_name: str
    shutdown_timeout: int
    header_timeout: float
    min_password_length: int
    cors_origins: tuple[str, ...]
    external_secret: str | None


def _serve_settings(args: argparse.Namespace) -> ServeSettings:
    """Every setting of ``serve``, checked (a bad one is a ConfigError), before anything starts."""
    from pymesync.server.app import DEFAULT_INSTANCE_NAME, ENV_CORS_ORIGINS, parse_cors_origins
    from pymesync.server.serving import default_workers

    env = os.environ

    def setting(option: str, env_name: str | None, parse: Callable[[str], T], default: T) -> T:
        given: str | None = getattr(args, option.removeprefix("--").replace("-", "_"))
        return settings.option_or_environment(option, given, env, env_name, parse, default)

    if args.secret_file:  # the workers read the file themselves, perhaps from another directory
        env[auth.ENV_SECRET_FILE] = os.path.abspath(args.secret_file)
    ldap.apply_options(args, env)  # LDAP login and login throttling check their own settings
    throttle.apply_options(args, env)
    cors = args.cors_origin or env.get(ENV_CORS_ORIGINS, "").split(",")
    try:
        cors_origins = parse_cors_origins(cors)
    except ConfigError as error:
        raise ConfigError(f"{'--cors-origin' if args.cors_origin else ENV_CORS_ORIGINS}: {error}") from None
    return ServeSettings(
        url=_database_url(args),
        port=setting("--port", None, settings.port_number, 8000),
        workers=setting("--workers", None, settings.worker_count, default_workers()),
        log_level=setting("--log-level", None, settings.log_level, "info"),
        token_lifetime=setting(
            "--token-lifetime",
            settings.ENV_TOKEN_LIFETIME,
            settings.token_lifetime,
            auth.DEFAULT_TOKEN_LIFETIME,
        ),
        instance_name=setting(
            "--instance-name", settings.ENV_INSTANCE_NAME, settings.instance_name, DEFAULT_INSTANCE_NAME
        ),
        shutdown_timeout=setting(
            "--shutdown-timeout",
            settings.ENV_SHUTDOWN_TIMEOUT,
            settings.whole_seconds,
            settings.DEFAULT_SHUTDOWN_TIMEOUT,
        ),
        header_timeout=setting(
            "--header-timeout",
            settings.ENV_HEADER_TIMEOUT,
            settings.header_timeout,
            settings.DEFAULT_HEADER_TIMEOUT,
        ),
        min_password_length=_min_password_length(args),
        cors_origins=cors_origins,
        external_secret=_external_secret(args),
    )


def _external_secret(args: argparse.Namespace) -> str | None:
    """The signing secret from outside the database; a bad file is named by where it was set."""
    path = os.environ.get(auth.ENV_SECRET_FILE)
    if path and not os.environ.get(auth.ENV_SECRET_KEY):
        try:
            return auth.read_secret_file(path)
        except ConfigError as error:
            raise ConfigError(
                f"{'--secret-file' if args.secret_file else auth.ENV_SECRET_FILE}: {error}"
            ) from None
    return auth.external_secret(os.environ)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from pymesync.server import serving
    from pymesync.server.app import ENV_CORS_ORIGINS, ENV_SYNC_EXTENSIONS, ENV_WEB

    chosen = _serve_settings(args)
    engine = _engine(chosen.url)
    try:
        if chosen.external_secret is None:
            storage.token_secret(engine)  # before the workers start, so they all read the same one
        with storage.transaction(engine) as connection:
            users = connection.execute(sa.select(sa.func.count()).select_from(schema.users)).scalar_one()
    finally:
        engine.dispose()
    try:
        sock = serving.listen(args.host, chosen.port)
    except serving.ListenError as error:
        raise CommandFailed(str(error)) from None
    os.environ.update(
        {
            ENV_DATABASE: chosen.url,
            settings.ENV_TOKEN_LIFETIME: repr(chosen.token_lifetime),
            settings.ENV_INSTANCE_NAME: chosen.instance_name,
            settings.ENV_HEADER_TIMEOUT: repr(chosen.header_timeout),
            "TIMESYNC_CREATE_SCHEMA": "0",
            ENV_CORS_ORIGINS: ",".join(chosen.cors_origins),
            auth.ENV_MIN_PASSWORD_LENGTH: str(chosen.min_password_length),
        }
    )
    if not args.sync_extensions:
        os.environ[ENV_SYNC_EXTENSIONS] = "0"
    if not args.web:
        os.environ[ENV_WEB] = "0"
    print(f"Serving TimeSync at http://{serving.bound_address(sock)}/v1 (also /v0)")
    if os.environ.get(ENV_WEB, "1") != "0":
        print(f"Web page: http://{serving.bound_address(sock)}/")
    print(f"Database: {describe_database(chosen.url)}")
    if not users:
        print(
            "The database has no users yet; create the first with: "
            "timesync-server user create NAME --site-admin (or timesync-server init)"
        )
    sys.stdout.flush()
    config = uvicorn.Config(
        "pymesync.server.app:create_app_from_environment",
        factory=True,
        workers=chosen.workers,
        log_level=chosen.log_level,
        proxy_headers=False,
        http=PROTOCOL,
        access_log=args.access_log,
        timeout_graceful_shutdown=chosen.shutdown_timeout,
    )
    if not serving.run(config, sock):
        raise CommandFailed("the server could not start (see the messages above)")
    return 0


# --- users ----------------------------------------------------------------------------------------


def cmd_user_create(args: argparse.Namespace) -> int:
    url = _database_url(args)
    _check_username(args.username)
    min_length = _min_password_length(args)
    _password_from_environment(ENV_USER_PASSWORD, min_length)
    engine = _engine(url)
    try:
        with storage.transaction(engine) as connection:
            _refuse_taken(connection, args.username)
        password = _read_password(ENV_USER_PASSWORD, f"Password for {args.username}: ", min_length)

        def create(connection: sa.Connection) -> None:
            _refuse_taken(connection, args.username)
            storage.insert_user(
                connection,
                args.username,
                password,
                site_admin=args.site_admin,
                site_manager=args.site_manager,
                site_spectator=args.site_spectator,
            )

        _write(engine, create)
        print(f"Created user {args.username}.")
        return 0
    finally:
        engine.dispose()


def cmd_user_set_password(args: argparse.Namespace) -> int:
    url = _database_url(args)
    _check_username(args.username)
    min_length = _min_password_length(args)
    _password_from_environment(ENV_USER_PASSWORD, min_length)
    engine = _engine(url)
    try:
        with storage.transaction(engine) as connection:
            _live_user(connection, args.username)
        password = _read_password(ENV_USER_PASSWORD, f"New password for {args.username}: ", min_length)

        def change(connection: sa.Connection) -> None:
            storage.update_user(connection, _live_user(connection, args.username).id, {"password": password})

        _write(engine, change)
        print(f"Changed the password of {args.username}; the tokens they held no longer work.")
        return 0
    finally:
        engine.dispose()


def cmd_user_set_flags(args: argparse.Namespace) -> int:
    url = _database_url(args)
    _check_username(args.username)
    changes = {
        flag: getattr(args, flag) for flag in (*USER_FLAGS, "active") if getattr(args, flag) is not None
    }
    if not changes:
        raise ConfigError(
            "give at least one of --[no-]site-admin, --[no-]site-manager, --[no-]site-spectator, "
            "--[no-]active"
        )
    engine = _engine(url)
    try:
        _write(
            engine,
            lambda connection: storage.update_user(
                connection, _live_user(connection, args.username).id, changes
            ),
        )
    finally:
        engine.dispose()
    shown = ", ".join(f"{name}={'yes' if value else 'no'}" for name, value in changes.items())
    print(f"Set {shown} for user {args.username}.")
    return 0


def cmd_user_delete(args: argparse.Namespace) -> int:
    url = _database_url(args)
    _check_username(args.username)
    engine = _engine(url)
    try:
        _write(
            engine,
            lambda connection: storage.delete_user(connection, _live_user(connection, args.username).id),
        )
    finally:
        engine.dispose()
    print(f"Deleted user {args.username}; the tokens they held no longer work.")
    return 0


def cmd_user_restore(args: argparse.Namespace) -> int:
    url = _database_url(args)
    _check_username(args.username)

    def restore(connection: sa.Connection) -> None:
        queries.claim_username(connection, args.username)
        users = schema.users
        row = connection.execute(sa.select(users).where(users.c.username == args.username)).first()
        if row is None:
            raise CommandFailed(f"no user {args.username}")
        if row.deleted_at is None:
            raise CommandFailed(f"user {args.username} is not deleted")
        storage.update_user(connection, row.id, {"deleted_at": None})

    engine = _engine(url)
    try:
        _write(engine, restore)
    finally:
        engine.dispose()
    print(f"Restored user {args.username}.")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    users = schema.users
    rows = _read(args, lambda connection: connection.execute(sa.select(users).order_by(users.c.id)).all())
    table = []
    for row in rows:
        flags = ",".join(name for name in USER_FLAGS if getattr(row, name))
        status = _status(row) if row.deleted_at is not None or row.active else "inactive"
        table.append([row.username, flags or "-", storage.ms_to_date(row.created_at) or "", status])
    _print_table(["username", "flags", "created", "status"], table)
    return 0


# --- projects and activities -----------------------------------------------------------------------


def cmd_project_create(args: argparse.Namespace) -> int:
    url = _database_url(args)
    _check_name(args.name, "project")
    for slug in args.slug:
        _check_slug(slug)
    if args.uri is not None and not validation.is_http_uri(args.uri):
        raise ConfigError(f"{args.uri!r} is not an http:// or https:// URI")
    if args.default_activity is not None:
        _check_slug(args.default_activity, "activity slug")
    engine = _engine(url)
    try:
        _write(
            engine,
            lambda connection: queries.insert_project(
                connection,
                name=args.name,
                slugs=args.slug,
                uri=args.uri,
                default_activity=args.default_activity,
            ),
        )
    finally:
        engine.dispose()
    print(f"Created project {args.name} ({', '.join(sorted(set(args.slug)))}).")
    return 0


def cmd_project_list(args: argparse.Namespace) -> int:
    projects = schema.projects

    def fetch(connection: sa.Connection) -> tuple[Any, dict[str, list[str]], dict[str, str]]:
        rows = connection.execute(
            sa.select(projects).where(projects.c.newest.is_(True)).order_by(projects.c.name)
        ).all()
        slugs = queries.project_slugs(connection, [str(row.uuid) for row in rows])
        defaults = [str(row.default_activity) for row in rows if row.default_activity]
        return rows, slugs, queries.activity_slugs(connection, defaults)

    rows, slugs, activity_slugs = _read(args, fetch)
    table = [
        [
            row.name,
            ",".join(slugs.get(str(row.uuid), [])) or "-",
            activity_slugs.get(str(row.default_activity), "-"),
            row.uri or "-",
            _status(row),
        ]
        for row in rows
    ]
    _print_table(["name", "slugs", "default activity", "uri", "status"], table)
    return 0


def cmd_activity_create(args: argparse.Namespace) -> int:
    url = _database_url(args)
    _check_name(args.name, "activity")
    _check_slug(args.slug)
    engine = _engine(url)
    try:
        _write(engine, lambda connection: queries.insert_activity(connection, name=args.name, slug=args.slug))
    finally:
        engine.dispose()
    print(f"Created activity {args.name} ({args.slug}).")
    return 0


def cmd_activity_list(args: argparse.Namespace) -> int:
    activities = schema.activities
    newest = sa.select(activities).where(activities.c.newest.is_(True)).order_by(activities.c.name)
    rows = _read(args, lambda connection: connection.execute(newest).all())
    _print_table(["name", "slug", "status"], [[row.name, row.slug or "-", _status(row)] for row in rows])
    return 0


# --- backup and check -----------------------------------------------------------------------------


def cmd_backup(args: argparse.Namespace) -> int:
    url = _database_url(args)
    target = Path(args.path)
    if target.exists():
        raise CommandFailed(f"{target} exists; a backup never replaces a file")
    engine = _engine(url, create=False)
    try:
        maintenance.backup(engine, target)
    except maintenance.MaintenanceError as error:
        raise CommandFailed(str(error)) from None
    finally:
        engine.dispose()
    print(f"Backed up {describe_database(url)} to {target.resolve()}.")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    url = _database_url(args)
    engine = _engine(url, create=False)
    try:
        report = maintenance.check(engine)
    except sa.exc.DBAPIError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
        raise CommandFailed(f"cannot read the database {describe_database(url)}: {reason}") from None
    finally:
        engine.dispose()
    print(f"Database: {describe_database(url)}")
    if report.counts:
        print(", ".join(f"{name}: {count}" for name, count in report.counts.items()))
    for problem in report.problems:
        print(f"problem: {problem}")
    if report.problems:
        return EXIT_PROBLEMS_FOUND
    print("No problems found.")
    return 0


# --- the command line -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from pymesync.server.app import ENV_CORS_ORIGINS

    parser = _Parser(prog="timesync-server", description="A TimeSync API server.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        group: Any, name: str, help: str, run: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(name, help=help, description=help)
        sub.add_argument(
            "--database",
            metavar="URL",
            help="sqlite:///path or postgresql://user@host/db "
            f"(default: ${ENV_DATABASE}, else a SQLite file in the user data directory)",
        )
        sub.set_defaults(run=run)
        return sub

    def with_min_password_length(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--min-password-length",
            metavar="N",
            help=f"shortest plaintext password (default: ${auth.ENV_MIN_PASSWORD_LENGTH}, else 1)",
        )

    init = command(commands, "init", "create the schema and a first admin", cmd_init)
    init.add_argument("--admin", default="admin", metavar="NAME", help="admin username (admin)")
    with_min_password_length(init)

    serve = command(commands, "serve", "serve the API", cmd_serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", metavar="PORT", help="0 to 65535; 0 lets the system choose (8000)")
    serve.add_argument("--workers", metavar="N", help="worker processes (one per CPU)")
    serve.add_argument(
        "--token-lifetime", metavar="SECONDS", help=f"(default: ${settings.ENV_TOKEN_LIFETIME}, else 1800)"
    )
    serve.add_argument(
        "--instance-name",
        metavar="NAME",
        help=f"token issuer (default: ${settings.ENV_INSTANCE_NAME}, else timesync)",
    )
    serve.add_argument("--log-level", metavar="LEVEL", help=f"{', '.join(settings.LOG_LEVELS)} (info)")
    serve.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=False)
    serve.add_argument(
        "--shutdown-timeout",
        metavar="SECONDS",
        help="on SIGTERM or Ctrl-C, how long requests in flight may finish before they are cut "
        f"(default: ${settings.ENV_SHUTDOWN_TIMEOUT}, else {settings.DEFAULT_SHUTDOWN_TIMEOUT})",
    )
    serve.add_argument(
        "--header-timeout",
        metavar="SECONDS",
        help="close a connection that has not sent a request's headers within this time "
        f"(default: ${settings.ENV_HEADER_TIMEOUT}, else {settings.DEFAULT_HEADER_TIMEOUT:g})",
    )
    serve.add_argument(
        "--sync-extensions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ETags, If-Match and the changes feed (off: --no-sync-extensions or TIMESYNC_SYNC_EXTENSIONS=0)",
    )
    serve.add_argument(
        "--web",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the web page at / beside the API (off: --no-web or TIMESYNC_WEB=0)",
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
    with_min_password_length(serve)
    ldap.add_options(serve)
    throttle.add_options(serve)

    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="user_command", required=True, metavar="COMMAND"
    )
    create = command(
        user, "create", f"add a user (password: ${ENV_USER_PASSWORD} or prompt)", cmd_user_create
    )
    create.add_argument("username")
    for flag in ("site-admin", "site-manager", "site-spectator"):
        create.add_argument(f"--{flag}", action="store_true")
    with_min_password_length(create)
    password = command(
        user, "set-password", "change a user's password (voids their tokens)", cmd_user_set_password
    )
    password.add_argument("username")
    with_min_password_length(password)
    flags = command(user, "set-flags", "grant or revoke a user's site permissions", cmd_user_set_flags)
    flags.add_argument("username")
    for flag in ("site-admin", "site-manager", "site-spectator", "active"):
        flags.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction, default=None)
    command(
        user, "delete", "delete a user (voids their tokens; restore undoes it)", cmd_user_delete
    ).add_argument("username")
    command(user, "restore", "bring back a deleted user", cmd_user_restore).add_argument("username")
    command(user, "list", "list users", cmd_user_list)

    project = commands.add_parser("project", help="manage projects").add_subparsers(
        dest="project_command", required=True, metavar="COMMAND"
    )
    project_create = command(project, "create", "add a project", cmd_project_create)
    project_create.add_argument("name")
    project_create.add_argument("--slug", action="append", required=True, help="short name (repeatable)")
    project_create.add_argument("--uri", help="the project's web page")
    project_create.add_argument("--default-activity", metavar="SLUG", help="activity of times that name none")
    command(project, "list", "list projects", cmd_project_list)

    activity = commands.add_parser("activity", help="manage activities").add_subparsers(
        dest="activity_command", required=True, metavar="COMMAND"
    )
    activity_create = command(activity, "create", "add an activity", cmd_activity_create)
    activity_create.add_argument("name")
    activity_create.add_argument("--slug", required=True, help="short name")
    command(activity, "list", "list activities", cmd_activity_list)

    backup = command(
        commands, "backup", "copy the database while it is in use (a new file, mode 600)", cmd_backup
    )
    backup.add_argument("path", metavar="PATH", help="the backup file to write; must not exist")
    command(commands, "check", "check the schema and the data; exit code 3 on problems", cmd_check)
    return parser


def _fail(message: str, code: int) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as error:
        _fail(str(error), EXIT_USAGE)
    except CommandFailed as error:
        _fail(str(error), EXIT_FAILED)


if __name__ == "__main__":
    raise SystemExit(main())
