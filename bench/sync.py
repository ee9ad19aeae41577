"""``timesync report`` for a year of one user's entries, from the local copy, against a full download.

Run by hand (``uv run python bench/sync.py [--entries 50000] [--own N]``). The server holds ``--entries``
times, ``--own`` of them (default: all) alice's, spread over 2025. Prints medians of real processes:

* ``timesync --help`` (the command line's start-up);
* a full download of the year (``Client.times.list(user=..., start=..., end=...)`` in a fresh process:
  what ``report`` did before the local copy);
* ``timesync report --period 2025``: cold (empty local copy: the first sync reads the feed in full),
  warm with nothing changed, and warm after a few changes by someone else.
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from pymesync import Client
from pymesync.server import schema, storage
from pymesync.server.testing import create_user, serve

RUNS = 11
_SCRIPT = Path(sys.executable).with_name("timesync")
TIMESYNC = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "pymesync.cli"]
YEAR = 2025
DOWNLOAD = r"""
import sys
from pymesync import Client
with Client(sys.argv[1], username="alice", password="alicepass") as client:
    print(len(client.times.list(user="alice", start="2025-01-01", end="2025-12-31")))
"""


def _seconds(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def seed(database_url: str, entries: int, own: int) -> None:
    """``entries`` times straight into the database (the triggers record them as any writer's)."""
    engine = storage.create_engine(database_url)
    times, timesactivities = schema.times, schema.timesactivities
    rng = random.Random(7)
    first = storage.date_to_ms(datetime.date(YEAR, 1, 1))
    try:
        with storage.transaction(engine, write=True) as connection:
            ids = dict(connection.execute(sa.select(schema.users.c.username, schema.users.c.id)).all())
            project = connection.execute(sa.select(schema.projects.c.uuid)).scalar_one()
            activity = connection.execute(sa.select(schema.activities.c.id)).scalar_one()
            rows = [
                {
                    "duration": rng.choice((900, 1800, 3600, 5400)),
                    "user": ids["alice"] if n < own else ids["bob"],
                    "project": project,
                    "notes": f"entry {n}",
                    "date_worked": first + rng.randrange(365) * 86_400_000,
                    "created_at": first,
                    "uuid": str(uuid.uuid4()),
                    "revision": 1,
                    "newest": True,
                }
                for n in range(entries)
            ]
            connection.execute(sa.insert(times), rows)
            new = connection.execute(sa.select(times.c.id)).scalars().all()
            connection.execute(sa.insert(timesactivities), [{"time": i, "activity": activity} for i in new])
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--own", type=int, default=None, help="alice's share (default: all)")
    args = parser.parse_args()
    own = args.entries if args.own is None else args.own
    import pymesync

    compileall.compile_dir(Path(pymesync.__file__).parent, quiet=1)  # as pip install does
    home = tempfile.mkdtemp(prefix="timesync-bench-")
    env = {
        **os.environ,
        "TIMESYNC_CONFIG_DIR": home,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    report = [*TIMESYNC, "report", "--period", str(YEAR)]
    with serve() as server:
        for name in ("alice", "bob"):
            create_user(server.database_url, name, f"{name}pass")
        with Client(server.base_url, username="admin", password="adminpass") as admin:
            admin.activities.create(name="Development", slug="dev")
            member = {"member": True, "spectator": False, "manager": False}
            users = {"alice": member, "bob": member}
            admin.projects.create(name="GWM", slugs=["gwm"], default_activity="dev", users=users)
        seed(server.database_url, args.entries, own)
        login = [*TIMESYNC, "login", "--server", server.base_url, "--user", "alice", "--password-stdin"]
        subprocess.run(login, env=env, input=b"alicepass\n", check=True, capture_output=True)
        cache = Path(home) / "cache"
        cold = []
        for _ in range(3):
            for path in cache.glob("entries-*"):
                path.unlink()
            cold.append(_seconds(report, env))
        helped, warmed, downloads = [], [], []
        for round_ in range(RUNS):  # taking turns, so a passing load weighs on all alike
            helped.append(_seconds([*TIMESYNC, "--help"], env))
            warmed.append(_seconds(report, env))
            if round_ % 4 == 0:
                downloads.append(_seconds([sys.executable, "-c", DOWNLOAD, server.base_url], env))
        startup, warm = statistics.median(helped) * 1000, statistics.median(warmed) * 1000
        download = statistics.median(downloads) * 1000
        changed = []
        with Client(server.base_url, username="alice", password="alicepass") as alice:
            for n in range(RUNS):
                for day in (3, 4, 5):
                    alice.times.create(
                        duration=600, project="gwm", date_worked=f"{YEAR}-02-0{day}", notes=f"n{n}"
                    )
                changed.append(_seconds(report, env))
    shutil.rmtree(home, ignore_errors=True)
    few = statistics.median(changed) * 1000
    print(f"{args.entries} times on the server, {own} of them alice's in {YEAR}")
    print(f"timesync --help                     {startup:8.1f} ms")
    print(f"full download of the year           {download:8.1f} ms")
    print(f"report, cold (first sync)           {statistics.median(cold) * 1000:8.1f} ms")
    print(
        f"report, warm, nothing changed       {warm:8.1f} ms   "
        f"({download / warm:.1f}x faster than the download; {warm / startup:.2f}x start-up)"
    )
    print(
        f"report, warm, 3 entries changed     {few:8.1f} ms   "
        f"({download / few:.1f}x faster than the download; {few / startup:.2f}x start-up)"
    )


if __name__ == "__main__":
    main()
