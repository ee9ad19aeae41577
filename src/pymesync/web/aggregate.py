"""Report totals summed in the database, with exactly the grouping rules of :mod:`pymesync.reports`.

A year of a whole site is too many rows to read into Python for every page view, so the database
sums ``duration`` per (project, user, day, activity) as far as the report needs each, and only
those sums come back. What SQL cannot say the same way on SQLite and PostgreSQL is finished here
on the sums, never on rows: the project's first slug (the API's own slug lists, sorted), weeks
from Monday and months from the days. An entry counts under each of its activities, and under
no activity (``None``) when it has none, as the API renders it. ``tests/web/test_aggregate.py``
compares :func:`summarize` and :func:`pivot` with :mod:`pymesync.reports` on random data.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pymesync import reports
from pymesync.reports import GroupValue
from pymesync.server import queries, schema, storage

times = schema.times
users = schema.users
activities = schema.activities
timesactivities = schema.timesactivities

_referenced = activities.alias("referenced")
#: Each time revision's current activity slugs, as the API renders them (activities that lost
#: their slug are left out).
_TIME_ACTIVITIES = (
    sa.select(timesactivities.c.time.label("time"), activities.c.slug.label("slug"))
    .join(_referenced, _referenced.c.id == timesactivities.c.activity)
    .join(activities, sa.and_(activities.c.uuid == _referenced.c.uuid, activities.c.newest.is_(True)))
    .where(activities.c.slug.is_not(None))
    .subquery("time_activities")
)

_DAY_KEYS = ("day", "week", "month")


def _day(ms: int) -> datetime.date:
    return datetime.date.fromisoformat(storage.ms_to_date(ms) or "")


_FROM_DAY: dict[str, Callable[[datetime.date], GroupValue]] = {
    "day": lambda day: day,
    "week": lambda day: day - datetime.timedelta(days=day.weekday()),
    "month": lambda day: day.replace(day=1),
}


def _columns(by: Sequence[str]) -> dict[str, Any]:
    """The SQL column each needed grouping is read from (days stand in for weeks and months)."""
    needed: dict[str, Any] = {}
    for key in by:
        if key not in reports.GROUPS:
            raise ValueError(f"cannot group by {key}; choose from {', '.join(reports.GROUPS)}")
        if key == "project":
            needed["project"] = times.c.project
        elif key == "user":
            needed["user"] = users.c.username
        elif key == "activity":
            needed["activity"] = _TIME_ACTIVITIES.c.slug
        else:
            needed["day"] = times.c.date_worked
    return needed


def _totals(connection: Connection, conditions: list[Any]) -> tuple[int, int]:
    query = sa.select(sa.func.coalesce(sa.func.sum(times.c.duration), 0), sa.func.count()).where(*conditions)
    seconds, count = connection.execute(query).one()
    return int(seconds), int(count)


def summarize(
    connection: Connection, conditions: list[Any], by: Sequence[str], *, totals: tuple[int, int] | None = None
) -> reports.Summary:
    """:func:`reports.summarize` of the times matching ``conditions`` (on ``times``), in SQL."""
    keys = tuple(by)
    needed = _columns(keys)
    names = list(needed)
    source: Any = times.join(users, users.c.id == times.c.user)
    if "activity" in needed:
        source = source.outerjoin(_TIME_ACTIVITIES, _TIME_ACTIVITIES.c.time == times.c.id)
    query = (
        sa.select(*needed.values(), sa.func.sum(times.c.duration), sa.func.count())
        .select_from(source)
        .where(*conditions)
        .group_by(*needed.values())
    )
    rows = connection.execute(query).all()
    first_slugs: dict[str, str] = {}
    if "project" in needed:
        uuids = {str(row[names.index("project")]) for row in rows}
        first_slugs = {uuid: slugs[0] for uuid, slugs in queries.project_slugs(connection, uuids).items()}
    days: dict[int, datetime.date] = {}
    sums: dict[tuple[GroupValue, ...], list[int]] = {}
    for row in rows:
        found = dict(zip(names, row, strict=False))
        group: list[GroupValue] = []
        for key in keys:
            if key == "project":
                group.append(first_slugs.get(str(found["project"])))
            elif key in _DAY_KEYS:
                ms = found["day"]
                day = days.get(ms)
                if day is None:
                    day = days[ms] = _day(ms)
                group.append(_FROM_DAY[key](day))
            else:
                group.append(found[key])
        entry = sums.setdefault(tuple(group), [0, 0])
        entry[0] += int(row[-2])
        entry[1] += int(row[-1])
    seconds, count = totals if totals is not None else _totals(connection, conditions)
    return reports.summary_of(keys, sums, seconds, count)


def pivot(connection: Connection, conditions: list[Any], rows: str, columns: str) -> reports.Pivot:
    """:func:`reports.pivot` of the times matching ``conditions``, in SQL."""
    totals = _totals(connection, conditions)
    return reports.pivot_of(
        summarize(connection, conditions, (rows, columns), totals=totals),
        summarize(connection, conditions, (rows,), totals=totals),
        summarize(connection, conditions, (columns,), totals=totals),
    )
