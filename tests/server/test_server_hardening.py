"""Security review, issue 13: ``timesync-server`` itself, run as a real process, keeps its files
private, takes the token secret from outside the database, and logs no secrets at any level."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pymesync.server import auth, schema, storage

from .conftest import fresh_database
from .helpers import BAD_TOKEN, Api, bad_object

ADMIN_PASSWORD = "admin password"
#: The umask most accounts have: without care, new files are 0644 and directories 0755.
USUAL_UMASK = 0o022


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pymesync.server.cli", *args]


def _environment(**settings: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("TIMESYNC_")}
    return {**env, "TIMESYNC_ADMIN_PASSWORD": ADMIN_PASSWORD, **settings}


def _init(env: dict[str, str]) -> None:
    done = subprocess.run(_command("init"), env=env, umask=USUAL_UMASK, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@contextlib.contextmanager
def _serving(env: dict[str, str], log: Path, *options: str) -> Iterator[Api]:
    """``timesync-server serve`` on a free port until the block ends (then stopped with Ctrl-C)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with log.open("ab") as output:
        process = subprocess.Popen(
            _command("serve", "--port", str(port), *options),
            env=env,
            umask=USUAL_UMASK,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield Api("127.0.0.1", port)
    finally:
        process.send_signal(2)  # SIGINT: uvicorn shuts down cleanly, SQLite checkpoints
        process.wait(30)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _stored_secret(url: str) -> str | None:
    engine = storage.create_engine(url)
    try:
        with storage.transaction(engine) as connection:
            query = sa.select(schema.settings.c.value).where(schema.settings.c.name == "token_secret")
            return connection.execute(query).scalar_one_or_none()
    finally:
        engine.dispose()


def test_database_files_are_private_to_the_server_account(tmp_path: Path) -> None:
    """The default data directory is 0700 and the database, with its -wal and -shm, 0600: after
    ``init``, after the first write, and after a restart (SQLite recreates -wal and -shm)."""
    env = _environment(XDG_DATA_HOME=str(tmp_path / "data"))
    _init(env)
    directory = tmp_path / "data" / "timesync-server"
    database = directory / "timesync.db"
    assert (_mode(directory), _mode(database)) == (0o700, 0o600)
    for run in ("first", "second"):
        with _serving(env, tmp_path / "serve.log") as api:
            created = api.post("/activities", {"name": run, "slug": run}, api.token("admin", ADMIN_PASSWORD))
            assert created.status == 200, created.json
            modes = {path.name: _mode(path) for path in directory.iterdir()}
            assert modes == {"timesync.db": 0o600, "timesync.db-wal": 0o600, "timesync.db-shm": 0o600}
    assert _mode(database) == 0o600


@pytest.mark.parametrize("database_key", ["none", "another"])
def test_with_an_external_secret_tokens_signed_with_a_database_key_are_refused(
    backend: str, tmp_path: Path, database_key: str
) -> None:
    """``--secret-file``: the database holds no key (or an old one, useless to whoever reads it);
    the workers (two processes) take the file's key, the allow-list and the minimum length."""
    with fresh_database(backend) as postgres_url:
        url = postgres_url or f"sqlite:///{tmp_path}/timesync.db"
        env = _environment(TIMESYNC_DATABASE_URL=url)
        _init(env)
        assert _stored_secret(url) is None  # init leaves the key to serve
        old_key = secrets.token_urlsafe(64)
        if database_key == "another":
            engine = storage.create_engine(url)
            with storage.transaction(engine, write=True) as connection:
                connection.execute(sa.insert(schema.settings).values(name="token_secret", value=old_key))
            engine.dispose()
        key_file = tmp_path / "token.key"
        key_file.write_text(secrets.token_urlsafe(48) + "\n")
        key_file.chmod(0o600)
        options = ("--secret-file", str(key_file), "--workers", "2")
        more = ("--cors-origin", "https://app.example.org", "--min-password-length", "12")
        with _serving(env, tmp_path / "serve.log", *options, *more) as api:
            forged = auth.make_token(old_key, "timesync", "admin", lifetime=1800)
            assert api.get("/users", forged).json == BAD_TOKEN
            token = api.token("admin", ADMIN_PASSWORD)
            key = key_file.read_text().strip()
            claims = auth.token_claims(token, key, "timesync", lifetime=1800)
            assert claims is not None and claims.subject == "admin"
            answer = api.request("GET", "/users", token=token, headers={"Origin": "https://app.example.org"})
            assert answer.header("Access-Control-Allow-Origin") == "https://app.example.org"
            short = api.post("/users", {"username": "bob", "password": "eleven char"}, token)
            expected = "string of at least 12 characters but was sent as shorter string"
            assert short.json == bad_object(f"Field password of user should be {expected}")
        assert _stored_secret(url) == (old_key if database_key == "another" else None)


def test_logs_show_no_tokens_or_passwords_even_at_trace_level(tmp_path: Path) -> None:
    """The access log and uvicorn's trace log (which prints each request's scope) of a real server,
    with the parameter names spelled as the server would still decode them."""
    env = _environment(TIMESYNC_DATABASE_URL=f"sqlite:///{tmp_path}/timesync.db")
    _init(env)
    log = tmp_path / "serve.log"
    spellings = ["token", "%74oken", "TOKEN", "to%6ben", "password", "pass%77ord", "Password", "+token"]
    hidden = {name: f"hidden{number}value" for number, name in enumerate(spellings)}
    with _serving(env, log, "--log-level", "trace", "--access-log") as api:
        token = api.token("admin", ADMIN_PASSWORD)
        assert api.get("/users", token).status == 200
        for name, value in hidden.items():
            api.raw("GET", f"/v1/users?a=1&{name}={value}&b=2")
    text = log.read_text()
    assert "ASGI [" in text and "query_string" in text  # the trace log is really on
    assert "GET /v1/users?a=1&%74oken=[redacted]&b=2" in text
    for value in [token, *hidden.values()]:
        assert value not in text
