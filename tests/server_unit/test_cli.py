"""``timesync-server`` init and user commands against a temporary SQLite file."""

from __future__ import annotations

from pathlib import Path

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
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13, finding 10: ``Admin`` cannot be created beside ``admin``."""
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("TIMESYNC_ADMIN_PASSWORD", "root pw")
    monkeypatch.setenv("TIMESYNC_USER_PASSWORD", "user pw")
    assert main(["init", "--database", url, "--admin", "admin"]) == 0
    with pytest.raises(SystemExit, match="user Admin already exists"):
        main(["user", "create", "Admin", "--site-admin", "--database", url])
    with pytest.raises(SystemExit, match="user ADMIN already exists"):
        main(["init", "--database", url, "--admin", "ADMIN"])
    assert list(_users(url)) == ["admin"]


def test_init_refuses_bad_usernames(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["init", "--database", f"sqlite:///{tmp_path}/x.db", "--admin", "a.b"])


@pytest.mark.parametrize(
    ("database", "message"),
    [
        ("nonsense", "error: not a database URL"),
        ("sqlite:///no/such/dir/ts.db", "error: cannot open the database sqlite:///no/such/dir/ts.db"),
        (
            "postgresql://u:hunter2@127.0.0.1:1/x",
            "error: cannot open the database postgresql+psycopg://u:***@",
        ),
    ],
)
def test_unusable_databases_are_one_line_errors(
    monkeypatch: pytest.MonkeyPatch, database: str, message: str
) -> None:
    monkeypatch.setenv("TIMESYNC_ADMIN_PASSWORD", "pw")
    with pytest.raises(SystemExit) as stopped:
        main(["init", "--database", database])
    assert str(stopped.value.code).startswith(message)
    assert "hunter2" not in str(stopped.value.code)
