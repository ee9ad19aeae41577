"""Benchmark the pythonic clients against the raw ``http.client`` floor and upstream ``pymesync==0.2.0``.

All modes talk to one TimeSync server (the project's own, run by uvicorn in a separate process on a fresh
SQLite file) in one run. Each round runs every mode once, in a rotating order; each mode creates ``--n``
times, then gets each of them by uuid. Printed: the median seconds over the rounds, operations per second,
and ratios to upstream and to the raw floor.

    .venv/bin/python bench/client.py [--n 5000] [--rounds 3] [--concurrency 16]

Upstream runs in its own venv (``.venvs/upstream``, created when missing: see ``bench/_upstream.py``)
through a small script, timed inside that process so interpreter start-up is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import multiprocessing
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import _upstream
from pymesync import AsyncClient, Client, ProjectRole
from pymesync.server import storage
from pymesync.server.protocol import PROTOCOL
from pymesync.server.testing import create_user

ADMIN = ("admin", "adminpass")
DAY = "2016-02-01"

Timing = tuple[float, float]  # (create seconds, get seconds)


@contextlib.contextmanager
def running_server(workers: int) -> Iterator[str]:
    """A uvicorn process serving a fresh database; yields the ``/v1`` base URL."""
    with tempfile.TemporaryDirectory(prefix="timesync-bench-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        storage.create_schema(storage.create_engine(url))
        create_user(url, *ADMIN, site_admin=True, site_manager=True, site_spectator=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "TIMESYNC_DATABASE_URL": url, "TIMESYNC_SECRET_KEY": secrets.token_urlsafe(48)}
        command = [
            sys.executable, "-m", "uvicorn", "--factory", "pymesync.server.app:create_app_from_environment",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--http", PROTOCOL,
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        process = subprocess.Popen(command, env=env)
        try:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the benchmark server did not start")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            process.terminate()
            process.wait(10)


async def _delayed_pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy bytes from ``reader`` to ``writer``, each chunk ``delay`` seconds late, in order."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not data:
                writer.close()
                return
            writer.write(data)
            await writer.drain()

    delivery = asyncio.create_task(deliver())
    while True:
        data = await reader.read(65536)
        queue.put_nowait((loop.time() + delay, data))
        if not data:
            break
    with contextlib.suppress(ConnectionError):
        await delivery


def _run_latency_proxy(listener: socket.socket, upstream_port: int, delay: float) -> None:
    """A TCP proxy adding ``delay`` each way (and one round trip per new connection, as a handshake would)."""

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(2 * delay)
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        with contextlib.suppress(ConnectionError):
            await asyncio.gather(
                _delayed_pipe(client_reader, server_writer, delay),
                _delayed_pipe(server_reader, client_writer, delay),
            )

    async def serve() -> None:
        server = await asyncio.start_server(handle, sock=listener)
        await server.serve_forever()

    asyncio.run(serve())


@contextlib.contextmanager
def latency_proxy(base: str, one_way_ms: float) -> Iterator[str]:
    """``base`` itself when there is no latency to add, else the URL of a delaying proxy process in front."""
    if one_way_ms <= 0:
        yield base
        return
    parts = urllib.parse.urlsplit(base)
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and without it
    # Nagle's algorithm holds back the proxy's second write for a delayed ACK (~40 ms per request).
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    process = multiprocessing.Process(
        target=_run_latency_proxy, args=(listener, parts.port, one_way_ms / 1000), daemon=True
    )
    process.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}{parts.path}"
    finally:
        process.terminate()
        process.join(10)
        listener.close()


UPSTREAM_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import pymesync
    base, slug, n, day = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    ts = pymesync.TimeSync(base)
    ts.authenticate(username="admin", password="adminpass", auth_type="password")
    started = time.perf_counter()
    uuids = []
    for i in range(n):
        made = ts.create_time({"duration": 60 + i, "project": slug, "user": "admin", "date_worked": day})
        uuids.append(made["uuid"])
    created = time.perf_counter()
    for uuid in uuids:
        assert "uuid" in ts.get_times({"uuid": uuid})[0]
    print(json.dumps([created - started, time.perf_counter() - created]))
    """
)


def bench_upstream(python: Path, base: str, slug: str, n: int) -> Timing:
    out = subprocess.run(
        [str(python), "-c", UPSTREAM_SCRIPT, base, slug, str(n), DAY],
        check=True,
        capture_output=True,
        text=True,
    )
    create, get = json.loads(out.stdout)
    return create, get


def bench_raw(base: str, slug: str, n: int) -> Timing:
    """The floor: one kept-alive ``http.client`` connection, JSON in and out, nothing else."""
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}

    def call(method: str, path: str, body: object = None) -> object:
        payload = None if body is None else json.dumps(body).encode()
        conn.request(method, parts.path + path, payload, headers)
        return json.loads(conn.getresponse().read())

    login = {"auth": {"type": "password", "username": ADMIN[0], "password": ADMIN[1]}}
    token = call("POST", "/login", login)["token"]  # type: ignore[index]
    auth = {"type": "token", "token": token}
    started = time.perf_counter()
    uuids = []
    for i in range(n):
        obj = {"duration": 60 + i, "project": slug, "user": ADMIN[0], "date_worked": DAY}
        uuids.append(call("POST", "/times", {"auth": auth, "object": obj})["uuid"])  # type: ignore[index]
    created = time.perf_counter()
    quoted = urllib.parse.quote(token, safe="")
    for uuid in uuids:
        call("GET", f"/times/{uuid}?token={quoted}")
    finished = time.perf_counter()
    conn.close()
    return created - started, finished - created


@contextlib.contextmanager
def admin_client(base: str, **options: Any) -> Iterator[Client]:
    """A ``Client`` logged in as the admin before any timing starts."""
    with Client(base, username=ADMIN[0], password=ADMIN[1], **options) as client:
        client.login()
        yield client


@contextlib.asynccontextmanager
async def admin_async_client(base: str, **options: Any) -> AsyncIterator[AsyncClient]:
    """An ``AsyncClient`` logged in as the admin before any timing starts."""
    async with AsyncClient(base, username=ADMIN[0], password=ADMIN[1], **options) as client:
        await client.login()
        yield client


def bench_client(base: str, slug: str, n: int) -> Timing:
    with admin_client(base) as client:
        started = time.perf_counter()
        made = [client.times.create(duration=60 + i, project=slug, date_worked=DAY) for i in range(n)]
        created = time.perf_counter()
        for entry in made:
            client.times.get(entry.uuid or "")
        return created - started, time.perf_counter() - created


def bench_async(base: str, slug: str, n: int, concurrency: int) -> Timing:
    async def run() -> Timing:
        async with admin_async_client(base, max_connections=concurrency) as client:
            slots = asyncio.Semaphore(concurrency)

            async def create(i: int) -> str:
                async with slots:
                    return (
                        await client.times.create(duration=60 + i, project=slug, date_worked=DAY)
                    ).uuid or ""

            async def get(uuid: str) -> None:
                async with slots:
                    await client.times.get(uuid)

            started = time.perf_counter()
            uuids = await asyncio.gather(*(create(i) for i in range(n)))
            created = time.perf_counter()
            await asyncio.gather(*(get(uuid) for uuid in uuids))
            return created - started, time.perf_counter() - created

    return asyncio.run(run())


def _items(slug: str, n: int) -> list[dict[str, object]]:
    return [{"duration": 60 + i, "project": slug, "date_worked": DAY} for i in range(n)]


def bench_async_create_many(base: str, slug: str, n: int, concurrency: int) -> Timing:
    async def run() -> Timing:
        async with admin_async_client(base, max_connections=concurrency) as client:
            items = _items(slug, n)
            started = time.perf_counter()
            results = [result async for result in client.times.create_many(items, concurrency=concurrency)]
            assert all(result.ok for result in results)
            return time.perf_counter() - started, float("nan")

    return asyncio.run(run())


def bench_sync_create_many(base: str, slug: str, n: int, concurrency: int) -> Timing:
    with admin_client(base, max_connections=concurrency) as client:
        items = _items(slug, n)
        started = time.perf_counter()
        results = list(client.times.create_many(items, concurrency=concurrency))
        assert all(result.ok for result in results)
        return time.perf_counter() - started, float("nan")


def setup(base: str) -> str:
    with admin_client(base) as client:
        client.activities.create(name="Development", slug="dev")
        client.projects.create(
            name="Bench", slugs=["bench"], default_activity="dev", users={"admin": ProjectRole(member=True)}
        )
    return "bench"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=5000, help="creates and gets per mode and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="one-way delay added by a proxy, to model a real network",
    )
    args = parser.parse_args()
    n, c = args.n, args.concurrency
    python = _upstream.ensure_python()
    with running_server(args.workers) as server_url, latency_proxy(server_url, args.latency_ms) as base:
        slug = setup(base)
        modes: dict[str, Callable[[], Timing]] = {
            "raw http.client, sequential": lambda: bench_raw(base, slug, n),
            "upstream 0.2.0, sequential": lambda: bench_upstream(python, base, slug, n),
            "Client, sequential": lambda: bench_client(base, slug, n),
            f"AsyncClient, concurrency {c}": lambda: bench_async(base, slug, n, c),
            f"AsyncClient.create_many({c})": lambda: bench_async_create_many(base, slug, n, c),
            f"Client.create_many({c})": lambda: bench_sync_create_many(base, slug, n, c),
        }
        timings: dict[str, list[Timing]] = {name: [] for name in modes}
        cpu: dict[str, list[float]] = {name: [] for name in modes}
        names = list(modes)
        for round_number in range(args.rounds):
            order = names[round_number % len(names) :] + names[: round_number % len(names)]
            for name in order:
                before = _client_cpu()
                timing = modes[name]()
                operations = n if timing[1] != timing[1] else 2 * n
                cpu[name].append((_client_cpu() - before) / operations * 1e6)
                timings[name].append(timing)
                print(f"round {round_number + 1}: {name}: {timing[0]:.2f}s create", file=sys.stderr)
    report(timings, cpu, n, args.latency_ms)


def _client_cpu() -> float:
    """CPU seconds of this process plus finished children (the upstream runs); servers are not counted."""
    children = os.times()
    return time.process_time() + children.children_user + children.children_system


def report(timings: dict[str, list[Timing]], cpu: dict[str, list[float]], n: int, latency_ms: float) -> None:
    medians = {
        name: (statistics.median(t[0] for t in runs), statistics.median(t[1] for t in runs))
        for name, runs in timings.items()
    }
    raw = medians["raw http.client, sequential"]
    upstream = medians["upstream 0.2.0, sequential"]
    rounds = len(next(iter(timings.values())))
    network = f"{latency_ms:g} ms added each way" if latency_ms > 0 else "loopback"
    print(f"\n{n} creates and {n} gets per mode; median of {rounds} rounds; {network}\n")
    columns = (
        ("create s", 9),
        ("create/s", 9),
        ("get s", 8),
        ("get/s", 8),
        ("vs upstream", 12),
        ("vs raw", 8),
        ("CPU us/op", 10),
    )
    header = f"{'mode':34}" + "".join(f" {title:>{width}}" for title, width in columns)
    print(header)
    print("-" * len(header))
    for name, (create, get) in medians.items():
        speedup = upstream[0] / create
        vs_raw = create / raw[0]
        get_cells = "       -        -" if get != get else f"{get:8.2f} {n / get:8.0f}"
        cpu_per_op = statistics.median(cpu[name])
        rates = f"{create:9.2f} {n / create:9.0f} {get_cells}"
        print(f"{name:34} {rates} {speedup:11.1f}x {vs_raw:7.2f}x {cpu_per_op:10.0f}")
    client = medians["Client, sequential"]
    print(
        f"\nsequential Client vs raw floor: create {client[0] / raw[0]:.2f}x, get {client[1] / raw[1]:.2f}x"
        " (target <= 1.3x)"
    )
    best_bulk = min(
        create for name, (create, _) in medians.items() if "concurrency" in name or "create_many" in name
    )
    print(f"best bulk creation vs upstream sequential: {upstream[0] / best_bulk:.1f}x faster (target >= 5x)")
    print(
        "CPU us/op: client-side CPU per request (user+system of this process; for upstream, of its whole"
        " subprocess including start-up); the server's CPU is not included"
    )


if __name__ == "__main__":
    main()
