"""A tour of pymesync against the embedded TimeSync server.

Starts our own server on a free loopback port with a fresh SQLite database, then uses the legacy
``TimeSync`` interface (what pymesync 0.2 programs call) and the pythonic ``Client`` side by side, and
ends with a weekly report, the ``timesync`` command line and the address of the web page (served until
Ctrl-C when run from a terminal). Run it with ``bash scripts/demo.sh``.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import tempfile
import time

import pymesync
from pymesync.server.testing import serve


def legacy_tour(base_url: str) -> None:
    print("== pymesync.TimeSync (drop-in for pymesync 0.2) ==")
    ts = pymesync.TimeSync(baseurl=base_url)
    print("authenticate ->", sorted(ts.authenticate("admin", "adminpass", "password")))
    print("token expires at", ts.token_expiration_time())
    print("create_activity ->", ts.create_activity({"name": "Documentation", "slug": "docs"})["slug"])
    ts.create_activity({"name": "Development", "slug": "dev"})
    project = ts.create_project(
        {
            "name": "Ganeti Web Manager",
            "slugs": ["gwm", "ganeti"],
            "uri": "https://code.osuosl.org/projects/ganeti-webmgr",
            "default_activity": "dev",
            "users": {"admin": {"member": True, "spectator": True, "manager": True}},
        }
    )
    print("create_project ->", project["name"], project["slugs"])
    created = ts.create_time(
        {
            "duration": "1h30m",
            "user": "admin",
            "project": "gwm",
            "activities": ["docs"],
            "date_worked": datetime.date.today().isoformat(),
            "notes": "Wrote the settings docs",
        }
    )
    print("create_time('1h30m') -> duration", created["duration"], "uuid", created["uuid"])
    print("project_users('gwm') ->", ts.project_users("gwm"))
    print("get_times({'project': 'gwm'}) ->", len(ts.get_times({"project": "gwm"})), "time(s)")
    print("get_projects({'slug': 'nope'}) ->", ts.get_projects({"slug": "nope"}))
    print("create_time({}) ->", ts.create_time({}))
    ts.close()


def client_tour(base_url: str) -> None:
    print("\n== pymesync.Client (typed models, exceptions) ==")
    today = datetime.date.today()
    with pymesync.Client(base_url, username="admin", password="adminpass") as client:
        print("'gwm' in client.projects ->", "gwm" in client.projects)
        print("client.projects['gwm'].name ->", client.projects["gwm"].name)
        entries = (
            {
                "duration": 1800 + 600 * n,
                "user": "admin",
                "project": "gwm",
                "activities": ["dev" if n % 2 else "docs"],
                "date_worked": today - datetime.timedelta(days=n),
            }
            for n in range(10)
        )
        results = list(client.times.create_many(entries, concurrency=4))
        created = sum(result.ok for result in results)
        print("create_many ->", created, "created,", len(results) - created, "failed")
        try:
            client.projects["no-such-project"]
        except pymesync.NotFoundError as exc:
            print("client.projects['no-such-project'] raised NotFoundError:", exc)
        week_ago = today - datetime.timedelta(days=6)
        print(f"\nTime logged {week_ago} .. {today}, by activity:")
        for row in client.times.summary(week_ago, today, by=("activity",)).rows:
            print(f"  {row.group[0]!s:<8} {row.duration}")


def cli_tour(base_url: str) -> None:
    """The timesync command line, run as a person would (its files in a throwaway directory)."""
    print("\n== timesync (the command line) ==", flush=True)
    with tempfile.TemporaryDirectory(prefix="timesync-demo-") as home:
        env = {
            **os.environ,
            "TIMESYNC_CONFIG_DIR": home,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        }
        for args in (
            ["login", "--server", base_url, "--user", "admin", "--password-stdin"],
            ["log", "1h30m", "gwm", "docs", "-m", "Reviewed the installer"],
            ["log", "45", "gwm"],  # refused: minutes or hours?
            ["ls", "--week", "-f", "table"],
            ["report", "--week", "--by", "activity", "--chart", "-f", "table"],
        ):
            print("$ timesync", " ".join(args), flush=True)
            done = subprocess.run(
                [sys.executable, "-m", "pymesync.cli", *args],
                env=env,
                input="adminpass\n",
                text=True,
                capture_output=True,
            )
            print(
                done.stdout + done.stderr + (f"(exit {done.returncode})\n" if done.returncode else ""), end=""
            )


def main() -> None:
    with serve() as server:
        print(f"TimeSync server running at {server.base_url} (fresh SQLite database)\n")
        legacy_tour(server.base_url)
        client_tour(server.base_url)
        cli_tour(server.base_url)
        print(f"\n== the web page ==\nWeb page: {server.root_url}/  (sign in as admin, password adminpass)")
        if sys.stdin.isatty():  # a person is watching: keep serving until they are done
            print("Press Ctrl-C to stop the server.", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                print()


if __name__ == "__main__":
    main()
