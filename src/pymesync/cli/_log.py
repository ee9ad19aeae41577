"""``timesync log``: one entry from a duration, a project and optional activities."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from pymesync._duration import HUMAN_FORMS, parse_human_duration
from pymesync._periods import DAY_FORMS, parse_day
from pymesync.cli._app import App, pass_app
from pymesync.cli._errors import usage_error
from pymesync.cli._output import hours, short_id

if TYPE_CHECKING:
    from pymesync.models import Time


class DurationType(click.ParamType[int]):
    """A duration as people type it; a bare number is refused (minutes or hours? a guess would be wrong)."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            seconds = parse_human_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if seconds <= 0:
            self.fail(f"duration must be more than zero; use {HUMAN_FORMS}", param, ctx)
        return seconds


class DayType(click.ParamType[datetime.date]):
    name = "day"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime.date:
        if isinstance(value, datetime.date):
            return value
        try:
            return parse_day(str(value), datetime.date.today())
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = DurationType()
DAY = DayType()


def describe(entry: Time) -> str:
    activities = ",".join(entry.activities)
    project = entry.project[0] if entry.project else "?"
    what = f"{project} ({activities})" if activities else project
    notes = f" — {entry.notes}" if entry.notes else ""
    return f"{hours(entry.duration)} on {what}, {entry.date_worked} [{short_id(entry.uuid)}]{notes}"


def day_total(app: App, user: str, day: datetime.date) -> int:
    """From the local copy, which the outbox synced just before sending the entry."""
    return app.entry_cache().seconds(user=user, start=day, end=day)


def entry_fields(
    app: App,
    *,
    seconds: int,
    project: str,
    activities: Sequence[str],
    notes: str | None,
    issue: str | None,
    day: str,
    user: str,
) -> dict[str, object]:
    """What creating the entry sends: the words resolved against the projects and activities."""
    from pymesync.cli import _resolve

    found = _resolve.project(app, project)
    resolved = _resolve.activities(app, activities)
    slug = found.slugs[0]
    if not resolved and not found.default_activity:
        raise usage_error(
            f"project {slug} has no default activity: name one, e.g. 'timesync log 1h {slug} ACTIVITY'"
        )
    fields: dict[str, object] = {
        "duration": seconds,
        "project": project if project in found.slugs else slug,
        "date_worked": day,
        "user": user,
    }
    if resolved:
        fields["activities"] = resolved
    if notes:
        fields["notes"] = notes
    if issue:
        fields["issue_uri"] = issue
    return fields


def default_activity(app: App, project: str) -> str | None:
    from pymesync.cli import _resolve

    return _resolve.project(app, project).default_activity


def create_entry(
    app: App,
    seconds: int,
    project_word: str,
    activity_words: Sequence[str],
    *,
    notes: str | None,
    issue: str | None,
    day: datetime.date,
    user: str | None,
) -> Time:
    """Create the entry through the outbox (queued when the server cannot be reached: exit 7, and the
    entry is sent later exactly once) and record it for undo."""
    from pymesync.cli import _journal, _outbox, _resolve
    from pymesync.errors import ValidationError

    words = {
        "seconds": seconds,
        "project": project_word,
        "activities": list(activity_words),
        "notes": notes,
        "issue": issue,
        "day": day.isoformat(),
        "user": user or app.account().user,
    }
    summary = f"{hours(seconds)} on {project_word}, {day}" + (f" — {notes}" if notes else "")
    try:
        created = _outbox.send_now(
            app, "create", {"words": words, "summary": summary}, f"the entry ({summary})"
        )
    except ValidationError:  # perhaps the cached catalogue is out of date: the next command reads it anew
        _resolve.forget_catalogue(app)
        raise
    _journal.record(app.profile, "created", uuid=created.uuid, summary=describe(created))
    return created


@click.command()
@click.argument("duration", type=DURATION)
@click.argument("project", required=False)
@click.argument("activities", nargs=-1)
@click.option(
    "-p", "--project", "project_option", metavar="PROJECT", help="The project (instead of the argument)."
)
@click.option("-m", "--notes", metavar="TEXT", help="What you did.")
@click.option("--issue", metavar="URI", help="The issue or ticket worked on.")
@click.option("-d", "--date", "day", type=DAY, default="today", help=f"The day worked: {DAY_FORMS}.")
@click.option("--user", metavar="USER", help="Log for another user (managers only).")
@pass_app
def log(
    app: App,
    duration: int,
    project: str | None,
    activities: tuple[str, ...],
    project_option: str | None,
    notes: str | None,
    issue: str | None,
    day: datetime.date,
    user: str | None,
) -> None:
    """Log DURATION on PROJECT, with ACTIVITY slugs (default: the project's default activity).

    \b
    DURATION: 1h30m, 90m, 1.5h, 1:30 or 45m (m is always minutes).
    PROJECT: any of its slugs, or an unambiguous prefix of one.

    \b
    timesync log 1h30m gwm
    timesync log 45m gwm docs -m "Wrote the install guide" --date yesterday
    """
    if project_option and project:
        activities = (project, *activities)
    project = project_option or project
    if not project:
        raise usage_error("which project? e.g. 'timesync log 1h30m PROJECT'")
    entry = create_entry(app, duration, project, activities, notes=notes, issue=issue, day=day, user=user)
    total = day_total(app, entry.user or app.account().user, day)
    app.term.out(f"Logged {describe(entry)}")
    label = "today" if day == app.today() else str(day)
    app.term.out(f"Total {label}: {hours(total)}")
