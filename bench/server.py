"""Benchmark of the TimeSync server: before and after, beside the floor of the web stack.

Needs wrk (Debian: ``apt-get install wrk``), a load tool in C: a Python load generator would take
most of a 2-core machine from the server it measures.

For each backend it starts ``timesync-server serve`` with its default settings (as the README starts
it) from this checkout and, with ``--baseline-src``, from another checkout's ``src`` (``git worktree
add /tmp/before <commit>``), each on its own database holding the same 1,000 times. Beside each runs
the floor: a bare Starlette endpoint that returns the bytes of ``GET /v1/activities`` under the same
uvicorn settings (parser, event loop, workers) as that checkout's ``serve``. wrk then drives every
server with 8 keep-alive connections, the checkouts interleaved, for several rounds; the table shows
medians of requests/s, and our throughput as a share of the floor.

Then, for each size of ``--sizes``, one connection asks for the full ``GET /times`` list again and
again: the median latency divided by the number of times is the cost per entry. The workers' resident
memory is sampled meanwhile and while one slow client reads the list 64 KiB every 5 ms.

    python bench/server.py --baseline-src /tmp/before/src
    python bench/server.py --baseline-src /tmp/before/src --postgres-url postgresql://postgres@127.0.0.1/postgres
    python bench/server.py --rounds 1 --duration 2 --sizes 10000      # quicker
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuid_module
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ADMIN, PASSWORD = "admin", "benchpass"
USERS = 20
DAY_MS = 86_400_000
FIRST_DAY_MS = 1420070400000  # 2015-01-01
DAYS = 5 * 365
SOURCE = str(Path(__file__).resolve().parent.parent / "src")
BENCH = str(Path(__file__).resolve().parent)
#: Environment variable naming the file whose bytes the floor endpoint returns.
FLOOR_BODY = "TIMESYNC_BENCH_FLOOR_BODY"
SMALL = 1000


# --- data -------------------------------------------------------------------------------------------


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
    """Bulk-insert users, one project, two activities and ``count`` times (one activity each), with
    the schema of the checkout this process imports (``--load`` runs it under a checkout's path)."""
    import sqlalchemy as sa

    from pymesync.server import schema, storage
    from pymesync.server.queries import insert_id

    engine = storage.create_engine(url)
    storage.create_schema(engine)
    storage.token_secret(engine)
    now = storage.now_ms()
    rng = random.Random(7)
    with storage.transaction(engine, write=True) as conn:
        storage.insert_user(conn, ADMIN, PASSWORD, site_admin=True, site_manager=True,
                            site_spectator=True, bcrypt_rounds=4)  # fmt: skip
        for number in range(USERS):
            storage.insert_user(conn, f"user{number}", PASSWORD, bcrypt_rounds=4)
        user_ids = [row.id for row in conn.execute(sa.select(schema.users.c.id).order_by(schema.users.c.id))]
        activity_ids = []
        for slug in ("dev", "docs"):
            activity_ids.append(
                insert_id(
                    conn,
                    sa.insert(schema.activities).values(
                        name=slug,
                        slug=slug,
                        uuid=str(uuid_module.UUID(int=rng.getrandbits(128))),
                        created_at=now,
                        revision=1,
                        newest=True,
                    ),
                )
            )
        project_uuid = str(uuid_module.UUID(int=rng.getrandbits(128)))
        project_id = insert_id(
            conn,
            sa.insert(schema.projects).values(
                name="Bench", uuid=project_uuid, created_at=now, revision=1, newest=True
            ),
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
                    "uuid": str(uuid_module.UUID(int=rng.getrandbits(128))),
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
    with storage.transaction(engine, write=True) as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT setval('times_id_seq', (SELECT max(id) FROM times))")
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()


# --- servers ----------------------------------------------------------------------------------------


@dataclass
class Tree:
    """A checkout whose server is measured: its name in the tables and its ``src`` directory."""

    name: str
    src: str
    #: A directory of stand-ins that make these modules fail to import, as where they are not installed.
    hidden: str | None = None

    def environment(self) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if not name.startswith("TIMESYNC_")}
        path = [*([self.hidden] if self.hidden else []), self.src, BENCH]
        return {**env, "PYTHONPATH": os.pathsep.join(path)}

    def run(self, *args: str) -> None:
        subprocess.run([sys.executable, __file__, *args], env=self.environment(), check=True)


def hide(modules: list[str], directory: str) -> str:
    """A directory that, first on ``PYTHONPATH``, makes ``modules`` absent (the baseline predates
    them, and uvicorn picks uvloop by itself wherever it can import it)."""
    shadow = Path(directory) / "hidden"
    for module in modules:
        (shadow / module).mkdir(parents=True, exist_ok=True)
        (shadow / module / "__init__.py").write_text(
            f"raise ImportError('{module} is hidden from the baseline')\n"
        )
    return str(shadow)


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server on port {port} did not start")
        time.sleep(0.1)


def _started(tree: Tree, command: list[str], port: int, env: dict[str, str] | None = None) -> Server:
    process = subprocess.Popen(
        command,
        env={**tree.environment(), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server(process, port)
    try:
        _wait_for(port, process)
        time.sleep(1.0)  # every worker up
    except BaseException:
        server.stop()
        raise
    return server


def serve(tree: Tree, url: str) -> Server:
    """``timesync-server serve`` of ``tree`` with its default settings (workers, parser, loop)."""
    port = free_port()
    command = [sys.executable, "-m", "pymesync.server.cli", "serve", "--database", url,
               "--port", str(port), "--log-level", "warning"]  # fmt: skip
    return _started(tree, command, port)


def floor(tree: Tree, body: bytes, directory: str) -> Server:
    """The bare endpoint under ``tree``'s serve settings, returning ``body``."""
    path = Path(directory) / f"floor-{tree.name}.json"
    path.write_bytes(body)
    port = free_port()
    return _started(tree, [sys.executable, __file__, "--floor", str(port)], port, {FLOOR_BODY: str(path)})


def floor_app() -> object:
    """App factory of the floor: one route, the stored bytes, nothing else."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    body = Path(os.environ[FLOOR_BODY]).read_bytes()

    async def activities(_request: Request) -> Response:
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/v1/activities", activities)])


def run_floor(port: int) -> None:
    """Serve :func:`floor_app` as the checkout on ``PYTHONPATH`` runs ``serve``: its socket, its
    protocol class, its default number of workers, uvicorn's default (fastest) event loop."""
    import uvicorn

    from pymesync.server import protocol, serving

    workers = serving.default_workers() if hasattr(serving, "default_workers") else 1
    config = uvicorn.Config(
        "server:floor_app", factory=True, workers=workers, log_level="warning",
        proxy_headers=False, http=protocol.PROTOCOL, access_log=False,
    )  # fmt: skip
    serving.run(config, serving.listen("127.0.0.1", port))


def call(port: int, method: str, path: str, body: object = None) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    data = None if body is None else json.dumps(body).encode()
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"{method} {path}: {response.status} {payload[:200]!r}")
    return payload


def login(port: int) -> str:
    auth = {"type": "password", "username": ADMIN, "password": PASSWORD}
    return str(json.loads(call(port, "POST", "/v1/login", {"auth": auth}))["token"])


# --- wrk --------------------------------------------------------------------------------------------

_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_COUNT = re.compile(r"(\d+) requests in ")
_P50 = re.compile(r"50%\s+([\d.]+)(us|ms|s)\b")
_ERRORS = re.compile(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*")
_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


@dataclass
class Run:
    rate: float
    p50: float  # seconds
    requests: int


def wrk(port: int, path: str, args: argparse.Namespace, *, script: str | None = None,
        connections: int | None = None, duration: int | None = None) -> Run:  # fmt: skip
    connections = connections or args.connections
    command = ["wrk", "-t", str(min(args.threads, connections)), "-c", str(connections),
               "-d", f"{round(duration or args.duration)}s", "--timeout", "60s", "--latency"]  # fmt: skip
    if script is not None:
        command += ["-s", script]
    output = subprocess.run(
        [*command, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
    ).stdout
    problem = _ERRORS.search(output)
    if problem is not None:
        raise RuntimeError(f"wrk {path}: {problem[0]}")
    rate, p50, count = _RATE.search(output), _P50.search(output), _COUNT.search(output)
    if rate is None or p50 is None or count is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    return Run(float(rate[1]), float(p50[1]) * _UNIT[p50[2]], int(count[1]))


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of ASCII text is a valid Lua string


def post_script(directory: str, token: str) -> str:
    body = {
        "auth": {"type": "token", "token": token},
        "object": {"duration": 600, "user": ADMIN, "project": "bench", "activities": ["dev"],
                   "date_worked": "2016-02-02"},
    }  # fmt: skip
    path = Path(directory) / f"post-{secrets.token_hex(4)}.lua"
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {lua_string(json.dumps(body))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return str(path)


def uuid_script(directory: str, uuids: list[str], token: str) -> str:
    """GET /times/:uuid on uuids drawn at random from the stored ones."""
    path = Path(directory) / f"uuids-{secrets.token_hex(4)}.lua"
    listed = ",".join(lua_string(u) for u in uuids)
    path.write_text(
        f"local uuids = {{{listed}}}\n"
        f"local suffix = {lua_string('?token=' + token)}\n"
        "request = function()\n"
        '  return wrk.format("GET", "/v1/times/" .. uuids[math.random(#uuids)] .. suffix)\n'
        "end\n"
    )
    return str(path)


# --- memory -----------------------------------------------------------------------------------------


def cpu_seconds(parent: int) -> float:
    """CPU time used so far by a server and its worker processes (Linux /proc): unlike requests/s,
    it hardly changes with what else runs on the machine."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    total = 0
    for pid in (parent, *map(int, children)):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def worker_rss_kib(parent: int) -> int:
    """Total resident memory of the server's worker processes, or of the server itself when it runs
    without workers (Linux /proc)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    workers = [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
    return sum(_rss_kib(pid) for pid in workers) if workers else _rss_kib(parent)


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


# --- the measurements -------------------------------------------------------------------------------

FLOOR = "floor: bare GET /activities"
POST = "POST /times"


@dataclass
class Table:
    """Requests/s by (scenario, tree), one value per round."""

    rates: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    #: microseconds of the server processes' CPU per request
    cpu: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def add(self, scenario: str, tree: str, rate: float, cpu: float) -> None:
        self.rates.setdefault((scenario, tree), []).append(rate)
        self.cpu.setdefault((scenario, tree), []).append(cpu)

    def median(self, scenario: str, tree: str) -> float | None:
        values = self.rates.get((scenario, tree))
        return statistics.median(values) if values else None

    def share(self, scenario: str, tree: str) -> float | None:
        """The median over the rounds of the rate as a share of the floor's in the same round."""
        rates, floors = self.rates.get((scenario, tree), []), self.rates.get((FLOOR, tree), [])
        if not floors:  # the floor was not among the chosen --endpoints
            return None
        shares = [rate / bare for rate, bare in zip(rates, floors, strict=True) if bare]
        return statistics.median(shares) if shares else None


def throughput(backend: str, url_for: dict[str, str], trees: list[Tree], args: argparse.Namespace,
               directory: str) -> Table:  # fmt: skip
    """Requests/s of the issue's endpoints and of the floor, checkouts interleaved, ``args.rounds`` rounds."""
    table = Table()
    servers: dict[str, Server] = {}
    floors: dict[str, Server] = {}
    try:
        for tree in trees:
            servers[tree.name] = serve(tree, url_for[tree.name])
        scenarios: dict[str, dict[str, tuple[Server, str, str | None]]] = {}
        for tree in trees:
            ours = servers[tree.name]
            port = ours.port
            token = login(port)
            query_token = quote(token, safe="")
            activities = call(port, "GET", f"/v1/activities?token={query_token}")
            floors[tree.name] = floor(tree, activities, directory)
            listed = json.loads(call(port, "GET", f"/v1/times?token={query_token}&limit=200"))
            month = "user=user3&start=2016-01-01&end=2016-01-31"
            scenarios[tree.name] = {
                f"GET /times (all {SMALL:,})": (ours, f"/v1/times?token={query_token}", None),
                "GET /times one user's month": (ours, f"/v1/times?token={query_token}&{month}", None),
                "GET /times/:uuid": (ours, "/", uuid_script(directory, [t["uuid"] for t in listed], token)),
                "GET /activities": (ours, f"/v1/activities?token={query_token}", None),
                FLOOR: (floors[tree.name], "/v1/activities", None),
                POST: (ours, "/v1/times", post_script(directory, token)),
            }
        # POST /times last: the times it adds would lengthen the lists of later rounds
        chosen = [name for name in scenarios[trees[0].name] if any(word in name for word in args.endpoints)]
        names = [name for name in chosen if name != POST]
        for phase in (names, [POST] if POST in chosen else []):
            if not phase:
                continue
            for round_number in range(args.rounds):
                for name in phase:
                    order = trees if round_number % 2 == 0 else trees[::-1]
                    for tree in order:
                        target, path, script = scenarios[tree.name][name]
                        used = cpu_seconds(target.process.pid)
                        run = wrk(target.port, path, args, script=script)
                        used = cpu_seconds(target.process.pid) - used
                        table.add(name, tree.name, run.rate, used / max(run.requests, 1) * 1e6)
                print(f"  {backend}: round {round_number + 1} of {args.rounds} done", flush=True)
    finally:
        for server in (*servers.values(), *floors.values()):
            server.stop()
    return table


@dataclass
class ListCost:
    backend: str
    stored: int
    tree: str
    p50: float  # seconds per full list, one client
    cpu: float  # seconds of the server processes' CPU per full list
    rss_before: float  # MiB
    rss_growth: float  # MiB, peak minus before, while one client lists again and again
    rss_growth_slow: float  # MiB, with one slow reader
    megabytes: float


def list_cost(backend: str, url: str, tree: Tree, stored: int, args: argparse.Namespace) -> ListCost:
    server = serve(tree, url)
    try:
        path = f"/v1/times?token={quote(login(server.port), safe='')}"
        size = len(call(server.port, "GET", path))  # warm: statement caches, first pages
        before = worker_rss_kib(server.process.pid)
        with RssPeak(server.process.pid) as fast:
            used = cpu_seconds(server.process.pid)
            run = wrk(server.port, path, args, connections=1, duration=max(args.duration, 3))
            used = cpu_seconds(server.process.pid) - used
        with RssPeak(server.process.pid) as slow:
            slow_read(server.port, path)
    finally:
        server.stop()
    return ListCost(backend, stored, tree.name, run.p50, used / max(run.requests, 1), before / 1024,
                    (fast.peak - before) / 1024, (slow.peak - before) / 1024, size / 2**20)  # fmt: skip


def _ratio(after: float | None, before: float | None) -> str:
    return f"x{after / before:.2f}" if after and before else ""


def report_cpu(backend: str, table: Table, trees: list[Tree]) -> None:
    names = [tree.name for tree in trees]
    print(f"\n{backend}: CPU of the server processes per request, µs, median of the rounds"
          + (" (PostgreSQL's own not counted)" if backend == "postgresql" else ""))  # fmt: skip
    print(f"  {'endpoint':<32}" + "".join(f"{name:>10}" for name in names)
          + (f"{'after/before':>14}" if len(trees) > 1 else ""))  # fmt: skip
    for scenario in dict.fromkeys(key[0] for key in table.cpu):
        costs = [statistics.median(table.cpu[scenario, name]) for name in names]
        line = f"  {scenario:<32}" + "".join(f"{cost:>10.0f}" for cost in costs)
        if len(trees) > 1:
            line += f"{_ratio(costs[-1], costs[0]):>14}"
        print(line)


def report(backend: str, table: Table, trees: list[Tree]) -> None:
    names = [tree.name for tree in trees]
    print(f"\n{backend}: requests/s, median of the rounds (8 connections)")
    header = f"  {'endpoint':<32}" + "".join(f"{name:>10}" for name in names)
    header += f"{'after/before':>14}" if len(trees) > 1 else ""
    header += "".join(f"{'% floor ' + name:>16}" for name in names)
    print(header)
    for scenario in dict.fromkeys(key[0] for key in table.rates):
        rates = [table.median(scenario, name) for name in names]
        line = f"  {scenario:<32}" + "".join(f"{rate or 0:>10.0f}" for rate in rates)
        if len(trees) > 1:
            line += f"{_ratio(rates[-1], rates[0]):>14}"
        if scenario != FLOOR:
            for name in names:
                share = table.share(scenario, name)
                line += f"{100 * share:>15.0f}%" if share is not None else f"{'':>16}"
        print(line)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline-src", help="another checkout's src directory, measured in the same run")
    parser.add_argument("--baseline-without", default="uvloop,httptools", metavar="MODULES",
                        help="modules the baseline runs without (default: uvloop,httptools)")  # fmt: skip
    parser.add_argument("--postgres-url", default=os.environ.get("TIMESYNC_BENCH_POSTGRES_URL"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=4, help="seconds of each wrk run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk's threads")
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000],
                        help="stored times for the per-entry cost of the full list")  # fmt: skip
    parser.add_argument("--endpoints", nargs="*", default=[""], metavar="WORD",
                        help="only the endpoints whose names contain one of these words")  # fmt: skip
    parser.add_argument("--floor", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--load", nargs=2, metavar=("URL", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor is not None:
        run_floor(args.floor)
        return 0
    if args.load is not None:
        load(args.load[0], int(args.load[1]))
        return 0
    if shutil.which("wrk") is None:
        print(
            "bench/server.py needs wrk, an HTTP load tool in C (Debian: apt-get install wrk)", file=sys.stderr
        )
        return 2
    backends = ["sqlite"] + (["postgresql"] if args.postgres_url else [])
    costs: list[ListCost] = []
    tables: dict[str, Table] = {}
    with tempfile.TemporaryDirectory(prefix="timesync-bench-") as directory:
        hidden = hide([m for m in args.baseline_without.split(",") if m], directory)
        trees = [Tree("after", SOURCE)]
        if args.baseline_src:
            trees.insert(0, Tree("before", args.baseline_src, hidden))
        for backend in backends:
            with contextlib.ExitStack() as stack:
                urls = {
                    tree.name: stack.enter_context(database(backend, args.postgres_url)) for tree in trees
                }
                print(f"{backend}: loading {SMALL:,} times for each checkout ...", flush=True)
                for tree in trees:
                    tree.run("--load", urls[tree.name], str(SMALL))
                tables[backend] = throughput(backend, urls, trees, args, directory)
            for stored in args.sizes:
                for tree in trees:
                    with database(backend, args.postgres_url) as url:
                        print(f"{backend}: {stored:,} times, {tree.name} ...", flush=True)
                        tree.run("--load", url, str(stored))
                        costs.append(list_cost(backend, url, tree, stored, args))
    for backend in backends:
        report(backend, tables[backend], trees)
        report_cpu(backend, tables[backend], trees)
    if costs:
        print(
            "\nthe full GET /times, one connection: median latency and server CPU, per list and per entry,"
            " workers' RSS"
        )
        print(f"  {'backend':<11}{'stored':>8} {'tree':<8}{'p50 ms':>9}{'us/entry':>10}{'CPU ms':>9}"
              f"{'CPU us/entry':>13}{'RSS MiB':>9}"
              f"{'+MiB fast':>11}{'+MiB slow':>11}{'JSON MiB':>10}")  # fmt: skip
        for cost in costs:
            print(f"  {cost.backend:<11}{cost.stored:>8} {cost.tree:<8}{cost.p50 * 1000:>9.1f}"
                  f"{cost.p50 / cost.stored * 1e6:>10.2f}{cost.cpu * 1000:>9.1f}"
                  f"{cost.cpu / cost.stored * 1e6:>13.2f}"
                  f"{cost.rss_before:>9.1f}{cost.rss_growth:>+11.1f}"
                  f"{cost.rss_growth_slow:>+11.1f}{cost.megabytes:>10.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
