"""Timers: local state (a file that survives reboots) that becomes one entry when stopped.

TimeSync entries have no start or end time, so a timer is ours alone. Starting creates the state file
with a hard link from a complete temporary file: the link fails if a timer already exists, so two
terminals cannot both start one, and nobody ever reads half a file. Stopping first renames the file away
(only one ``stop`` can win that), and puts it back if the entry could not be created.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
from typing import Any

import click

from pymesync._duration import HUMAN_FORMS, parse_human_duration
from pymesync.cli._app import App, pass_app
from pymesync.cli._errors import CliError, ExitCode, usage_error
from pymesync.cli._files import beside, profile_file_part, read_bytes, remove, state_file, write_atomic
from pymesync.cli._output import hours

_CLOCK = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


def timer_path(profile: str) -> str:
    return state_file(f"timer-{profile_file_part(profile)}.json")


def read_timer(profile: str) -> dict[str, Any] | None:
    try:
        data = json.loads(read_bytes(timer_path(profile)))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise CliError(
            f"the timer file {timer_path(profile)} is damaged; 'timesync cancel' removes it"
        ) from None
    return data if isinstance(data, dict) else None


def parse_at(text: str | None, now: datetime.datetime) -> datetime.datetime:
    """``None`` (now), ``-15m``/``-1h`` (that long ago) or ``HH:MM`` today; never in the future."""
    if text is None:
        return now
    text = text.strip()
    if text.startswith("-"):
        try:
            return now - datetime.timedelta(seconds=parse_human_duration(text[1:]))
        except ValueError:
            raise usage_error(f"invalid --at {text!r}; use -15m, -1h30m ({HUMAN_FORMS}) or HH:MM") from None
    match = _CLOCK.fullmatch(text)
    if match is None:
        raise usage_error(f"invalid --at {text!r}; use a time like 09:10 or a time ago like -15m")
    at = now.replace(hour=int(match[1]), minute=int(match[2]), second=0, microsecond=0)
    if at > now:
        raise usage_error(f"--at {text} is in the future")
    return at


def _now() -> datetime.datetime:
    return datetime.datetime.now().astimezone()


def _started(timer: dict[str, Any]) -> datetime.datetime:
    return datetime.datetime.fromisoformat(str(timer["started_at"]))


def _elapsed(timer: dict[str, Any], until: datetime.datetime) -> int:
    return max(0, int((until - _started(timer)).total_seconds()))


def _what(timer: dict[str, Any]) -> str:
    activities = ",".join(timer.get("activities") or [])
    return f"{timer['project']} ({activities})" if activities else str(timer["project"])


@click.command()
@click.argument("project")
@click.argument("activities", nargs=-1)
@click.option("--at", metavar="WHEN", help="When you started: -15m (ago) or 09:10 (today).")
@click.option("-m", "--notes", metavar="TEXT", help="Notes for the entry (can also be given to stop).")
@pass_app
def start(app: App, project: str, activities: tuple[str, ...], at: str | None, notes: str | None) -> None:
    """Start a timer on PROJECT; 'timesync stop' logs the time."""
    from pymesync.cli import _resolve

    started = parse_at(at, _now())
    path = timer_path(app.profile)
    running = read_timer(app.profile)
    if running is not None:
        raise CliError(
            f"a timer is already running on {_what(running)}; stop or cancel it first", ExitCode.CONFLICT
        )
    found = _resolve.project(app, project)
    slugs = _resolve.activities(app, activities)
    slug = project if project in found.slugs else found.slugs[0]
    if not slugs and not found.default_activity:
        raise usage_error(
            f"project {slug} has no default activity: name one, e.g. 'timesync start {slug} ACTIVITY'"
        )
    timer = {"project": slug, "activities": slugs, "started_at": started.isoformat(), "notes": notes}
    temp = beside(path, f".{os.path.basename(path)}.{os.getpid()}")
    write_atomic(temp, json.dumps(timer).encode())
    try:
        os.link(temp, path)  # fails if a timer exists, even one started a moment ago elsewhere
    except FileExistsError:
        raise CliError(
            "a timer was just started elsewhere; see 'timesync status'", ExitCode.CONFLICT
        ) from None
    finally:
        remove(temp)
    app.term.out(f"Started {_what(timer)} at {started:%H:%M}")


@click.command()
@click.option("--at", metavar="WHEN", help="When you stopped: -10m (ago) or 17:30 (today).")
@click.option("-m", "--notes", metavar="TEXT", help="What you did.")
@click.option("--issue", metavar="URI", help="The issue or ticket worked on.")
@pass_app
def stop(app: App, at: str | None, notes: str | None, issue: str | None) -> None:
    """Stop the timer and log its time as one entry on the day it started."""
    from pymesync.cli._log import create_entry, describe
    from pymesync.cli._outbox import Queued

    path = timer_path(app.profile)
    claimed = beside(path, f".{os.path.basename(path)}.stopping-{os.getpid()}")
    try:
        os.rename(path, claimed)  # only one stop can take the timer
    except FileNotFoundError:
        raise CliError("no timer is running", ExitCode.NOT_FOUND) from None
    try:
        timer = json.loads(read_bytes(claimed))
        stopped = parse_at(at, _now())
        if stopped < _started(timer):
            raise usage_error(f"--at {at} is before the timer started ({_started(timer):%H:%M})")
        seconds = round(_elapsed(timer, stopped) / 60) * 60
        if seconds <= 0:
            raise usage_error("the timer ran less than a minute; 'timesync cancel' drops it")
        entry = create_entry(
            app,
            seconds,
            timer["project"],
            timer.get("activities") or (),
            notes=notes or timer.get("notes"),
            issue=issue,
            day=_started(timer).date(),
            user=None,
        )
    except Queued:  # the entry waits in the outbox: the timer has done its work
        os.unlink(claimed)
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            os.rename(claimed, path)
        raise
    os.unlink(claimed)
    app.term.out(f"Logged {describe(entry)}")


@click.command()
@pass_app
def cancel(app: App) -> None:
    """Drop the running timer without logging anything."""
    path = timer_path(app.profile)
    try:
        timer = read_timer(app.profile)
    except CliError:
        timer = None
    if timer is None and not os.path.exists(path):
        raise CliError("no timer is running", ExitCode.NOT_FOUND)
    remove(path)
    if timer is None:
        app.term.info("Removed a damaged timer file.")
        return
    app.term.info(f"Cancelled the timer on {_what(timer)} ({hours(_elapsed(timer, _now()))} not logged)")


@click.command()
@click.option("--check", is_flag=True, help="Print nothing; exit 0 if a timer runs, 1 if not.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def status(app: App, check: bool, as_json: bool) -> None:
    """Show the running timer and today's and this week's totals."""
    timer = read_timer(app.profile)
    if check:
        app.ctx.exit(0 if timer is not None else 1)
    from pymesync._periods import monday

    today = app.today()
    account = app.account()
    entries = app.client().times.list(user=account.user, start=monday(today), end=today)
    day_total = sum(entry.duration for entry in entries if entry.date_worked == today)
    week_total = sum(entry.duration for entry in entries)
    running = _elapsed(timer, _now()) if timer else 0
    if as_json:
        info = {
            "timer": None if timer is None else {**timer, "elapsed_seconds": running},
            "today_seconds": day_total,
            "week_seconds": week_total,
        }
        app.term.out(json.dumps(info, indent=2))
        return
    if timer is None:
        app.term.out("No timer running.")
    else:
        since = _started(timer)
        app.term.out(
            f"Timer: {app.term.style(_what(timer), fg='green')} for {hours(running)} (since {since:%H:%M})"
        )
    app.term.out(f"Today: {hours(day_total)}")
    app.term.out(f"Week:  {hours(week_total)}")
