"""How fast ``timesync`` feels: start-up, and ``log``/``today`` against a minimal http.client script.

Run by hand (``uv run python bench/cli.py``); prints medians of repeated runs of real processes:

* ``timesync --help`` against ``python -c pass`` (target: within 60 ms);
* ``timesync log 1h gwm`` and ``timesync today`` against a script making the requests those commands need
  with ``http.client`` and nothing else (target: within 1.5x). The script logs with ``POST /times`` and
  gets the day's entries (and so the total) with ``GET /times?user=&start=&end=``. ``timesync log`` sends
  as many: the changes feed of times since its last sync (the outbox reconciles the local copy before it
  sends, and the day's total comes from that copy), then ``POST /times``; the project comes from the
  catalogue it keeps for five minutes and what the server offers from the answer it keeps for a day.
  ``timesync today`` sends one more than the script: the projects' feed (so renamed projects show their
  new slugs) and the times' feed.

``timesync`` is the installed console script when there is one (what people run), else
``python -m pymesync.cli``.

Bytecode is compiled first, as ``pip install`` does (this environment sets PYTHONDONTWRITEBYTECODE). The
two sides of each comparison run alternately, so a load that comes and goes weighs on both alike.
"""

from __future__ import annotations

import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pymesync import Client
from pymesync.server.testing import create_user, serve

RUNS = 21
_SCRIPT = Path(sys.executable).with_name("timesync")
TIMESYNC = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "pymesync.cli"]

RAW = r"""
import datetime, http.client, json, sys
url, token, mode = sys.argv[1], sys.argv[2], sys.argv[3]
host, port = url.split("//")[1].split("/")[0].split(":")
conn = http.client.HTTPConnection(host, int(port))
def call(method, path, body=None):
    conn.request(method, "/v1/" + path + ("&" if "?" in path else "?") + "token=" + token,
                 body=None if body is None else json.dumps(body),
                 headers={"Content-Type": "application/json"})
    return json.loads(conn.getresponse().read())
today = datetime.date.today().isoformat()
if mode == "log":
    call("POST", "times", {"duration": 3600, "project": "gwm", "user": "alice", "date_worked": today})
call("GET", f"times?user=alice&start={today}&end={today}")
"""


def _seconds(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def medians_ms(commands: list[list[str]], env: dict[str, str]) -> list[tuple[float, float]]:
    """The median wall-clock and CPU milliseconds of each command over RUNS rounds, the commands taking
    turns within a round. CPU time (the process's own, not the server's) moves less with the machine's
    load than wall-clock time does, so it is printed beside it."""
    times: list[list[tuple[float, float]]] = [[] for _ in commands]
    for _ in range(RUNS):
        for command, taken in zip(commands, times, strict=True):
            taken.append(_seconds(command, env))
    return [
        (statistics.median(w for w, _ in taken) * 1000, statistics.median(c for _, c in taken) * 1000)
        for taken in times
    ]


def main() -> None:
    import pymesync

    compileall.compile_dir(Path(pymesync.__file__).parent, quiet=1)
    home = tempfile.mkdtemp(prefix="timesync-bench-")
    env = {
        **os.environ,
        "TIMESYNC_CONFIG_DIR": home,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    (baseline, base_cpu), (helped, help_cpu) = medians_ms(
        [[sys.executable, "-c", "pass"], [*TIMESYNC, "--help"]], env
    )
    print(f"python -c pass        {baseline:7.1f} ms   cpu {base_cpu:6.1f} ms")
    print(
        f"timesync --help       {helped:7.1f} ms   cpu {help_cpu:6.1f} ms"
        f"   (+{helped - baseline:.1f} ms; target +60 ms)"
    )
    with serve() as server:
        create_user(server.database_url, "alice", "alicepass")
        with Client(server.base_url, username="admin", password="adminpass") as admin:
            admin.activities.create(name="Development", slug="dev")
            member = {"member": True, "spectator": False, "manager": False}
            admin.projects.create(name="GWM", slugs=["gwm"], default_activity="dev", users={"alice": member})
        subprocess.run(
            [*TIMESYNC, "login", "--server", server.base_url, "--user", "alice", "--password-stdin"],
            env=env,
            input=b"alicepass\n",
            check=True,
            capture_output=True,
        )
        with Client(server.base_url, username="alice", password="alicepass") as alice:
            alice.login()
            token = alice.token or ""
        raw = [sys.executable, "-c", RAW, server.base_url, token]
        for name, command, script in (
            ("log 1h gwm", [*TIMESYNC, "log", "1h", "gwm"], [*raw, "log"]),
            ("today", [*TIMESYNC, "today"], [*raw, "today"]),
        ):
            (ours, our_cpu), (theirs, their_cpu) = medians_ms([command, script], env)
            print(
                f"timesync {name:<12} {ours:7.1f} ms   raw {theirs:7.1f} ms   ({ours / theirs:.2f}x;"
                f" target 1.5x)   cpu {our_cpu:.1f} vs {their_cpu:.1f} ms ({our_cpu / their_cpu:.2f}x)"
            )


if __name__ == "__main__":
    main()
