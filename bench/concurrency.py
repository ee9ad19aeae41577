"""Concurrent writes against real server processes: what is acknowledged, what is stored.

For each deployment (PostgreSQL with 1, 2 and 4 workers, two separate processes on one
PostgreSQL database, and SQLite with one and two processes) it fires, from 8 keep-alive clients
released together:

* 8 x 50 updates of one time (a different ``notes`` each): sent, acknowledged (200), stored
  (revisions written), acknowledged revisions that share a number, 5xx answers;
* 8 simultaneous creations of one project name, one project slug, one activity slug and one
  username: how many were stored (1 is right), and 5xx answers;
* one client alone sending 300 updates, then 300 new times: the median latency of each, the
  single-writer cost of locking.

``--baseline-src DIR`` runs the same deployments from another checkout's ``src`` (for example
the commit before a change, from ``git worktree add``) in the same run, side by side::

    python bench/concurrency.py --postgres-url postgresql://postgres@127.0.0.1:5432/postgres \\
        --baseline-src /tmp/before/src
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import bcrypt
import sqlalchemy as sa

from pymesync.server import schema, storage
from pymesync.server.testing import create_user

ADMIN, PASSWORD = "admin", "benchpass"
CLIENTS = 8
SOURCE = str(Path(__file__).resolve().parent.parent / "src")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Connection:
    """One kept-alive HTTP connection to a server, as a load tool's client holds it."""

    def __init__(self, port: int) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def send(self, method: str, path: str, body: object | None = None) -> tuple[int, object]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data else {}
        self.http.request(method, path, body=data, headers=headers)
        response = self.http.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None

    def post(self, path: str, token: str, obj: object) -> tuple[int, object]:
        return self.send("POST", path, {"auth": {"type": "token", "token": token}, "object": obj})


@contextlib.contextmanager
def fresh_database(postgres_url: str | None) -> Iterator[str]:
    if postgres_url is None:
        with tempfile.TemporaryDirectory(prefix="timesync-bench-") as directory:
            yield f"sqlite:///{directory}/bench.db"
        return
    import psycopg

    name = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(postgres_url)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def servers(url: str, processes: int, workers: int, source: str) -> Iterator[list[int]]:
    engine = storage.create_engine(url)
    storage.create_schema(engine)
    storage.token_secret(engine)
    engine.dispose()
    create_user(url, ADMIN, PASSWORD, site_admin=True, site_manager=True, site_spectator=True)
    env = {**os.environ, "PYTHONPATH": source, "TIMESYNC_DATABASE_URL": url}
    running, ports = [], []
    try:
        for _ in range(processes):
            port = free_port()
            command = [sys.executable, "-m", "pymesync.server.cli", "serve", "--port", str(port)]
            running.append(
                subprocess.Popen(
                    [*command, "--workers", str(workers), "--log-level", "critical"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(OSError):
                    if Connection(port).send("GET", "/v1/activities")[0] == 401:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start")
                time.sleep(0.05)
            ports.append(port)
        yield ports
    finally:
        for process in running:
            process.terminate()
            process.wait(timeout=20)


def at_once(ports: list[int], work: Callable[[Connection, int], list[tuple[int, object]]]) -> list:
    """CLIENTS threads, each with its own kept-alive connection, released together."""
    barrier = threading.Barrier(CLIENTS)
    results: list[list[tuple[int, object]]] = [[] for _ in range(CLIENTS)]

    def run(client: int) -> None:
        connection = Connection(ports[client % len(ports)])
        barrier.wait()
        results[client] = work(connection, client)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [answer for answers in results for answer in answers]


@dataclass
class Outcome:
    sent: int = 0
    acknowledged: int = 0
    stored: int = 0
    shared_revisions: int = 0
    duplicates: int = 0
    server_errors: int = 0
    single_writer_ms: float = 0.0
    single_creator_ms: float = 0.0
    notes: list[str] = field(default_factory=list)


def measure(url: str, ports: list[int], updates_each: int) -> Outcome:
    outcome = Outcome()
    one = Connection(ports[0])
    status, body = one.send(
        "POST", "/v1/login", {"auth": {"type": "password", "username": ADMIN, "password": PASSWORD}}
    )
    assert status == 200, body
    token = body["token"]  # type: ignore[index]
    tag = secrets.token_hex(3)
    assert one.post("/v1/activities", token, {"name": f"Dev {tag}", "slug": f"dev{tag}"})[0] == 200
    project = {"name": f"P {tag}", "slugs": [f"p{tag}"], "default_activity": f"dev{tag}"}
    assert one.post("/v1/projects", token, {**project, "users": {ADMIN: {"member": True}}})[0] == 200
    entry = {"duration": 60, "user": ADMIN, "project": f"p{tag}", "date_worked": "2026-11-02"}
    status, created = one.post("/v1/times", token, entry)
    assert status == 200, created
    uuid = created["uuid"]  # type: ignore[index]

    answers = at_once(
        ports,
        lambda c, n: [c.post(f"/v1/times/{uuid}", token, {"notes": f"{n}-{i}"}) for i in range(updates_each)],
    )
    outcome.sent = len(answers)
    acknowledged = [body for status, body in answers if status == 200]
    outcome.acknowledged = len(acknowledged)
    revisions = [body["revision"] for body in acknowledged]
    outcome.shared_revisions = len(revisions) - len(set(revisions))
    outcome.server_errors += sum(status >= 500 for status, _ in answers)
    times = schema.times
    engine = storage.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(sa.func.count()).where(times.c.uuid == uuid)).scalar() or 0
        newest = connection.execute(
            sa.select(sa.func.count()).where(times.c.uuid == uuid, times.c.newest.is_(True))
        ).scalar()
    outcome.stored = rows - 1
    if newest != 1:
        outcome.notes.append(f"{newest} newest rows")

    password = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
    claims = {
        "project name": ("/v1/projects", lambda n: {"name": f"Same {tag}", "slugs": [f"s{tag}x{n}"]}),
        "project slug": ("/v1/projects", lambda n: {"name": f"N {tag} {n}", "slugs": [f"slug{tag}"]}),
        "activity slug": ("/v1/activities", lambda n: {"name": f"A {tag} {n}", "slug": f"a{tag}"}),
        "username": ("/v1/users", lambda n: {"username": f"u{tag}", "password": password}),
    }
    for what, (path, make) in claims.items():
        answers = at_once(ports, lambda c, n, path=path, make=make: [c.post(path, token, make(n))])
        outcome.server_errors += sum(status >= 500 for status, _ in answers)
        stored = count_claim(engine, what, tag)
        if stored != 1:
            outcome.duplicates += stored - 1
            outcome.notes.append(f"{what}: {stored} stored")
    engine.dispose()

    latencies = []
    one = Connection(ports[0])  # the first may have been closed as idle meanwhile
    for step in range(300):
        started = time.perf_counter()
        status, _ = one.post(f"/v1/times/{uuid}", token, {"notes": f"alone {step}"})
        latencies.append(time.perf_counter() - started)
        assert status == 200
    outcome.single_writer_ms = statistics.median(latencies) * 1000
    latencies = []
    for _ in range(300):
        started = time.perf_counter()
        status, _ = one.post("/v1/times", token, entry)
        latencies.append(time.perf_counter() - started)
        assert status == 200
    outcome.single_creator_ms = statistics.median(latencies) * 1000
    return outcome


def count_claim(engine: sa.Engine, what: str, tag: str) -> int:
    projects, slugs, activities, users = schema.projects, schema.projectslugs, schema.activities, schema.users
    condition = {
        "project name": (projects, projects.c.name == f"Same {tag}"),
        "project slug": (slugs, slugs.c.name == f"slug{tag}"),
        "activity slug": (activities, activities.c.slug == f"a{tag}"),
        "username": (users, users.c.username == f"u{tag}"),
    }[what]
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count()).select_from(condition[0]).where(condition[1])
            ).scalar()
            or 0
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres-url", help="a superuser URL; without it only SQLite runs")
    parser.add_argument("--baseline-src", help="another checkout's src directory to compare with")
    parser.add_argument("--updates", type=int, default=50, help="updates per client (50)")
    args = parser.parse_args()
    deployments = [("sqlite", None, 1, 1), ("sqlite", None, 2, 1)]
    if args.postgres_url:
        for workers in (1, 2, 4):
            deployments.append(("postgresql", args.postgres_url, 1, workers))
        deployments.append(("postgresql", args.postgres_url, 2, 1))
    sources = [("this", SOURCE)] + ([("baseline", args.baseline_src)] if args.baseline_src else [])
    print(
        f"{'code':<9} {'backend':<11} {'servers':<14} {'sent':>5} {'acked':>6} {'stored':>6} "
        f"{'shared rev':>10} {'dupes':>6} {'5xx':>5} {'update ms':>9} {'create ms':>9}  notes"
    )
    for backend, postgres_url, processes, workers in deployments:
        shape = f"{processes} processes" if processes > 1 else f"{workers} worker" + "s" * (workers > 1)
        for label, source in sources:
            with fresh_database(postgres_url) as url, servers(url, processes, workers, source) as ports:
                outcome = measure(url, ports, args.updates)
            print(
                f"{label:<9} {backend:<11} {shape:<14} {outcome.sent:>5} {outcome.acknowledged:>6} "
                f"{outcome.stored:>6} {outcome.shared_revisions:>10} {outcome.duplicates:>6} "
                f"{outcome.server_errors:>5} {outcome.single_writer_ms:>9.2f} "
                f"{outcome.single_creator_ms:>9.2f}  {'; '.join(outcome.notes)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
