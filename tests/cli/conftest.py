"""Fixtures for the command line: our server on loopback, seeded, and a runner with a private config dir.

- ``server``: one server per module, with user ``alice`` (a member of ``gwm`` and ``pgd``), projects
  ``gwm`` (slugs ``gwm``/``ganeti``, default activity ``dev``) and ``pgd`` (no default activity), and
  activities ``dev``, ``docs``, ``review``;
- ``home``: a fresh ``TIMESYNC_CONFIG_DIR`` per test, with the keyring forced to the "fail" backend so the
  0600 file fallback is what gets used (the real Secret Service has its own test);
- ``run``: ``run("log", "1h", "gwm")`` through Click's runner; ``logged_in`` has run ``login`` first.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pymesync import Client
from pymesync.cli import cli
from pymesync.server.testing import RunningServer, create_user, serve

ADMIN = ("admin", "adminpass")
USER = ("alice", "alicepass")


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    yield from seeded_server()


def seeded_server(**options: Any) -> Iterator[RunningServer]:
    """The seeded server; ``options`` go to ``serve`` (``sync_extensions=False``...)."""
    with serve(admin=ADMIN, **options) as running:
        create_user(running.database_url, *USER)
        with Client(running.base_url, username=ADMIN[0], password=ADMIN[1]) as admin:
            for slug, name in (("dev", "Development"), ("docs", "Documentation"), ("review", "Code review")):
                admin.activities.create(name=name, slug=slug)
            member = {"member": True, "spectator": False, "manager": False}
            admin.projects.create(
                name="Ganeti Web Manager",
                slugs=["gwm", "ganeti"],
                default_activity="dev",
                users={USER[0]: member},
            )
            admin.projects.create(name="PGD", slugs=["pgd"], users={USER[0]: member})
            admin.projects.create(name="Gwmx Tools", slugs=["gwmx"], users={USER[0]: member})
        yield running


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("TIMESYNC_URL", "TIMESYNC_USER", "TIMESYNC_PASSWORD", "TIMESYNC_PROFILE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TIMESYNC_CONFIG_DIR", str(tmp_path / "timesync"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    return tmp_path / "timesync"


@dataclasses.dataclass
class Runner:
    server: RunningServer
    home: Path

    def __call__(self, *args: str, input: str | None = None, code: int | None = 0) -> Result:
        """Run ``timesync ARGS``; when ``code`` is not None, assert the exit code (printing the output)."""
        result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
        if code is not None:
            assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        return result

    def login(self, user: tuple[str, str] = USER) -> Result:
        return self(
            "login",
            "--server",
            self.server.base_url,
            "--user",
            user[0],
            "--password-stdin",
            input=user[1] + "\n",
        )


@pytest.fixture
def run(server: RunningServer, home: Path) -> Runner:
    return Runner(server, home)


@pytest.fixture
def logged_in(run: Runner) -> Runner:
    run.login()
    return run


Run = Callable[..., Result]


@pytest.fixture
def requests_sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``METHOD /path`` of every request the command line sends (through the real transport)."""
    from pymesync._transport import SyncTransport

    sent: list[str] = []
    real_send = SyncTransport.send

    def send(self: SyncTransport, method: str, url: str, *args: object) -> object:
        sent.append(f"{method} {url.split('/v1', 1)[1].split('?')[0] or '/'}")
        return real_send(self, method, url, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(SyncTransport, "send", send)
    return sent


def environment(home: Path) -> dict[str, str]:
    """The environment for ``timesync`` subprocesses: this test's config dir, no keyring, no colour."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMESYNC_")}
    env.update(TIMESYNC_CONFIG_DIR=str(home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    return env
