"""Browsing and fixing entries: ls, show, edit, rm, undo."""

from __future__ import annotations

import datetime
import itertools
import json
from typing import TYPE_CHECKING, Any

import click

from pymesync._duration import HUMAN_FORMS, parse_human_duration
from pymesync.cli import _journal
from pymesync.cli._app import App, pass_app
from pymesync.cli._errors import CliError, ExitCode, usage_error
from pymesync.cli._filters import Selection, selection_options
from pymesync.cli._log import DAY, describe
from pymesync.cli._output import Table, hours, output_options, resolve_format, short_id

if TYPE_CHECKING:
    from pymesync.client import Client
    from pymesync.models import Time


def _sort_key(entry: Time) -> tuple[datetime.date, str]:
    return (entry.date_worked or datetime.date.min, entry.uuid or "")


@click.command()
@selection_options(default_period="week")
@output_options
@pass_app
def ls(app: App, selection: Any, fmt: str | None) -> None:
    """List entries (this week by default), with a subtotal per day.

    \b
    timesync ls --last-week
    timesync ls --period 2026-11 --project gwm --json
    """
    chosen: Selection = selection.resolve(app)
    entries = sorted(chosen.entries(app), key=_sort_key)
    fmt = resolve_format(fmt, app.term)
    everyone = chosen.user is None or chosen.user != app.account().user
    headers = ["id", "date", "duration", "project", "activities", "notes"]
    if everyone:
        headers.insert(2, "user")
    table = Table(headers, right={headers.index("duration")})
    width = max(20, app.term.width - 60) if fmt == "table" else 10_000
    for day, group in itertools.groupby(entries, key=lambda entry: entry.date_worked):
        day_entries = list(group)
        for entry in day_entries:
            notes = entry.notes or ""
            cells = [
                short_id(entry.uuid),
                str(entry.date_worked),
                hours(entry.duration),
                entry.project[0] if entry.project else "",
                ",".join(entry.activities),
                notes if len(notes) <= width else notes[: width - 1] + "…",
            ]
            if everyone:
                cells.insert(2, entry.user or "")
            table.add(cells, entry.to_dict())
        if fmt in ("table", "plain"):
            subtotal = [""] * len(headers)
            subtotal[1] = f"{day} total"
            subtotal[headers.index("duration")] = hours(sum(e.duration for e in day_entries))
            table.add(subtotal, subtotal=True)
    total = sum(entry.duration for entry in entries)
    footer = f"{len(entries)} entries, {hours(total)} from {chosen.period.start} to {chosen.period.end}"
    table.render(fmt, app.term, footer=footer if fmt == "table" else None)
    if fmt == "plain":
        app.term.info(footer)


def _entry(app: App, word: str) -> Time:
    from pymesync.cli import _resolve

    if word == "last":
        uuid = _journal.last_created(app.profile)
        if uuid is None:
            raise CliError("no entry logged with this command line yet; give an entry id", ExitCode.NOT_FOUND)
        word = uuid
    return _resolve.entry(app.client(), word, app.account().user, app.today())


@click.command()
@click.argument("entry")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def show(app: App, entry: str, as_json: bool) -> None:
    """Show one entry: ENTRY is its id (or an unambiguous prefix) or 'last'."""
    found = _entry(app, entry)
    if as_json:
        app.term.out(json.dumps(found.to_dict(), indent=2, default=str))
        return
    rows = [
        ("id", found.uuid),
        ("revision", found.revision),
        ("date", found.date_worked),
        ("duration", hours(found.duration)),
        ("user", found.user),
        ("project", ", ".join(found.project)),
        ("activities", ", ".join(found.activities)),
        ("notes", found.notes),
        ("issue", found.issue_uri),
        ("created", found.created_at),
        ("updated", found.updated_at),
    ]
    for key, value in rows:
        if value not in (None, ""):
            app.term.out(f"{app.term.style(f'{key:<10}', bold=True)} {value}")


def _new_duration(current: int, text: str) -> int:
    sign = text[:1] if text[:1] in "+-" else ""
    try:
        amount = parse_human_duration(text[1:] if sign else text)
    except ValueError:
        raise usage_error(
            f"invalid --duration {text!r}; use {HUMAN_FORMS}, or +15m / -15m to adjust"
        ) from None
    seconds = current + amount if sign == "+" else current - amount if sign == "-" else amount
    if seconds <= 0:
        raise usage_error(f"--duration {text} would leave {hours(seconds)}; durations must be more than zero")
    return seconds


def check_revision(client: Client, entry: Time, expected: int | None) -> None:
    """Refuse (exit 6) when the entry changed on the server since it was read."""
    current = client.times[entry.uuid or ""]
    if current.revision != expected:
        raise CliError(
            f"entry {short_id(entry.uuid)} changed on the server (revision {expected} → {current.revision}) "
            "since it was read; look at it again ('timesync show') and retry",
            ExitCode.CONFLICT,
        )


@click.command()
@click.argument("entry")
@click.option("--duration", metavar="DURATION", help="New duration (2h), or a change (+15m, -15m).")
@click.option("-p", "--project", metavar="PROJECT", help="Move to this project (slug or prefix).")
@click.option("-a", "--activity", "activities", multiple=True, metavar="ACTIVITY", help="Replace activities.")
@click.option("-m", "--notes", metavar="TEXT", help="New notes.")
@click.option("--issue", metavar="URI", help="New issue URI.")
@click.option("-d", "--date", "day", type=DAY, help="New day worked.")
@click.option("--expect-revision", type=int, metavar="N", help="Refuse unless the entry is at revision N.")
@pass_app
def edit(
    app: App,
    entry: str,
    duration: str | None,
    project: str | None,
    activities: tuple[str, ...],
    notes: str | None,
    issue: str | None,
    day: datetime.date | None,
    expect_revision: int | None,
) -> None:
    """Change an entry: ENTRY is its id (or prefix) or 'last' (the last one logged here).

    Refuses (exit 6) when someone changed the entry on the server after it was read.
    """
    from pymesync.cli import _resolve

    found = _entry(app, entry)
    client = app.client()
    changes: dict[str, Any] = {}
    before: dict[str, Any] = {}
    if duration is not None:
        changes["duration"], before["duration"] = _new_duration(found.duration, duration), found.duration
    if project is not None:
        changes["project"] = _resolve.project(app, project).slugs[0]
        before["project"] = found.project[0] if found.project else None
    if activities:
        changes["activities"], before["activities"] = (
            _resolve.activities(app, activities),
            list(found.activities),
        )
    if notes is not None:
        changes["notes"], before["notes"] = notes, found.notes or ""
    if issue is not None:
        changes["issue_uri"], before["issue_uri"] = issue, found.issue_uri or ""
    if day is not None:
        changes["date_worked"], before["date_worked"] = day.isoformat(), str(found.date_worked)
    if not changes:
        raise usage_error("nothing to change: give --duration, --project, --activity, -m, --issue or --date")
    check_revision(client, found, found.revision if expect_revision is None else expect_revision)
    updated = client.times.update(found.uuid or "", **changes)
    _journal.record(app.profile, "updated", uuid=updated.uuid, before=before, revision=updated.revision)
    app.term.out(f"Updated {describe(updated)}")


@click.command()
@click.argument("entries", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def rm(app: App, entries: tuple[str, ...], yes: bool) -> None:
    """Delete entries (ids, prefixes or 'last'), after confirmation."""
    found = [_entry(app, word) for word in entries]
    if not yes:
        if not app.term.may_prompt:
            raise usage_error("deleting needs confirmation: add -y (no terminal to ask on, or --no-input)")
        for entry in found:
            app.term.info(f"  {describe(entry)}")
        click.confirm(f"Delete {len(found)} entr{'y' if len(found) == 1 else 'ies'}?", abort=True, err=True)
    client = app.client()
    deleted: list[dict[str, Any]] = []
    try:
        for entry in found:
            client.times.delete(entry.uuid or "")
            deleted.append(entry.to_dict())
            app.term.info(f"Deleted {describe(entry)}")
    finally:
        if deleted:
            _journal.record(app.profile, "deleted", entries=deleted)


_RECREATED_FIELDS = ("duration", "user", "project", "activities", "date_worked", "notes", "issue_uri")


@click.command()
@pass_app
def undo(app: App) -> None:
    """Revert the last change made with this command line (log, stop, edit or rm)."""
    last = _journal.last(app.profile)
    if last is None:
        raise CliError("nothing to undo", ExitCode.NOT_FOUND)
    client = app.client()
    action = last["action"]
    if action == "created":
        client.times.delete(last["uuid"])
        app.term.out(f"Undid logging {last.get('summary', last['uuid'])}: entry deleted")
    elif action == "updated":
        current = client.times[last["uuid"]]
        check_revision(client, current, last.get("revision"))
        restored = client.times.update(last["uuid"], **last["before"])
        app.term.out(f"Undid the edit: {describe(restored)}")
    elif action == "deleted":
        for saved in last["entries"]:
            fields = {key: saved[key] for key in _RECREATED_FIELDS if saved.get(key) not in (None, "", [])}
            if isinstance(fields.get("project"), list):
                fields["project"] = fields["project"][0]
            recreated = client.times.create(fields)
            app.term.out(f"Undid the deletion: {describe(recreated)} (a new id)")
    _journal.clear(app.profile)


@click.command()
@output_options
@click.pass_context
def today(ctx: click.Context, fmt: str | None) -> None:
    """Today's entries and total (the same as 'timesync ls --today')."""
    args = ["--today"] + (["-f", fmt] if fmt else [])
    ctx.invoke(ls, **ls.make_context("ls", args, parent=ctx.parent).params)
