"""``timesync-server`` init and user commands against a temporary SQLite file."""

from __future__ import annotations

from pathlib import Path

import bcrypt
import pytest
import sqlalchemy as sa

from pymesync.server import auth, schema, storage
from pymesync.server.cli import main


def _users(url: str) -> dict[str, tuple[bool, bool, bool, str]]:
    engine = storage.create_engine(url)
    try:
        with storage.transaction(engine) as connection:
            rows = connection.execute(sa.select(schema.users)).all()
    finally:
        engine.dispose()
    return {
        row.username: (bool(row.site_admin), bool(row.site_manager), bool(row.site_spectator), row.password)
        for row in rows
    }


def test_init_is_idempotent_and_users_can_be_managed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("TIMESYNC_ADMIN_PASSWORD", "first secret")
    assert main(["init", "--database", url, "--admin", "root"]) == 0
    monkeypatch.setenv("TIMESYNC_ADMIN_PASSWORD", "ignored the second time")
    assert main(["init", "--database", url, "--admin", "root"]) == 0
    admin, manager, spectator, stored = _users(url)["root"]
    assert (admin, manager, spectator) == (True, True, True)
    assert auth.check_password("first secret", stored)

    monkeypatch.setenv("TIMESYNC_USER_PASSWORD", "alice pw")
    assert main(["user", "create", "alice", "--site-spectator", "--database", url]) == 0
    with pytest.raises(SystemExit):
        main(["user", "create", "alice", "--database", url])
    monkeypatch.setenv("TIMESYNC_USER_PASSWORD", "new pw")
    assert main(["user", "set-password", "alice", "--database", url]) == 0
    assert _users(url)["alice"][:3] == (False, False, True)
    assert auth.check_password("new pw", _users(url)["alice"][3])
    capsys.readouterr()
    assert main(["user", "list", "--database", url]) == 0
    listing = capsys.readouterr().out
    assert "root" in listing and "alice" in listing and "new pw" not in listing


def test_create_and_init_refuse_a_name_that_differs_only_in_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13, finding 10: ``Admin`` cannot be created beside ``admin``."""
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("TIMESYNC_ADMIN_PASSWORD", "root pw")
    monkeypatch.setenv("TIMESYNC_USER_PASSWORD", "user pw")
    assert main(["init", "--database", url, "--admin", "admin"]) == 0
    assert "user Admin already exists" in _refused(
        ["user", "create", "Admin", "--site-admin", "--database", url], capsys, code=1
    )
    assert "user ADMIN already exists" in _refused(
        ["init", "--database", url, "--admin", "ADMIN"], capsys, code=1
    )
    assert list(_users(url)) == ["admin"]


def test_init_refuses_bad_usernames(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    error = _refused(["init", "--database", f"sqlite:///{tmp_path}/x.db", "--admin", "a.b"], capsys)
    assert "'a.b' is not a valid username" in error
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    ("database", "code", "message"),
    [
        ("nonsense", 2, "error: --database: not a database URL"),
        ("mysql://u@localhost/x", 2, "error: --database: unknown database scheme 'mysql'"),
        (
            "sqlite:////no/such/dir/ts.db",
            1,
            "error: cannot open the database SQLite file /no/such/dir/ts.db:",
        ),
        (
            "postgresql://u:hunter2@127.0.0.1:1/x",
            1,
            "error: cannot open the database postgresql://u@127.0.0.1:1/x:",
        ),
    ],
)
def test_unusable_databases_are_one_line_errors(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    database: str,
    code: int,
    message: str,
) -> None:
    monkeypatch.setenv("TIMESYNC_ADMIN_PASSWORD", "pw")
    error = _refused(["init", "--database", database], capsys, code=code)
    assert error.startswith(message)
    assert "hunter2" not in error


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str], code: int = 2) -> str:
    """Run a command that must stop with exit code ``code`` (2: a usage mistake, 1: it could not be
    done) and a one-line error on stderr; return that line."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    captured = capsys.readouterr()
    assert stopped.value.code == code, captured.err
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    assert code == 1 or captured.out == ""
    return captured.err


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("x" * 73, "longer than 72 bytes"),
        ("é" * 37, "longer than 72 bytes"),
        (bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode().replace("$04$", "$14$"), "cost of 4 to 12, not 14"),
    ],
)
def test_passwords_the_api_refuses_are_refused_by_the_commands(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    password: str,
    message: str,
) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("TIMESYNC_ADMIN_PASSWORD", password)
    assert message in _refused(["init", "--database", url], capsys)
    assert not (tmp_path / "cli.db").exists()  # refused before anything is written
    monkeypatch.setenv("TIMESYNC_ADMIN_PASSWORD", "admin pw")
    assert main(["init", "--database", url]) == 0
    monkeypatch.setenv("TIMESYNC_USER_PASSWORD", password)
    assert message in _refused(["user", "create", "alice", "--database", url], capsys)
    assert message in _refused(["user", "set-password", "admin", "--database", url], capsys)
    assert set(_users(url)) == {"admin"}
    assert auth.check_password("admin pw", _users(url)["admin"][3])


def test_the_minimum_password_length_applies_to_the_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("TIMESYNC_ADMIN_PASSWORD", "admin pw")
    assert main(["init", "--database", url]) == 0
    monkeypatch.setenv("TIMESYNC_USER_PASSWORD", "short")
    create = ["user", "create", "alice", "--database", url]
    assert "at least 6 characters" in _refused([*create, "--min-password-length", "6"], capsys)
    monkeypatch.setenv("TIMESYNC_MIN_PASSWORD_LENGTH", "8")
    assert "at least 8 characters" in _refused(create, capsys)
    assert main([*create, "--min-password-length", "5"]) == 0


@pytest.mark.parametrize(
    ("options", "environment", "message"),
    [
        ([], {"TIMESYNC_SECRET_KEY": "too short"}, "TIMESYNC_SECRET_KEY is shorter than 32 bytes"),
        (["--secret-file", "{key}"], {}, "is open to group or others (mode 644); chmod 600 it"),
        (["--secret-file", "{missing}"], {}, "cannot read the secret file"),
        (["--secret-file", "{short}"], {}, "is shorter than 32 bytes"),
        (["--secret-file", "{good}"], {"TIMESYNC_SECRET_KEY": "k" * 40}, "not both"),
        (["--cors-origin", "https://ok.example", "--cors-origin", "not an origin"], {}, "not a CORS origin"),
        ([], {"TIMESYNC_CORS_ORIGINS": "https://ok.example,/path"}, "not a CORS origin"),
        (
            ["--min-password-length", "0"],
            {},
            "--min-password-length: must be a whole number from 1 to 72, not 0",
        ),
        ([], {"TIMESYNC_MIN_PASSWORD_LENGTH": "eight"}, "must be a whole number"),
        (["--port", "65536"], {}, "--port: must be a whole number from 0 to 65535, not 65536"),
        (["--port", "-1"], {}, "--port: must be a whole number from 0 to 65535, not -1"),
        (["--port", "http"], {}, "--port: must be a whole number from 0 to 65535, not 'http'"),
        (["--workers", "0"], {}, "--workers: must be a whole number from 1 up, not 0"),
        (
            ["--log-level", "loud"],
            {},
            "--log-level: must be one of critical, error, warning, info, debug, trace",
        ),
        (["--token-lifetime", "-5"], {}, "--token-lifetime: must be a number of seconds above 0, not -5"),
        (["--token-lifetime", "0"], {}, "--token-lifetime: must be a number of seconds above 0, not 0"),
        (["--token-lifetime", "nan"], {}, "--token-lifetime: must be a number of seconds above 0, not nan"),
        ([], {"TIMESYNC_TOKEN_LIFETIME": "soon"}, "TIMESYNC_TOKEN_LIFETIME: must be a number of seconds"),
        (
            [],
            {"TIMESYNC_INSTANCE_NAME": "bell\a"},
            "TIMESYNC_INSTANCE_NAME: must be a non-empty printable name",
        ),
        (["--shutdown-timeout", "-1"], {}, "--shutdown-timeout: must be a whole number from 0 up, not -1"),
        ([], {"TIMESYNC_SHUTDOWN_TIMEOUT": "forever"}, "TIMESYNC_SHUTDOWN_TIMEOUT: must be a whole number"),
        (["--header-timeout", "0"], {}, "--header-timeout: must be a number of seconds above 0, not 0"),
        (
            [],
            {"TIMESYNC_HEADER_TIMEOUT": "-3"},
            "TIMESYNC_HEADER_TIMEOUT: must be a number of seconds above 0",
        ),
        (
            [],
            {"TIMESYNC_AUTH_MODULES": "password"},
            "TIMESYNC_AUTH_MODULES must be a JSON array of strings",
        ),
        (["--database", "mysql://u:pw@db/x"], {}, "--database: unknown database scheme 'mysql'"),
        (
            [],
            {"TIMESYNC_DATABASE_URL": "oracle://x"},
            "TIMESYNC_DATABASE_URL: unknown database scheme 'oracle'",
        ),
        (["--bogus"], {}, "unrecognized arguments: --bogus"),
    ],
)
def test_serve_refuses_bad_settings_before_it_starts(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    environment: dict[str, str],
    message: str,
) -> None:
    files = {"key": 0o644, "short": 0o600, "good": 0o600}
    for name, mode in files.items():
        (tmp_path / name).write_text("s" * (8 if name == "short" else 48))
        (tmp_path / name).chmod(mode)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TIMESYNC_SECRET_FILE", "")  # serve sets it for its workers: undone after the test
    paths = {name: str(tmp_path / name) for name in [*files, "missing"]}
    database = (
        [] if "TIMESYNC_DATABASE_URL" in environment else ["--database", f"sqlite:///{tmp_path}/never.db"]
    )
    argv = ["serve", *database, *(o.format(**paths) for o in options)]
    error = _refused(argv, capsys)
    assert message in error
    assert "s" * 8 not in error and "too short" not in error.split(":", 1)[1]  # never the key itself
    assert "pw@" not in error
    assert not (tmp_path / "never.db").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["good", "key", "short"]
