"""Round trip of the changes feed when little or nothing changed, beside ``GET /activities/:slug``.

A warm ``timesync report`` asks ``GET /v1/changes/projects?since=T`` and ``GET /v1/changes/times?since=T``
on every run, and they nearly always answer "nothing changed" or a few changes. This measures them
as the command line meets them: one kept-alive connection to ``timesync-server serve`` (its default
settings), one request at a time, the median round trip; and the CPU time of the server processes
per request, which the machine's other load hardly moves.

Each checkout (this one, and with ``--baseline-src`` another checkout's ``src``) serves its own
database holding ``bench/server.py``'s 1,000 times (``--times``); a token is taken, three times are
changed, and the tokens after that are taken. The checkouts alternate for several rounds; the table
shows medians and each request's ratio to ``GET /activities/:slug`` of the same checkout.

    python bench/feed.py --baseline-src /tmp/before/src
    python bench/feed.py --baseline-src /tmp/before/src --postgres-url postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import statistics
import sys
import time
from urllib.parse import quote

from server import SMALL, Server, Tree, cpu_seconds, database, login, serve

SOURCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
REFERENCE = "GET /activities/:slug"
CHANGES = 3


class Connection:
    """One kept-alive HTTP/1.1 connection, as the command line's transport keeps one."""

    def __init__(self, port: int) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str) -> bytes:
        self.http.request("GET", path)
        response = self.http.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path.split('?')[0]}: {response.status} {body[:200]!r}")
        return body

    def post(self, path: str, body: object) -> bytes:
        self.http.request(
            "POST", path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        response = self.http.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST {path}: {response.status} {payload[:200]!r}")
        return payload

    def close(self) -> None:
        self.http.close()


def requests_for(port: int) -> dict[str, str]:
    """The paths to time, after taking the tokens and changing :data:`CHANGES` times."""
    token = login(port)
    auth = f"token={quote(token, safe='')}"
    connection = Connection(port)
    try:
        before = json.loads(connection.get(f"/v1/changes/times?{auth}"))
        while before["more"]:
            before = json.loads(connection.get(f"/v1/changes/times?since={quote(before['next'])}&{auth}"))
        changed = json.loads(connection.get(f"/v1/times?limit={CHANGES}&{auth}"))
        for number, item in enumerate(changed):
            update = {"auth": {"type": "token", "token": token}, "object": {"notes": f"changed {number}"}}
            connection.post(f"/v1/times/{item['uuid']}", update)
        times_now = json.loads(connection.get(f"/v1/changes/times?since={quote(before['next'])}&{auth}"))
        assert len(times_now["changed"]) == CHANGES, times_now
        projects_now = json.loads(connection.get(f"/v1/changes/projects?{auth}"))
    finally:
        connection.close()

    def since(collection: str, token: str) -> str:
        return f"/v1/changes/{collection}?since={quote(token)}&{auth}"

    return {
        REFERENCE: f"/v1/activities/dev?{auth}",
        "GET /changes/projects, nothing changed": since("projects", projects_now["next"]),
        "GET /changes/times, nothing changed": since("times", times_now["next"]),
        f"GET /changes/times, {CHANGES} changes": since("times", before["next"]),
    }


def measure(server: Server, paths: dict[str, str], calls: int) -> dict[str, tuple[float, float]]:
    """Per request: (median round trip, server CPU), in µs."""
    connection = Connection(server.port)
    found: dict[str, tuple[float, float]] = {}
    try:
        for name, path in paths.items():
            for _ in range(calls // 10):
                connection.get(path)
            durations = []
            cpu = cpu_seconds(server.process.pid)
            for _ in range(calls):
                started = time.perf_counter()
                connection.get(path)
                durations.append(time.perf_counter() - started)
            cpu = cpu_seconds(server.process.pid) - cpu
            found[name] = (statistics.median(durations) * 1e6, cpu / calls * 1e6)
    finally:
        connection.close()
    return found


def report(backend: str, names: list[str], samples: dict[str, dict[str, list[tuple[float, float]]]]) -> None:
    print(f"\n{backend}: µs per request, medians; (x) = ratio to {REFERENCE} of the same checkout")
    columns = "".join(f"{f'{name} round trip':>26}{f'{name} CPU':>20}" for name in names)
    print(f"{'':<40}{columns}")
    for request in samples[names[-1]]:
        line = f"{request:<40}"
        for name in names:
            trip = statistics.median(sample[0] for sample in samples[name][request])
            cpu = statistics.median(sample[1] for sample in samples[name][request])
            trip_reference = statistics.median(sample[0] for sample in samples[name][REFERENCE])
            cpu_reference = statistics.median(sample[1] for sample in samples[name][REFERENCE])
            line += f"{trip:>17.0f} (x{trip / trip_reference:.2f}){cpu:>11.0f} (x{cpu / cpu_reference:.2f})"
        print(line)


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--baseline-src", help="another checkout's src directory, measured in the same run")
    parser.add_argument("--postgres-url", default=os.environ.get("TIMESYNC_BENCH_POSTGRES_URL"))
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=400, help="requests per request kind and round")
    parser.add_argument("--times", type=int, default=SMALL, help="stored times (the log holds two rows each)")
    args = parser.parse_args()
    backends = ([] if args.no_sqlite else ["sqlite"]) + (["postgresql"] if args.postgres_url else [])
    trees = [Tree("after", SOURCE)]
    if args.baseline_src:
        trees.insert(0, Tree("before", args.baseline_src))
    for backend in backends:
        samples: dict[str, dict[str, list[tuple[float, float]]]] = {tree.name: {} for tree in trees}
        with contextlib.ExitStack() as stack:
            servers: dict[str, tuple[Server, dict[str, str]]] = {}
            for tree in trees:
                url = stack.enter_context(database(backend, args.postgres_url))
                tree.run("--load", url, str(args.times))
                server = serve(tree, url)
                stack.callback(server.stop)
                servers[tree.name] = (server, requests_for(server.port))
            for number in range(args.rounds):
                for tree in trees:
                    server, paths = servers[tree.name]
                    for request, sample in measure(server, paths, args.calls).items():
                        samples[tree.name].setdefault(request, []).append(sample)
                print(f"{backend}: round {number + 1} of {args.rounds} done", file=sys.stderr, flush=True)
        report(backend, [tree.name for tree in trees], samples)


if __name__ == "__main__":
    main()
