"""Benchmark the legacy ``pymesync.TimeSync`` against upstream pymesync 0.2.0 and a raw HTTP floor.

All three clients talk to the project's own TimeSync server (a subprocess on loopback) and do the same
work: ``get_times({"project": ...})`` on a fixed set of five times, and ``create_time`` with the same
object. Rounds alternate the clients so that server warm-up and database growth hit them alike.

- ours: ``pymesync.TimeSync`` in this process;
- upstream: pymesync 0.2.0 (requests, one connection per call) in its own venv, as a worker subprocess;
- floor: one kept-alive ``http.client`` connection sending the same bytes.

Also compares ``python -X importtime -c "import pymesync"`` for ours and upstream.

Upstream's venv (``.venvs/upstream``) is created when missing: see ``bench/_upstream.py``.
Run: ``.venv/bin/python bench/legacy_client.py [--calls 200] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit

import _upstream
import pymesync

GET_PROJECT = "bench-get"
PUT_PROJECT = "bench-put"
ACTIVITY = "bench-act"

SERVER_SCRIPT = textwrap.dedent(
    """
    import sys
    from pymesync.server.testing import serve
    with serve() as srv:
        print(srv.base_url, flush=True)
        sys.stdin.read()
    """
)

# Runs under upstream's python: reads "<op> <calls>" lines, answers with per-call nanoseconds as JSON.
UPSTREAM_WORKER = textwrap.dedent(
    """
    import json, sys, time
    import pymesync
    base_url, token, get_project, put_time = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    ts = pymesync.TimeSync(base_url, token=token)
    for line in sys.stdin:
        op, calls = line.split()
        timings = []
        for _ in range(int(calls)):
            started = time.perf_counter_ns()
            if op == "get":
                result = ts.get_times({"project": [get_project]})
                assert len(result) == 5, result
            else:
                result = ts.create_time(dict(put_time))
                assert "uuid" in result, result
            timings.append(time.perf_counter_ns() - started)
        print(json.dumps(timings), flush=True)
    """
)


def new_time() -> dict[str, object]:
    return {
        "duration": 1800,
        "project": PUT_PROJECT,
        "user": "admin",
        "activities": [ACTIVITY],
        "notes": "benchmark",
        "issue_uri": "https://example.org/issues/1",
        "date_worked": "2016-04-01",
    }


def start_server() -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def seed(ts: pymesync.TimeSync) -> None:
    assert "uuid" in ts.create_activity({"name": "Bench activity", "slug": ACTIVITY})
    members = {"admin": {"member": True, "spectator": False, "manager": True}}
    for slug in (GET_PROJECT, PUT_PROJECT):
        assert "uuid" in ts.create_project({"name": f"Project {slug}", "slugs": [slug], "users": members})
    for _ in range(5):
        assert "uuid" in ts.create_time({**new_time(), "project": GET_PROJECT})


class Floor:
    """The same requests over one kept-alive ``http.client`` connection: what any client must pay."""

    def __init__(self, base_url: str, token: str) -> None:
        split = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(split.hostname, split.port)
        self.prefix = split.path
        self.get_target = f"{self.prefix}/times?project={GET_PROJECT}&token={quote(token, safe='')}"
        self.token = token

    def reconnect(self) -> None:
        """The server drops connections idle for 5 s (uvicorn's keep-alive), as between rounds."""
        self.connection.close()

    def get(self) -> None:
        self.connection.request("GET", self.get_target, headers={"Accept": "application/json"})
        result = json.loads(self.connection.getresponse().read())
        assert len(result) == 5

    def create(self) -> None:
        body = json.dumps({"auth": {"type": "token", "token": self.token}, "object": new_time()})
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        self.connection.request("POST", f"{self.prefix}/times", body=body, headers=headers)
        assert "uuid" in json.loads(self.connection.getresponse().read())


def timed(call: Callable[[], object], calls: int) -> list[int]:
    timings = []
    for _ in range(calls):
        started = time.perf_counter_ns()
        call()
        timings.append(time.perf_counter_ns() - started)
    return timings


def ours_get(ts: pymesync.TimeSync) -> Callable[[], None]:
    def call() -> None:
        assert len(ts.get_times({"project": [GET_PROJECT]})) == 5

    return call


def ours_create(ts: pymesync.TimeSync) -> Callable[[], None]:
    def call() -> None:
        assert "uuid" in ts.create_time(new_time())

    return call


def import_time_us(python: Path | str, runs: int = 7) -> float:
    """Median cumulative microseconds of ``import pymesync`` as reported by ``-X importtime``."""
    totals = []
    for _ in range(runs):
        stderr = subprocess.run(
            [str(python), "-X", "importtime", "-c", "import pymesync"],
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        for line in stderr.splitlines():
            fields = [field.strip() for field in line.removeprefix("import time:").split("|")]
            if len(fields) == 3 and fields[2] == "pymesync":
                totals.append(int(fields[1]))
    return statistics.median(totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per client, operation and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    upstream_python = _upstream.ensure_python()

    server, base_url = start_server()
    upstream = None
    try:
        ts = pymesync.TimeSync(base_url)
        token = ts.authenticate("admin", "adminpass", "password")["token"]
        seed(ts)
        floor = Floor(base_url, token)
        upstream = subprocess.Popen(
            [
                str(upstream_python),
                "-c",
                UPSTREAM_WORKER,
                base_url,
                token,
                GET_PROJECT,
                json.dumps(new_time()),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert upstream.stdin is not None and upstream.stdout is not None

        def upstream_run(op: str) -> list[int]:
            assert upstream is not None and upstream.stdin is not None and upstream.stdout is not None
            upstream.stdin.write(f"{op} {args.calls}\n")
            upstream.stdin.flush()
            return list(json.loads(upstream.stdout.readline()))

        clients: dict[str, dict[str, Callable[[], list[int]]]] = {
            "floor": {
                "get": lambda: (floor.reconnect(), timed(floor.get, args.calls))[1],
                "create": lambda: (floor.reconnect(), timed(floor.create, args.calls))[1],
            },
            "ours": {
                "get": lambda: timed(ours_get(ts), args.calls),
                "create": lambda: timed(ours_create(ts), args.calls),
            },
            "upstream": {"get": lambda: upstream_run("get"), "create": lambda: upstream_run("create")},
        }
        samples: dict[tuple[str, str], list[int]] = {(c, op): [] for c in clients for op in ("get", "create")}
        for client in clients:  # warm-up, not measured
            for op in ("get", "create"):
                clients[client][op]()
        names = list(clients)
        for round_number in range(args.rounds):
            order = names[round_number % 3 :] + names[: round_number % 3]
            for client in order:
                for op in ("get", "create"):
                    samples[client, op].extend(clients[client][op]())
    finally:
        if upstream is not None and upstream.stdin is not None:
            upstream.stdin.close()
            upstream.wait(timeout=10)
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=20)

    print(f"{args.rounds} rounds x {args.calls} calls per client and operation, loopback, median per call")
    for op, label in (("get", "get_times()"), ("create", "create_time()")):
        medians = {client: statistics.median(samples[client, op]) / 1000 for client in clients}
        print(f"\n{label}")
        for client, median in medians.items():
            print(f"  {client:9} {median:9.1f} µs")
        print(f"  ours / floor     = {medians['ours'] / medians['floor']:.2f}x  (target <= 1.3x)")
        print(f"  upstream / ours  = {medians['upstream'] / medians['ours']:.2f}x  (target >= 1.5x)")

    ours_import = import_time_us(sys.executable)
    upstream_import = import_time_us(upstream_python)
    print("\nimport pymesync (cumulative, median of 7)")
    print(f"  ours      {ours_import:9.0f} µs")
    print(f"  upstream  {upstream_import:9.0f} µs")
    print(f"  ours / upstream  = {ours_import / upstream_import:.2f}  (target <= 0.5)")


if __name__ == "__main__":
    main()
