"""Server time of the web page's heaviest pages, on SQLite and PostgreSQL.

A user with 10,000 entries over one year, among 100,000 entries site-wide (20 users, 8 projects,
3 activities, one or two activities per entry). Measured per page: the week page and the one-year
report (page and its two charts) of that user, and the site-wide one-year report of an admin. The
app is driven in process through ASGI (no socket, no client), so the times are the server's own:
routing, session, caller, database, rendering. Memory: the peak traced allocation of one request,
at 10,000 and at 100,000 stored entries (flat means the report does not load rows into Python).

    uv run python bench/web.py [--rounds 30] [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]

Targets (issue 9): week page under 20 ms, the 100,000-entry report under 500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import random
import statistics
import sys
import time
import tracemalloc
import uuid as uuid_module
from typing import Any

import sqlalchemy as sa

from pymesync.server import schema, storage
from pymesync.server.app import create_app
from pymesync.server.context import Config
from pymesync.web import session
from server import database  # the same throwaway SQLite file or PostgreSQL database

YEAR = datetime.date(2025, 1, 1)
DAY_MS = 86_400_000
USERS = 20
PROJECTS = 8


def load(url: str, total: int, mine: int) -> None:
    """``mine`` entries of user0 and ``total - mine`` of the others, spread over 2025."""
    engine = storage.create_engine(url)
    storage.create_schema(engine)
    now = storage.now_ms()
    rng = random.Random(9)
    with storage.transaction(engine, write=True) as conn:
        storage.insert_user(
            conn, "admin", "pw", site_admin=True, site_manager=True, site_spectator=True, bcrypt_rounds=4
        )
        for number in range(USERS):
            storage.insert_user(conn, f"user{number}", "pw", bcrypt_rounds=4)
        user_ids = {row.username: row.id for row in conn.execute(sa.select(schema.users))}
        activity_ids = []
        for slug in ("dev", "docs", "qa"):
            statement = sa.insert(schema.activities).values(
                name=slug, slug=slug, uuid=str(uuid_module.uuid4()), created_at=now, newest=True
            )
            activity_ids.append(conn.execute(statement).inserted_primary_key[0])
        projects = []
        for number in range(PROJECTS):
            project_uuid = str(uuid_module.uuid4())
            statement = sa.insert(schema.projects).values(
                name=f"Project {number}", uuid=project_uuid, created_at=now, newest=True
            )
            project_id = conn.execute(statement).inserted_primary_key[0]
            conn.execute(sa.insert(schema.projectslugs).values(name=f"p{number}", project=project_id))
            conn.execute(
                sa.insert(schema.userroles),
                [{"project": project_id, "user": uid, "member": True} for uid in user_ids.values()],
            )
            projects.append(project_uuid)
    others = [user_ids[f"user{n}"] for n in range(1, USERS)]
    batch, written = 5000, 0
    while written < total:
        size = min(batch, total - written)
        with storage.transaction(engine, write=True) as conn:
            first = conn.execute(sa.select(sa.func.coalesce(sa.func.max(schema.times.c.id), 0))).scalar_one()
            rows = [
                {
                    "id": first + offset + 1,
                    "duration": rng.randrange(900, 14400),
                    "user": user_ids["user0"] if written + offset < mine else rng.choice(others),
                    "project": rng.choice(projects),
                    "notes": "benchmark entry",
                    "date_worked": storage.date_to_ms(YEAR) + rng.randrange(365) * DAY_MS,
                    "created_at": now,
                    "uuid": str(uuid_module.uuid4()),
                    "revision": 1,
                    "newest": True,
                }
                for offset in range(size)
            ]
            conn.execute(sa.insert(schema.times), rows)
            tags = [{"time": row["id"], "activity": activity_ids[row["id"] % 3]} for row in rows]
            tags += [{"time": row["id"], "activity": activity_ids[2]} for row in rows if row["id"] % 5 == 0]
            conn.execute(sa.insert(schema.timesactivities), tags)
        written += size
    if engine.dialect.name == "postgresql":
        with storage.transaction(engine, write=True) as conn:
            for table in ("times", "timesactivities"):
                conn.exec_driver_sql(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()


class Driver:
    """Calls the ASGI app in process, as a signed-in user (a session cookie made with the app's key)."""

    def __init__(self, app: Any, cookie: str) -> None:
        self.app, self.cookie = app, cookie

    async def get(self, path: str) -> tuple[int, int]:
        target, _, query = path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": target,
            "raw_path": target.encode(),
            "query_string": query.encode(),
            "headers": [(b"host", b"bench"), (b"cookie", f"{session.COOKIE}={self.cookie}".encode())],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 80),
        }
        status, size = 0, 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, size


#: The token secret of the benchmark's app, so that its session cookies can be made here.
SECRET = "bench-secret-" + "x" * 32


def signed_in_cookie(username: str) -> str:
    config = Config(engine=None, secret=SECRET, instance_name="timesync", token_lifetime=1800)  # type: ignore[arg-type]
    return session.encode(config, session.signed_in(username, storage.now_ms() - 1000))


async def measure(driver: Driver, path: str, rounds: int) -> tuple[list[float], int]:
    status, _ = await driver.get(path)  # warm: templates compiled, statements cached
    if status != 200:
        raise RuntimeError(f"{path}: {status}")
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await driver.get(path)
        times.append((time.perf_counter() - started) * 1000)
    tracemalloc.start()
    await driver.get(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return times, peak


PAGES = [
    ("week page (user0)", "user0", "/?week=2025-06-09"),
    ("1-year report (user0)", "user0", "/reports?start=2025-01-01&end=2025-12-31&by=project&then=activity"),
    ("  its day chart", "user0", "/reports/chart/days.svg?start=2025-01-01&end=2025-12-31"),
    ("  its totals chart", "user0", "/reports/chart/totals.svg?start=2025-01-01&end=2025-12-31"),
    (
        "1-year report, site-wide",
        "admin",
        "/reports?start=2025-01-01&end=2025-12-31&by=project&then=activity",
    ),
    ("  its day chart", "admin", "/reports/chart/days.svg?start=2025-01-01&end=2025-12-31"),
]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run(backend: str, postgres_url: str | None, total: int, mine: int, rounds: int) -> dict[str, Any]:
    with database(backend, postgres_url) as url:
        started = time.perf_counter()
        load(url, total, mine)
        loaded = time.perf_counter() - started
        app = create_app(url, create_schema=False, secret=SECRET)
        drivers = {name: Driver(app, signed_in_cookie(name)) for name in ("user0", "admin")}

        async def all_pages() -> dict[str, Any]:
            results = {}
            for label, who, path in PAGES:
                results[label + who] = await measure(drivers[who], path, rounds)
            return results

        results = asyncio.run(all_pages())
    print(f"  ({backend}: {total:,} entries loaded in {loaded:.1f} s)", file=sys.stderr)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--postgres-url", default=os.environ.get("TIMESYNC_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    backends = ["sqlite"] + (["postgresql"] if args.postgres_url else [])
    print(f"server time per page, ms (median / p95 of {args.rounds}); peak traced memory of one request, MiB")
    header = f"{'page':<28}" + "".join(f"{b + ' 10k':>24}{b + ' 100k':>24}" for b in backends)
    print(header)
    table: dict[str, dict[str, tuple[list[float], int]]] = {}
    for backend in backends:
        for total in (10_000, 100_000):
            column = f"{backend} {total // 1000}k"
            table[column] = run(backend, args.postgres_url, total, 10_000, args.rounds)
    for label, who, _path in PAGES:
        cells = []
        for results in table.values():
            times, peak = results[label + who]
            cells.append(f"{statistics.median(times):7.1f} /{p95(times):6.1f} {peak / 2**20:5.1f}M")
        print(f"{label:<28}" + "".join(f"{cell:>24}" for cell in cells))
    print("(10k: user0's 10,000 entries are all there is; 100k: the same user among 100,000 entries)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
