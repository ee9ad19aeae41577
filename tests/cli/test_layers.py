"""What the everyday commands load, and how the console script ends.

``log``, ``today``, ``ls`` and ``report`` are what people run all day: they must not load what only other
commands need (charts, the keyring, bcrypt, the async client, the standard library's HTTP client), nor
what costs more to import than the little they would do with it (pathlib for a few file names,
urllib.parse and ipaddress for ordinary URLs, socket's enums, base64 for a token's payload). Asserted on
``sys.modules`` of real processes, the second run of each in its own config directory (the first reads the
TOML config and keeps a parsed copy, as every later run finds it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pymesync.server.testing import RunningServer

from .conftest import USER, environment

#: Runs ``timesync ARGS`` in this process, then writes the names of the loaded modules to the file named
#: by the first argument.
_LOADED = r"""
import json, sys
from pymesync.cli import cli
try:
    cli.main(sys.argv[2:])
except SystemExit as done:
    assert done.code == 0, done.code
with open(sys.argv[1], "w") as out:
    json.dump(sorted(sys.modules), out)
"""

#: Loaded by no everyday command.
NEVER = {
    "aiohttp",
    "base64",
    "bcrypt",
    "binascii",
    "concurrent.futures",
    "csv",
    "email",
    "http.client",
    "ipaddress",
    "keyring",
    "pathlib",
    "platformdirs",
    "pymesync._async_transport",
    "pymesync._bulk",
    "pymesync.aio",
    "pymesync.cli._svg",
    "pymesync.legacy",
    "rich",
    "socket",
    "ssl",
    "tomli",
    "tomllib",
    "urllib",
    "urllib3",
    "zlib",
}
#: Loaded only by the commands that print reports.
REPORTS = {"pymesync.reports", "pymesync.cli._report"}


def _login(server: RunningServer, home: Path) -> None:
    login = ["login", "--server", server.base_url, "--user", USER[0], "--password-stdin"]
    subprocess.run(
        [sys.executable, "-m", "pymesync.cli", *login],
        input=USER[1] + "\n",
        env=environment(home),
        check=True,
        capture_output=True,
        text=True,
    )


def _loaded(home: Path, *args: str) -> set[str]:
    out = home / "modules.json"
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-c", _LOADED, str(out), *args],
            env=environment(home),
            check=True,
            capture_output=True,
        )
    return set(json.loads(out.read_text()))


@pytest.mark.parametrize(
    ("args", "reports"),
    [
        (("log", "1h", "gwm"), False),
        (("today",), False),
        (("ls", "--week"), False),
        (("report", "--period", "2026"), True),
    ],
    ids=["log", "today", "ls", "report"],
)
def test_everyday_commands_load_only_what_they_use(
    server: RunningServer, tmp_path: Path, args: tuple[str, ...], reports: bool
) -> None:
    home = tmp_path / "timesync"
    _login(server, home)
    loaded = _loaded(home, *args)
    assert "pymesync.client" in loaded  # the modules were read from this process
    assert not {name for name in loaded if name.split(".")[0] in NEVER or name in NEVER}
    assert (loaded >= REPORTS) if reports else not (REPORTS & loaded)
    assert "pymesync.cli._outbox" in loaded if args[0] == "log" else "pymesync.cli._outbox" not in loaded


def test_a_report_after_log_only_peeks_into_the_empty_outbox(server: RunningServer, tmp_path: Path) -> None:
    """The outbox file stays once ``log`` made it; reading that nothing waits takes neither its lock nor
    its set-up (fcntl is loaded by a sending only)."""
    home = tmp_path / "timesync"
    _login(server, home)
    _loaded(home, "log", "1h", "gwm")
    loaded = _loaded(home, "ls", "--week")
    assert "pymesync.cli._outbox" in loaded and "fcntl" not in loaded


_ENDING = r"""
import atexit, sys
if sys.argv[1] == "atexit":
    atexit.register(lambda: print("atexit handler ran", file=sys.stderr))
print("before", end="")  # unflushed: the end must flush it
sys.argv = ["timesync", *sys.argv[2:]]
from pymesync.cli import main
main()
"""


@pytest.mark.parametrize("registered", ["none", "atexit"])
def test_the_console_script_flushes_and_keeps_the_exit_code(tmp_path: Path, registered: str) -> None:
    """The script skips Python's teardown, but not the output, not the exit code, and not an atexit
    handler a library registered (then it ends the normal way)."""
    env = environment(tmp_path / "timesync")
    done = subprocess.run(
        [sys.executable, "-c", _ENDING, registered, "--version"], env=env, capture_output=True, text=True
    )
    assert (done.returncode, done.stdout.startswith("before")) == (0, True)
    assert "timesync" in done.stdout
    refused = subprocess.run(
        [sys.executable, "-c", _ENDING, registered, "log", "1h", "gwm"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 4  # not logged in
    assert ("atexit handler ran" in refused.stderr) == (registered == "atexit")
