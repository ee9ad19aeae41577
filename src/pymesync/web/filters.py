"""Which entries a page shows: the filters of the Times and Reports forms, read from a query string,
and their SQL conditions on top of what the API lets the caller see (:func:`routes.times.listed_to`)."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pymesync import _periods
from pymesync.server import auth, queries, schema, storage
from pymesync.server.routes import times as times_route

times = schema.times
#: The period presets of the forms, in the words of ``timesync --period``.
PRESETS = {
    "week": "This week",
    "last-week": "Last week",
    "month": "This month",
    "last-month": "Last month",
    "year": "This year",
    "all": "All time",
}


@dataclasses.dataclass(frozen=True)
class Filter:
    """A period (both days included), and optionally one user, project and activity."""

    period: _periods.Period
    preset: str = ""
    user: str = ""
    project: str = ""
    activity: str = ""
    include_deleted: bool = False

    def query(self, **extra: str) -> dict[str, str]:
        """The filter as the query string of a link (only what is set)."""
        values = {
            "period": self.preset,
            "start": "" if self.preset else str(self.period.start),
            "end": "" if self.preset else str(self.period.end),
            "user": self.user,
            "project": self.project,
            "activity": self.activity,
            "include_deleted": "1" if self.include_deleted else "",
            **extra,
        }
        return {name: value for name, value in values.items() if value}


class FilterError(ValueError):
    """A filter the form cannot mean (a day that is no date, an end before the start)."""


def _day(text: str, name: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text.strip())
    except ValueError:
        raise FilterError(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None


def read(params: Mapping[str, str], today: datetime.date, default_preset: str = "month") -> Filter:
    """The filter of a form's query string; a custom period when ``start`` or ``end`` is given."""
    start_text, end_text = params.get("start", "").strip(), params.get("end", "").strip()
    preset = params.get("period", "").strip()
    if start_text or end_text:
        start = _day(start_text, "from") if start_text else _periods.ALL_TIME.start
        end = _day(end_text, "to") if end_text else today
        if end < start:
            raise FilterError(f"the period ends ({end}) before it starts ({start})")
        period, preset = _periods.Period(start, end), ""
    else:
        preset = preset if preset in PRESETS else default_preset
        period = _periods.parse_period(preset, today)
    return Filter(
        period,
        preset,
        params.get("user", "").strip(),
        params.get("project", "").strip(),
        params.get("activity", "").strip(),
        params.get("include_deleted", "") not in ("", "0"),
    )


def conditions(connection: Connection, caller: auth.Caller, chosen: Filter) -> list[Any]:
    """The WHERE conditions of ``chosen`` for ``caller``: never more than GET /times would list them.

    A user, project or activity that does not exist matches nothing (a form is not an API call)."""
    found: list[Any] = times_route.listed_to(caller)
    if not chosen.include_deleted:
        found.append(times.c.deleted_at.is_(None))
    found.append(times.c.date_worked >= storage.date_to_ms(chosen.period.start))
    end = min(chosen.period.end, datetime.date(9999, 12, 30)) + datetime.timedelta(days=1)
    found.append(times.c.date_worked < storage.date_to_ms(end))
    if chosen.user:
        user_id = queries.user_ids(connection, [chosen.user]).get(chosen.user)
        found.append(times.c.user == (-1 if user_id is None else user_id))
    if chosen.project:
        found.append(
            times.c.project.in_(sorted(queries.project_uuids_for_slugs(connection, [chosen.project])))
        )
    if chosen.activity:
        activity = queries.current_activities(connection, [chosen.activity]).get(chosen.activity)
        if activity is None:
            found.append(sa.false())
        else:
            tagged = (
                sa.select(schema.timesactivities.c.time)
                .join(schema.activities, schema.activities.c.id == schema.timesactivities.c.activity)
                .where(schema.activities.c.uuid == str(activity.uuid))
            )
            found.append(times.c.id.in_(tagged))
    return found
