"""Benchmark of the TimeSync server: GET /times (all, filtered), GET /times/:uuid, POST /times.

Starts ``timesync-server serve --workers 2`` as a subprocess on a loopback port for each backend and
data size, bulk-loads times straight into the database, and drives it with a bounded number of
keep-alive ``http.client`` threads. Prints requests/s, p50/p99 latency, how latency grows with the
number of stored times, and the workers' RSS before and after a big list request.

    python bench/server.py                                  # SQLite, 1,000 and 100,000 times
    python bench/server.py --postgres-url postgresql://postgres@127.0.0.1:5432/postgres
    python bench/server.py --sizes 1000 --requests 200      # quicker
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuid_module
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import sqlalchemy as sa

from pymesync.server import schema, storage
from pymesync.server.queries import insert_id

ADMIN, PASSWORD = "admin", "benchpass"
USERS = 20
DAY_MS = 86_400_000
FIRST_DAY_MS = 1420070400000  # 2015-01-01
DAYS = 5 * 365


@dataclass
class Result:
    backend: str
    stored: int
    scenario: str
    requests: int
    seconds: float
    latencies: list[float]

    def row(self) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        rate = self.requests / self.seconds if self.seconds else 0.0
        return (
            f"{self.backend:<10} {self.stored:>8} {self.scenario:<28} {self.requests:>6} "
            f"{rate:>9.1f} {p50:>9.2f} {p99:>9.2f}"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def database(backend: str, postgres_url: str | None) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="timesync-bench-") as directory:
            yield f"sqlite:///{directory}/bench.db"
        return
    import psycopg

    assert postgres_url is not None
    admin_url = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin_url)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load(url: str, count: int) -> None:
    """Bulk-insert users, one project, two activities and ``count`` times (one activity each)."""
    engine = storage.create_engine(url)
    storage.create_schema(engine)
    now = storage.now_ms()
    rng = random.Random(7)
    with storage.transaction(engine, write=True) as conn:
        storage.insert_user(conn, ADMIN, PASSWORD, site_admin=True, site_manager=True,
                            site_spectator=True, bcrypt_rounds=4)  # fmt: skip
        for number in range(USERS):
            storage.insert_user(conn, f"user{number}", PASSWORD, bcrypt_rounds=4)
        user_ids = [row.id for row in conn.execute(sa.select(schema.users.c.id))]
        activity_ids = []
        for slug in ("dev", "docs"):
            activity_ids.append(
                insert_id(
                    conn,
                    sa.insert(schema.activities).values(
                        name=slug, slug=slug, uuid=str(uuid_module.uuid4()), created_at=now
                    ),
                )
            )
        project_uuid = str(uuid_module.uuid4())
        project_id = insert_id(
            conn, sa.insert(schema.projects).values(name="Bench", uuid=project_uuid, created_at=now)
        )
        conn.execute(sa.insert(schema.projectslugs).values(name="bench", project=project_id))
        conn.execute(
            sa.insert(schema.userroles),
            [{"project": project_id, "user": uid, "member": True} for uid in user_ids],
        )
    batch = 5000
    for start in range(0, count, batch):
        size = min(batch, count - start)
        with storage.transaction(engine, write=True) as conn:
            first = conn.execute(sa.select(sa.func.coalesce(sa.func.max(schema.times.c.id), 0))).scalar_one()
            rows = [
                {
                    "id": first + offset + 1,
                    "duration": rng.randrange(60, 28800),
                    "user": user_ids[rng.randrange(len(user_ids))],
                    "project": project_uuid,
                    "notes": "benchmark entry",
                    "issue_uri": None,
                    "date_worked": FIRST_DAY_MS + rng.randrange(DAYS) * DAY_MS,
                    "created_at": now,
                    "uuid": str(uuid_module.uuid4()),
                    "revision": 1,
                    "newest": True,
                }
                for offset in range(size)
            ]
            conn.execute(sa.insert(schema.times), rows)
            conn.execute(
                sa.insert(schema.timesactivities),
                [{"time": row["id"], "activity": activity_ids[row["id"] % 2]} for row in rows],
            )
    if engine.dialect.name == "postgresql":
        with storage.transaction(engine, write=True) as conn:
            conn.exec_driver_sql("SELECT setval('times_id_seq', (SELECT max(id) FROM times))")
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()


@contextlib.contextmanager
def server(url: str) -> Iterator[tuple[int, int]]:
    """Run ``timesync-server serve --workers 2``; yields (port, parent pid)."""
    port = free_port()
    command = [sys.executable, "-m", "pymesync.server.cli", "serve", "--database", url,
               "--port", str(port), "--workers", "2", "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start")
        time.sleep(0.5)  # let both workers come up
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def request(conn: http.client.HTTPConnection, method: str, path: str, body: object = None) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    payload = response.read()
    if response.status != 200:
        raise RuntimeError(f"{method} {path}: {response.status} {payload[:200]!r}")
    return payload


def login(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    auth = {"type": "password", "username": ADMIN, "password": PASSWORD}
    token = json.loads(request(conn, "POST", "/v1/login", {"auth": auth}))["token"]
    conn.close()
    return str(token)


Call = tuple[str, str, object]


def drive(port: int, total: int, clients: int, make: Callable[[int], Call]) -> tuple[float, list[float]]:
    """Send ``total`` requests from ``clients`` keep-alive connections; returns (seconds, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        mine = []
        for number in range(per_client[index]):
            method, path, body = make(index * 1_000_000 + number)
            started = time.perf_counter()
            request(conn, method, path, body)
            mine.append(time.perf_counter() - started)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies


def worker_rss_kib(parent: int) -> int:
    """Total resident memory of the server's worker processes (Linux /proc)."""
    total = 0
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    for child in children:
        for line in Path(f"/proc/{child}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


class RssPeak:
    """Samples the workers' total RSS every 20 ms in a thread while the block runs."""

    def __init__(self, parent: int) -> None:
        self.parent = parent
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, ValueError):
                self.peak = max(self.peak, worker_rss_kib(self.parent))
            self._stop.wait(0.02)

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, worker_rss_kib(self.parent))


def slow_read(port: int, path: str, pause: float = 0.005, size: int = 65536) -> int:
    """GET ``path`` on a raw socket, reading ``size`` bytes every ``pause`` seconds; returns bytes read.

    A client slower than the server: without backpressure the server would buffer the response."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)  # before connecting, so it holds
        sock.settimeout(300)
        sock.connect(("127.0.0.1", port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        total = 0
        while chunk := sock.recv(size):
            total += len(chunk)
            time.sleep(pause)
    return total


#: (backend, stored) -> (MiB growth with 4 fast clients, MiB growth with one slow reader, MiB read)
MEMORY: dict[tuple[str, int], tuple[float, float, float]] = {}


def bench_one(backend: str, url: str, stored: int, args: argparse.Namespace) -> list[Result]:
    load(url, stored)
    results = []
    with server(url) as (port, pid):
        token = quote(login(port), safe="")
        uuids = [str(u) for u in _sample_uuids(url, 200)]
        rng = random.Random(11)
        big = max(2, min(args.requests, 20 if stored > 10_000 else args.requests))
        login_token = login(port)
        time_body = {
            "auth": {"type": "token", "token": login_token},
            "object": {
                "duration": 600,
                "user": ADMIN,
                "project": "bench",
                "activities": ["dev"],
                "date_worked": "2016-02-02",
            },
        }

        def list_all(_: int) -> Call:
            return "GET", f"/v1/times?token={token}", None

        def list_filtered(number: int) -> Call:
            query = f"user=user{number % USERS}&start=2016-01-01&end=2016-03-31"
            return "GET", f"/v1/times?token={token}&{query}", None

        def get_one(_: int) -> Call:
            return "GET", f"/v1/times/{rng.choice(uuids)}?token={token}", None

        def create(_: int) -> Call:
            return "POST", "/v1/times", time_body

        scenarios: list[tuple[str, int, Callable[[int], Call]]] = [
            ("GET /times (all)", big, list_all),
            ("GET /times?user&start&end", args.requests, list_filtered),
            ("GET /times/:uuid", args.requests, get_one),
            ("POST /times", args.requests, create),
        ]
        # warm both workers up (thread pool, statement caches, a streamed two-page list) so the
        # RSS numbers below show what the size of the result costs
        drive(port, 4 * args.clients, args.clients,
              lambda _: ("GET", f"/v1/times?token={token}&limit=2000", None))  # fmt: skip
        for name, count, make in scenarios:
            if name == "GET /times (all)":
                rss_before = worker_rss_kib(pid)
                with RssPeak(pid) as fast:
                    seconds, latencies = drive(port, count, args.clients, make)
                with RssPeak(pid) as slow:
                    read = slow_read(port, f"/v1/times?token={token}")
                grown = ((fast.peak - rss_before) / 1024, (slow.peak - rss_before) / 1024, read / 2**20)
                MEMORY[backend, stored] = grown
                print(f"  {backend} {stored}: worker RSS {rss_before / 1024:.1f} MiB before GET /times "
                      f"(all), peak +{grown[0]:.1f} MiB with {args.clients} clients, +{grown[1]:.1f} MiB "
                      f"with one slow reader ({grown[2]:.1f} MiB response)", flush=True)  # fmt: skip
            else:
                seconds, latencies = drive(port, count, args.clients, make)
            results.append(Result(backend, stored, name, count, seconds, latencies))
    return results


def _sample_uuids(url: str, count: int) -> list[str]:
    engine = storage.create_engine(url)
    with storage.transaction(engine) as conn:
        rows = conn.execute(sa.select(schema.times.c.uuid).order_by(schema.times.c.id).limit(count))
        found = [str(row.uuid) for row in rows]
    engine.dispose()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--requests", type=int, default=400, help="requests per scenario")
    parser.add_argument("--clients", type=int, default=4, help="concurrent keep-alive connections")
    parser.add_argument("--postgres-url", default=os.environ.get("TIMESYNC_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    backends = ["sqlite"] + (["postgresql"] if args.postgres_url else [])
    results: list[Result] = []
    for backend in backends:
        for size in args.sizes:
            print(f"loading {size} times into {backend} ...", flush=True)
            with database(backend, args.postgres_url) as url:
                results.extend(bench_one(backend, url, size, args))
    print()
    print(f"{'backend':<10} {'stored':>8} {'scenario':<28} {'reqs':>6} {'req/s':>9} "
          f"{'p50 ms':>9} {'p99 ms':>9}")  # fmt: skip
    for result in results:
        print(result.row())
    print()
    print("p50 latency growth from the smallest to the largest data set:")
    for backend in backends:
        for scenario in dict.fromkeys(r.scenario for r in results):
            series = [r for r in results if r.backend == backend and r.scenario == scenario]
            if len(series) > 1:
                low, high = (statistics.median(r.latencies) for r in (series[0], series[-1]))
                print(f"  {backend:<10} {scenario:<28} x{high / low:.2f}")
    print()
    print("worker RSS growth (peak minus before) during GET /times (all), by stored times:")
    for (backend, stored), (fast, slow, read) in MEMORY.items():
        print(f"  {backend:<10} {stored:>8}: +{fast:5.1f} MiB ({args.clients} clients), "
              f"+{slow:5.1f} MiB (one slow reader), response {read:.1f} MiB")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
