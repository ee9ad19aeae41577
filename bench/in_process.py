"""Per-request cost of the small reads inside the process: the ASGI app called directly, no network.

uvicorn, the loopback and the load tool are left out, so what remains is the app's own work per
request, timed as CPU time of the process (a PostgreSQL server's not counted), which the other load on
a shared machine hardly moves. Beside it runs the floor: a bare Starlette endpoint returning the bytes
of ``GET /v1/activities``.

Beside the small reads it times the changes feed as a warm ``timesync report`` asks it: nothing
changed since the token, and three times changed since it (``bench/feed.py`` measures the same over
a socket).

Each checkout (this one, and with ``--baseline-src`` another checkout's ``src``) runs in its own
process on its own SQLite database holding the same 1,000 times (``bench/server.py``'s data); the
checkouts alternate for several rounds, and the table shows medians of µs per request.

    python bench/in_process.py
    python bench/in_process.py --baseline-src /tmp/before/src --rounds 5
    python bench/in_process.py --profile "GET /activities"     # cProfile of one endpoint, this checkout
    python bench/in_process.py --postgres-url postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

BENCH = Path(__file__).resolve().parent
SOURCE = str(BENCH.parent / "src")
FLOOR = "floor: bare GET /activities"
MONTH = "user=user3&start=2016-01-01&end=2016-01-31"
#: Lists cost more per request: they are called this many times fewer.
FEWER = {"GET /times one user's month": 20, "GET /times (all 1,000)": 200}

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def call(
    app: App, method: str, path: str, query: bytes = b"", body: bytes = b""
) -> list[dict[str, Any]]:
    """One request through the ASGI interface; the messages the app sent."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"),
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }  # fmt: skip

    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:  # as a server does: nothing more until the client goes (streaming waits for it)
            await asyncio.Event().wait()
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def _body(messages: list[dict[str, Any]]) -> bytes:
    bodies = (message for message in messages if message["type"] == "http.response.body")
    return b"".join(message.get("body", b"") for message in bodies)


async def scenarios(url: str) -> dict[str, tuple[App, str, bytes]]:
    """The endpoints to time: name -> (app, path, query string)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from pymesync.server.app import create_app
    from server import ADMIN, PASSWORD, load  # bench/server.py's data, with this checkout's schema

    load(url, 1000)
    app = create_app(url)
    auth = {"auth": {"type": "password", "username": ADMIN, "password": PASSWORD}}
    token = json.loads(_body(await call(app, "POST", "/v1/login", body=json.dumps(auth).encode())))["token"]
    query = f"token={quote(token, safe='')}".encode()
    activities = _body(await call(app, "GET", "/v1/activities", query))
    listed = json.loads(_body(await call(app, "GET", "/v1/times", query + b"&limit=1")))

    feed = await feed_queries(app, token, query)

    async def bare(_request: Request) -> Response:
        return Response(activities, media_type="application/json")

    floor = Starlette(routes=[Route("/v1/activities", bare)])
    return {
        FLOOR: (floor, "/v1/activities", b""),
        "GET /activities": (app, "/v1/activities", query),
        "GET /activities/:slug": (app, "/v1/activities/dev", query),
        "GET /times/:uuid": (app, f"/v1/times/{listed[0]['uuid']}", query),
        "GET /times one user's month": (app, "/v1/times", query + b"&" + MONTH.encode()),
        "GET /times (all 1,000)": (app, "/v1/times", query),
        **{name: (app, path, feed_query) for name, (path, feed_query) in feed.items()},
    }


async def feed_queries(app: App, token: str, query: bytes) -> dict[str, tuple[str, bytes]]:
    """The changes feed as a warm ``timesync report`` asks it: nothing changed since the token, and
    three times changed since it (changed here, after the token was taken)."""

    async def feed(collection: str, since: str | None = None) -> dict[str, Any]:
        extra = b"" if since is None else b"&since=" + quote(since, safe="").encode()
        return json.loads(_body(await call(app, "GET", f"/v1/changes/{collection}", query + extra)))  # type: ignore[no-any-return]

    before = await feed("times")
    for number, item in enumerate(before["changed"][:3]):
        update = {"auth": {"type": "token", "token": token}, "object": {"notes": f"changed {number}"}}
        await call(app, "POST", f"/v1/times/{item['uuid']}", body=json.dumps(update).encode())
    times_now = await feed("times", before["next"])
    projects_now = await feed("projects")

    def since(token: str) -> bytes:
        return query + b"&since=" + quote(token, safe="").encode()

    return {
        "GET /changes/projects, none": ("/v1/changes/projects", since(projects_now["next"])),
        "GET /changes/times, none": ("/v1/changes/times", since(times_now["next"])),
        "GET /changes/times, 3 changed": ("/v1/changes/times", since(before["next"])),
    }


async def measure(calls: int, profile: str | None, postgres_url: str | None) -> dict[str, float]:
    """µs per request of each scenario in this process (the checkout on ``sys.path``), on SQLite or,
    with ``postgres_url``, on a new database of that server."""
    sys.path.insert(0, str(BENCH))
    from server import database

    with database("postgresql" if postgres_url else "sqlite", postgres_url) as url:
        found = await scenarios(url)
        timings: dict[str, float] = {}
        for name, (app, path, query) in found.items():
            count = max(calls // FEWER.get(name, 1), 20)
            for _ in range(count // 10):  # warm up: caches, compiled statements
                await call(app, "GET", path, query)
            if profile is not None and name == profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(count):
                    await call(app, "GET", path, query)
                profiler.disable()
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(40)
            started = time.process_time()  # CPU time (all threads): what other processes hardly move
            for _ in range(count):
                await call(app, "GET", path, query)
            timings[name] = (time.process_time() - started) / count * 1e6
        return timings


def run_checkout(source: str, calls: int, postgres_url: str | None) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=source)
    backend = ["--postgres-url", postgres_url] if postgres_url else []
    done = subprocess.run(
        [sys.executable, __file__, "--child", "--calls", str(calls), *backend],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--baseline-src", help="another checkout's src directory, measured in the same run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=4000, help="requests per endpoint and round")
    parser.add_argument("--profile", metavar="ENDPOINT", help="print its cProfile (this checkout)")
    parser.add_argument("--postgres-url", help="a PostgreSQL server to measure on, instead of SQLite")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child or args.profile:
        print(json.dumps(asyncio.run(measure(args.calls, args.profile, args.postgres_url))))
        return
    trees = {"after": SOURCE, **({"before": args.baseline_src} if args.baseline_src else {})}
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    for number in range(args.rounds):
        for name, source in trees.items():
            for endpoint, micros in run_checkout(source, args.calls, args.postgres_url).items():
                samples[name].setdefault(endpoint, []).append(micros)
        print(f"round {number + 1} of {args.rounds} done", file=sys.stderr, flush=True)
    names = list(reversed(trees))
    print(f"{'µs per request (median)':<32}" + "".join(f"{name:>10}{'x floor':>9}" for name in names))
    for endpoint in samples["after"]:
        line = f"{endpoint:<32}"
        for name in names:
            micros = statistics.median(samples[name][endpoint])
            floor = statistics.median(samples[name][FLOOR])
            line += f"{micros:>10.1f}{micros / floor:>9.1f}"
        print(line)


if __name__ == "__main__":
    main()
