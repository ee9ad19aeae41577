"""Real processes, as a person or a script would run them: login → log → ls → report → undo, and a real
terminal (tmux) for the table and chart output."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pymesync.server.testing import RunningServer

from .conftest import USER, environment

TIMESYNC = [sys.executable, "-m", "pymesync.cli"]


def timesync(
    home: Path, *args: str, input: str | None = None, code: int = 0
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*TIMESYNC, *args], env=environment(home), input=input, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done


def test_login_log_ls_report_undo(server: RunningServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    timesync(home, "login", "--server", server.base_url, "--user", USER[0], "--password-stdin", input=USER[1])
    logged = timesync(home, "log", "1h30m", "gwm", "docs", "--date", "2026-04-06", "-m", "e2e")
    assert logged.stdout.startswith("Logged 1h30m on gwm (docs), 2026-04-06")
    listed = timesync(home, "ls", "--period", "2026-04-06").stdout
    assert "\t1h30m\tganeti\tdocs\te2e" in listed  # plain, tab-separated: stdout is a pipe
    rows = json.loads(timesync(home, "report", "--period", "2026-W15", "--by", "activity", "--json").stdout)
    assert rows == [{"activity": "docs", "seconds": 5400, "hours": 1.5, "entries": 1}]
    assert "Undid logging" in timesync(home, "undo").stdout
    assert json.loads(timesync(home, "ls", "--period", "2026-04-06", "--json").stdout) == []
    timesync(home, "log", "90", "gwm", code=2)
    timesync(home, "--no-input", "rm", "last", code=5)  # undone: gone
    timesync(home, "log", "15m", "gwm", "--date", "2026-04-07")
    assert "add -y" in timesync(home, "--no-input", "rm", "last", code=2).stderr


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_tables_and_chart_in_a_real_terminal(server: RunningServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    timesync(home, "login", "--server", server.base_url, "--user", USER[0], "--password-stdin", input=USER[1])
    timesync(home, "log", "2h", "gwm", "--date", "2026-04-13")
    timesync(home, "log", "1h", "pgd", "dev", "--date", "2026-04-14")
    socket = str(tmp_path / "tmux.sock")
    env_args = [
        f"{key}={value}" for key, value in environment(home).items() if key.startswith(("TIMESYNC", "PYTHON"))
    ]
    command = " ; ".join(
        [
            shlex.join([*TIMESYNC, "ls", "--period", "2026-W16"]),
            shlex.join([*TIMESYNC, "report", "--period", "2026-W16", "--chart"]),
            "echo DONE",
            "sleep 30",
        ]
    )
    subprocess.run(
        [
            "tmux",
            "-S",
            socket,
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
            "env",
            "TERM=xterm-256color",
            *env_args,
            "sh",
            "-c",
            command,
        ],
        check=True,
    )
    try:
        screen = ""
        for _ in range(200):
            screen = subprocess.run(
                ["tmux", "-S", socket, "capture-pane", "-p", "-e"], capture_output=True, text=True
            ).stdout
            if "DONE" in screen:
                break
            time.sleep(0.1)
        assert "DONE" in screen, screen
        assert "id" in screen and "2026-04-13 total" in screen  # the ls table, with daily subtotals
        assert "2 entries, 3h from 2026-04-13 to 2026-04-19" in screen
        chart_line = next(line for line in screen.splitlines() if "ganeti" in line and "█" in line)
        assert "\x1b[" in chart_line  # coloured: stdout is a terminal
        assert screen.count("█") > 10
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], check=False)
