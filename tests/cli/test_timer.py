"""Timers: start/stop/cancel/status, --at, and two real processes racing or handing over."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys

import pytest

from pymesync import Client
from pymesync.cli._timer import parse_at

from .conftest import USER, Runner, environment

NOW = datetime.datetime(2026, 12, 4, 10, 0, tzinfo=datetime.timezone.utc)


def test_parse_at() -> None:
    assert parse_at("-15m", NOW) == NOW - datetime.timedelta(minutes=15)
    assert parse_at("09:10", NOW) == NOW.replace(hour=9, minute=10)
    assert parse_at(None, NOW) == NOW


@pytest.mark.parametrize("text", ["11:00", "25:00", "9", "-15", "yesterday"])
def test_parse_at_refuses(text: str) -> None:
    import click

    with pytest.raises(click.ClickException) as caught:
        parse_at(text, NOW)
    assert caught.value.exit_code == 2


def _timesync(home, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pymesync.cli", *args],
        env=environment(home),
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_start_status_stop_creates_one_entry(logged_in: Runner) -> None:
    logged_in("start", "gwm", "docs", "--at", "-1h")
    status = json.loads(logged_in("status", "--json").stdout)
    assert status["timer"]["project"] == "gwm" and 3590 <= status["timer"]["elapsed_seconds"] <= 3700
    logged_in("status", "--check", code=0)
    result = logged_in("stop", "-m", "timer test")
    assert result.stdout.startswith("Logged 1h on gwm (docs)")
    logged_in("status", "--check", code=1)
    logged_in("stop", code=5)
    with Client(logged_in.server.base_url, username=USER[0], password=USER[1]) as client:
        assert [e.duration for e in client.times.list(user=USER[0]) if e.notes == "timer test"] == [3600]


def test_second_start_is_a_conflict(logged_in: Runner) -> None:
    logged_in("start", "gwm")
    result = logged_in("start", "pgd", "dev", code=6)
    assert "already running on gwm" in result.stderr
    assert "Cancelled the timer on gwm" in logged_in("cancel").stderr
    logged_in("cancel", code=5)


def test_start_on_unknown_project_leaves_no_timer(logged_in: Runner) -> None:
    logged_in("start", "nosuch", code=5)
    logged_in("status", "--check", code=1)


def test_stop_failure_keeps_the_timer(logged_in: Runner) -> None:
    logged_in("start", "gwm", "--at", "-30m")
    logged_in("stop", "--at", "nonsense", code=2)
    logged_in("status", "--check", code=0)
    logged_in("cancel")


def test_two_processes_cannot_both_start(logged_in: Runner) -> None:
    racers = [
        subprocess.Popen(
            [sys.executable, "-m", "pymesync.cli", "start", project],
            env=environment(logged_in.home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for project in ("gwm", "ganeti")
    ]
    codes = sorted(racer.wait(60) for racer in racers)
    assert codes == [0, 6]
    logged_in("cancel")


def test_start_in_one_process_stop_in_another(logged_in: Runner) -> None:
    started = _timesync(logged_in.home, "start", "gwm", "review", "--at", "-45m")
    assert started.returncode == 0, started.stderr
    stopped = _timesync(logged_in.home, "stop", "-m", "across processes")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.startswith("Logged 45m on gwm (review)")
    assert "Traceback" not in stopped.stderr
