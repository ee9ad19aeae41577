"""Issue 11: the operator commands of ``timesync-server`` (users, projects, activities, backup,
check) on SQLite and PostgreSQL, each checked against what a real server then serves."""

from __future__ import annotations

import contextlib
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pymesync.server import schema, storage
from pymesync.server.cli import main
from pymesync.server.queries import insert_id
from pymesync.server.testing import serve

from .conftest import POSTGRES_URL, _with_database, fresh_database
from .helpers import ADMIN, Api, make_api, seed


@pytest.fixture
def url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database."""
    with fresh_database(backend) as database:
        yield database if database is not None else f"sqlite:///{tmp_path}/timesync.db"


@pytest.fixture
def admin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TIMESYNC_DATABASE_URL", "TIMESYNC_MIN_PASSWORD_LENGTH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TIMESYNC_ADMIN_PASSWORD", ADMIN[1])
    monkeypatch.setenv("TIMESYNC_USER_PASSWORD", "user password")


def run(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> str:
    """Run a command; check its exit code and that a failure is one ``error:`` line. Returns its
    output (stdout when it succeeds, the error line when it fails)."""
    capsys.readouterr()
    try:
        result = main(list(argv))
    except SystemExit as stopped:
        result = int(stopped.code or 0)
    captured = capsys.readouterr()
    assert result == code, captured
    if code in (1, 2):
        assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
        return captured.err
    return captured.out


@contextlib.contextmanager
def serving(url: str) -> Iterator[Api]:
    with serve(database_url=url, admin=None) as server:
        yield make_api(server)


def _rows(url: str, table: sa.Table) -> int:
    engine = storage.create_engine(url)
    try:
        with storage.transaction(engine) as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.usefixtures("admin_env")
def test_projects_and_activities_made_by_commands_are_served_and_follow_the_api_rules(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--database", url)
    assert "created the site admin admin" in run(capsys, "init", *db)
    run(capsys, "activity", "create", "Development", "--slug", "dev", *db)
    gwm = ["Ganeti Web Manager", "--slug", "gwm", "--slug", "ganeti", "--default-activity", "dev"]
    run(capsys, "project", "create", *gwm, "--uri", "https://code.osuosl.org/projects/ganeti-webmgr", *db)
    assert run(capsys, "project", "create", "Other", "--slug", "gwm", *db, code=1) == (
        "error: slug gwm already exists\n"
    )
    same_name = ["Ganeti Web Manager", "--slug", "x"]
    assert "name which already exists" in run(capsys, "project", "create", *same_name, *db, code=1)
    unknown_default = ["Third", "--slug", "third", "--default-activity", "nope"]
    assert "activity" in run(capsys, "project", "create", *unknown_default, *db, code=1)
    assert "'GWM' is not a valid slug" in run(
        capsys, "project", "create", "Fourth", "--slug", "GWM", *db, code=2
    )
    assert "not an http" in run(
        capsys, "project", "create", "Fifth", "--slug", "f", "--uri", "ftp://x", *db, code=2
    )
    assert (
        run(capsys, "activity", "create", "Docs", "--slug", "dev", *db, code=1)
        == "error: slug dev already exists\n"
    )
    assert "'Dev Ops' is not a valid slug" in run(
        capsys, "activity", "create", "Ops", "--slug", "Dev Ops", *db, code=2
    )
    assert _rows(url, schema.projects) == 1 and _rows(url, schema.activities) == 1  # nothing half-written

    listing = run(capsys, "project", "list", *db).splitlines()
    assert listing[0].split() == ["name", "slugs", "default", "activity", "uri", "status"]
    assert listing[1].split()[:5] == ["Ganeti", "Web", "Manager", "ganeti,gwm", "dev"]
    assert run(capsys, "activity", "list", *db).splitlines()[1].split() == ["Development", "dev", "active"]

    with serving(url) as api:
        token = api.token(*ADMIN)
        [project] = api.ok(api.get("/projects", token))
        assert (project["name"], project["slugs"], project["default_activity"]) == (
            "Ganeti Web Manager",
            ["ganeti", "gwm"],
            "dev",
        )
        [activity] = api.ok(api.get("/activities", token))
        assert (activity["name"], activity["slug"]) == ("Development", "dev")
        created = api.create_time(token, "admin", "gwm")
        assert api.ok(api.get(f"/times/{created['uuid']}", token))["activities"] == ["dev"]  # the default


@pytest.mark.usefixtures("admin_env")
def test_user_commands_share_the_api_rules_and_name_deleted_users(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--database", url)
    run(capsys, "init", *db)
    run(capsys, "user", "create", "zed", "--site-spectator", *db)
    with serving(url) as api:
        old_token = api.token("zed", "user password")
        assert api.get("/users/zed", old_token).status == 200
        run(capsys, "user", "set-flags", "zed", "--site-manager", "--no-site-spectator", *db)
        user = api.ok(api.get("/users/zed", old_token))
        assert (user["site_manager"], user["site_spectator"]) == (True, False)
        assert api.get("/users/zed", old_token).status == 200  # flags do not void tokens

        assert "tokens they held no longer work" in run(capsys, "user", "delete", "zed", *db)
        assert api.get("/users", old_token).status == 401
        assert api.login("zed", "user password").status == 401
        hint = "user zed exists but is deleted; restore it with: timesync-server user restore zed"
        assert run(capsys, "user", "create", "ZED", *db, code=1) == f"error: {hint}\n"
        assert run(capsys, "user", "set-password", "zed", *db, code=1) == f"error: {hint}\n"
        assert run(capsys, "user", "set-flags", "zed", "--site-admin", *db, code=1) == f"error: {hint}\n"
        assert run(capsys, "user", "delete", "zed", *db, code=1) == f"error: {hint}\n"
        assert "zed" in run(capsys, "user", "list", *db).splitlines()[-1].split()[0]
        assert run(capsys, "user", "list", *db).splitlines()[-1].split()[-1] == "deleted"

        run(capsys, "user", "restore", "zed", *db)
        assert run(capsys, "user", "restore", "zed", *db, code=1) == "error: user zed is not deleted\n"
        new_token = api.ok(api.login("zed", "user password"))["token"]
        assert api.get("/users", new_token).status == 200
        assert api.get("/users", old_token).status == 401  # voided by the delete for good

        run(capsys, "user", "set-password", "zed", *db)  # TIMESYNC_USER_PASSWORD again
        assert api.get("/users", new_token).status == 401  # a new password voids older tokens

    assert run(capsys, "user", "delete", "nobody", *db, code=1) == "error: no user nobody\n"
    assert "'a.b' is not a valid username" in run(capsys, "user", "delete", "a.b", *db, code=2)
    assert "give at least one of" in run(capsys, "user", "set-flags", "zed", *db, code=2)


@pytest.mark.usefixtures("admin_env")
def test_a_backup_taken_while_serving_restores_to_the_same_data(
    backend: str, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "backup.db"
    with serve(database_url=url, admin=ADMIN) as server:
        api = make_api(server)
        world = seed(api)
        token = world.token("admin")
        before = {
            path: api.ok(api.get(path, token)) for path in ("/times", "/projects", "/activities", "/users")
        }
        run(capsys, "backup", str(backup), "--database", url)  # the server keeps running
        api.create_activity(token=token)  # after the backup: not in it
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert "exists; a backup never replaces a file" in run(
        capsys, "backup", str(backup), "--database", url, code=1
    )

    with _restored(backend, backup, tmp_path) as restored_url, serving(restored_url) as api:
        token = api.token(*ADMIN)
        after = {path: api.ok(api.get(path, token)) for path in before}
        assert after == before
        assert "No problems found." in run(capsys, "check", "--database", restored_url)


@contextlib.contextmanager
def _restored(backend: str, backup: Path, tmp_path: Path) -> Iterator[str]:
    """The backup restored as docs/server.md says, into a new database."""
    if backend == "sqlite":
        restored = tmp_path / "restored.db"
        shutil.copyfile(backup, restored)
        yield f"sqlite:///{restored}"
        return
    with fresh_database(backend) as restored_url:
        assert restored_url is not None
        plain = restored_url.replace("postgresql+psycopg://", "postgresql://")
        done = subprocess.run(
            ["pg_restore", "--no-owner", "--dbname", plain, str(backup)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        yield restored_url


@pytest.mark.usefixtures("admin_env")
def test_check_reports_counts_and_finds_broken_revisions_slugs_and_tables(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--database", url)
    run(capsys, "init", *db)
    with serve(database_url=url, admin=ADMIN) as server:
        seed(make_api(server))
    report = run(capsys, "check", *db)
    assert report.splitlines()[-1] == "No problems found."
    counts = dict(part.split(": ") for part in report.splitlines()[1].split(", "))
    assert set(counts) == {"users", "deleted users", "projects", "activities", "times"}
    assert int(counts["times"]) > 0 and int(counts["users"]) > 1

    engine = storage.create_engine(url)
    projects = schema.projects
    try:
        with storage.transaction(engine, write=True) as connection:
            first, second = connection.execute(
                sa.select(projects).where(projects.c.newest.is_(True)).order_by(projects.c.id).limit(2)
            ).all()
            copy = {name: value for name, value in first._mapping.items() if name != "id"}
            connection.execute(sa.insert(projects).values(copy))  # a second newest row
            older = {name: value for name, value in second._mapping.items() if name != "id"}
            older_id = insert_id(connection, sa.insert(projects).values({**older, "newest": False}))
            connection.execute(sa.insert(schema.projectslugs).values(name="stray", project=older_id))
    finally:
        engine.dispose()
    report = run(capsys, "check", *db, code=3)
    assert "problem: projects: 1 objects do not have exactly one newest row" in report
    assert "problem: project slugs not on a newest project revision: stray" in report

    engine = storage.create_engine(url)
    try:
        with storage.transaction(engine, write=True) as connection:
            connection.execute(sa.text("DROP TABLE pymesync_credential_changes"))
    finally:
        engine.dispose()
    assert "problem: table pymesync_credential_changes is missing" in run(capsys, "check", *db, code=3)


def test_check_and_backup_never_create_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = f"sqlite:///{tmp_path}/missing.db"
    assert "there is no database at" in run(capsys, "check", "--database", missing, code=1)
    assert "there is no database at" in run(
        capsys, "backup", str(tmp_path / "b.db"), "--database", missing, code=1
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(POSTGRES_URL is None, reason="needs TIMESYNC_TEST_POSTGRES_URL")
def test_a_postgresql_backup_without_pg_dump_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert POSTGRES_URL is not None
    monkeypatch.setenv("PATH", str(tmp_path))
    database = _with_database(POSTGRES_URL, "postgres")
    error = run(capsys, "backup", str(tmp_path / "b.dump"), "--database", database, code=1)
    assert "pg_dump is not installed" in error and "postgresql-client" in error
    assert list(tmp_path.iterdir()) == []
