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
    counted = "1 entry" if len(entries) == 1 else f"{len(entries)} entries"
    footer = f"{counted}, {hours(total)} from {chosen.period.start} to {chosen.period.end}"
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


#: Each option of ``edit`` and the entry field it changes.
_EDITED = (
    ("duration", "duration"),
    ("project", "project"),
    ("activities", "activities"),
    ("notes", "notes"),
    ("issue", "issue_uri"),
    ("day", "date_worked"),
)


def _given(value: Any) -> bool:
    """Whether an option was given: an empty text (clearing notes or issue) counts, no activities not."""
    return value is not None and value != []


def edit_changes(app: App, words: dict[str, Any]) -> dict[str, Any]:
    """The fields an edit sends, from its options (project and activity words resolved now)."""
    from pymesync.cli import _resolve

    changes: dict[str, Any] = {}
    if words["duration"] is not None:
        changes["duration"] = _new_duration(words["base_duration"], words["duration"])
    if words["project"] is not None:
        changes["project"] = _resolve.project(app, words["project"]).slugs[0]
    if words["activities"]:
        changes["activities"] = _resolve.activities(app, words["activities"])
    for option, field in _EDITED[3:]:
        if _given(words[option]):
            changes[field] = words[option]
    return changes


def _changed_meanwhile(app: App, uuid: str, expected: int | None) -> CliError:
    now = app.client().times[uuid].revision
    return CliError(
        f"entry {short_id(uuid)} changed on the server (revision {expected} → {now}) since it was read;"
        " look at it again ('timesync show') and retry",
        ExitCode.CONFLICT,
    )


def _entry_offline(app: App, word: str) -> Time:
    """The entry as the local copy knows it, to queue an edit while the server cannot be reached."""
    if word == "last":
        word = _journal.last_created(app.profile) or ""
    found = app.entry_cache().starting_with(word.strip().lower()) if len(word) >= 4 else []
    if len(found) != 1:
        raise CliError(
            f"cannot reach the TimeSync server, and the local copy has {len(found) or 'no'} entries starting"
            f" with {word!r}; nothing was queued",
            ExitCode.UNREACHABLE,
        )
    return found[0]


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

    Refuses (exit 6) when someone changed the entry on the server after it was read. When the server
    cannot be reached, the edit is queued (exit 7) and sent by 'timesync sync', still only if the
    entry has not changed meanwhile.
    """
    from pymesync.cli import _outbox
    from pymesync.errors import TransportError

    if all(value is None for value in (duration, project, notes, issue, day)) and not activities:
        raise usage_error("nothing to change: give --duration, --project, --activity, -m, --issue or --date")
    try:
        found = _entry(app, entry)
    except TransportError:
        found = _entry_offline(app, entry)
    words = {
        "duration": duration,
        "base_duration": found.duration,
        "project": project,
        "activities": list(activities),
        "notes": notes,
        "issue": issue,
        "day": None if day is None else day.isoformat(),
    }
    before = {field: _before(found, field) for option, field in _EDITED if _given(words[option])}
    revision = found.revision if expect_revision is None else expect_revision
    data = {"uuid": found.uuid, "revision": revision, "words": words, "summary": f"edit of {describe(found)}"}
    from pymesync.errors import RevisionConflictError

    try:
        updated = _outbox.send_now(app, "update", data, f"the edit of entry {short_id(found.uuid)}")
    except RevisionConflictError:
        raise _changed_meanwhile(app, found.uuid or "", revision) from None
    _journal.record(app.profile, "updated", uuid=updated.uuid, before=before, revision=updated.revision)
    app.term.out(f"Updated {describe(updated)}")


def _before(entry: Time, field: str) -> Any:
    """The value undo puts back, in the form an update takes."""
    if field == "project":
        return entry.project[0] if entry.project else None
    if field == "activities":
        return list(entry.activities)
    if field == "date_worked":
        return str(entry.date_worked)
    if field in ("notes", "issue_uri"):
        return getattr(entry, field) or ""
    return getattr(entry, field)


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
        from pymesync.errors import RevisionConflictError

        app.ask_extensions_again()  # the revision check must use what the server offers now
        try:
            restored = client.times.update(last["uuid"], if_revision=last.get("revision"), **last["before"])
        except RevisionConflictError:
            raise _changed_meanwhile(app, last["uuid"], last.get("revision")) from None
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
