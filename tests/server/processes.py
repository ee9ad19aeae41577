"""Real ``timesync-server serve`` processes on 127.0.0.1 for the tests that need whole processes:
several on one database (as several hosts would run), killed, or started under a changed
identity or on a filesystem the test fills.
"""

from __future__ import annotations

import collections
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from pymesync.server import schema, storage
from pymesync.server.testing import create_user

from .conftest import fresh_database
from .helpers import ADMIN, Api


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_database(database_url: str) -> None:
    """The schema, the token secret and the admin, as ``timesync-server init`` leaves them."""
    engine = storage.create_engine(database_url)
    try:
        storage.create_schema(engine)
        storage.token_secret(engine)
    finally:
        engine.dispose()
    create_user(database_url, ADMIN[0], ADMIN[1], site_admin=True, site_manager=True, site_spectator=True)


@dataclass
class ServerProcess:
    """One running ``timesync-server serve``, its client and its log file."""

    api: Api
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _wait_until_serving(api: Api, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"timesync-server exited: {log.read_text()}")
        with contextlib.suppress(OSError):
            if api.get("/activities").status == 401:
                return
        time.sleep(0.05)
    raise RuntimeError(f"timesync-server did not start: {log.read_text()}")


def start_server_process(
    database_url: str, log: Path, *, workers: int = 1, prefix: Sequence[str] = ()
) -> ServerProcess:
    """Start ``serve`` on a free port and wait until it answers; ``prefix`` runs it under
    another command (``setpriv ...``)."""
    port = free_port()
    command = [*prefix, sys.executable, "-m", "pymesync.server.cli", "serve", "--port", str(port)]
    command += ["--workers", str(workers), "--log-level", "warning"]
    env = {**os.environ, "TIMESYNC_DATABASE_URL": database_url}
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=sink)
    api = Api("127.0.0.1", port)
    try:
        _wait_until_serving(api, process, log)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return ServerProcess(api, process, log)


@dataclass
class Deployment:
    """Running server processes on one database, and a direct connection to that database."""

    servers: list[ServerProcess]
    engine: sa.Engine
    database_url: str

    @property
    def apis(self) -> list[Api]:
        return [server.api for server in self.servers]

    def api(self, index: int) -> Api:
        """Clients spread over the processes, as a proxy in front of several hosts would."""
        return self.servers[index % len(self.servers)].api

    def log_text(self) -> str:
        return "".join(server.log_text() for server in self.servers)


@contextlib.contextmanager
def deployment(backend: str, processes: int, workers: int, tmp: Path) -> Iterator[Deployment]:
    """``processes`` servers of ``workers`` workers each on one fresh database."""
    with fresh_database(backend) as url:
        database_url = url or f"sqlite:///{tmp}/timesync.db"
        prepare_database(database_url)
        engine = storage.create_engine(database_url)
        servers: list[ServerProcess] = []
        try:
            for index in range(processes):
                log = tmp / f"server-{index}.log"
                servers.append(start_server_process(database_url, log, workers=workers))
            yield Deployment(servers, engine, database_url)
        finally:
            for server in servers:
                server.stop()
            engine.dispose()


def half_written(engine: sa.Engine) -> list[str]:
    """Objects a killed writer could have left half done: none may exist."""
    times, projects, slugs, timesactivities = (
        schema.times,
        schema.projects,
        schema.projectslugs,
        schema.timesactivities,
    )
    found = []
    with engine.connect() as connection:
        for table in (times, projects, schema.activities):
            revisions = collections.defaultdict(list)
            query = sa.select(table.c.uuid, table.c.revision, table.c.newest).order_by(table.c.id)
            for row in connection.execute(query):
                revisions[row.uuid].append((row.revision, bool(row.newest)))
            for uuid, rows in revisions.items():
                if [revision for revision, _ in rows] != list(range(1, len(rows) + 1)):
                    found.append(f"{table.name} {uuid}: revisions {rows}")
                if [newest for _, newest in rows] != [False] * (len(rows) - 1) + [True]:
                    found.append(f"{table.name} {uuid}: newest flags {rows}")
        bare_times = connection.execute(
            sa.select(times.c.uuid, times.c.revision).where(
                ~sa.exists().where(timesactivities.c.time == times.c.id)
            )
        ).all()
        found += [f"time {row.uuid} revision {row.revision} without activities" for row in bare_times]
        bare_projects = connection.execute(
            sa.select(projects.c.uuid).where(
                projects.c.newest.is_(True),
                projects.c.deleted_at.is_(None),
                ~sa.exists().where(slugs.c.project == projects.c.id),
            )
        ).all()
        found += [f"project {row.uuid} without slugs" for row in bare_projects]
    return found
