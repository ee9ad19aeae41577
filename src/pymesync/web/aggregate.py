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

from pymesync import _periods, reports
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


def day_of_ms(ms: int) -> datetime.date:
    return datetime.date.fromisoformat(storage.ms_to_date(ms) or "")


_FROM_DAY: dict[str, Callable[[datetime.date], GroupValue]] = {
    "day": lambda day: day,
    "week": _periods.monday,
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


class Sums:
    """The durations of the times matching some conditions, summed in the database once at the
    finest grain a page needs (its keys), so that every summary and pivot of the page is folded
    from these few rows: one scan for the entries, a second for their activities if needed."""

    def __init__(self, connection: Connection, conditions: list[Any], keys: Sequence[str]) -> None:
        wanted = set(keys)
        self.base = _grouped(connection, conditions, sorted(wanted - {"activity"}))
        self.tagged = _grouped(connection, conditions, sorted(wanted)) if "activity" in wanted else None
        self.total_seconds = sum(row[-2] for row in self.base.rows)
        self.entries = sum(row[-1] for row in self.base.rows)

    def summarize(self, by: Sequence[str]) -> reports.Summary:
        """:func:`reports.summarize` of these times."""
        keys = tuple(by)
        grouped = self.tagged if "activity" in keys else self.base
        if grouped is None:
            raise ValueError("these sums were not read with the activity key")
        readers = [grouped.reader(key) for key in keys]
        sums: dict[tuple[GroupValue, ...], list[int]] = {}
        for row in grouped.rows:
            group = tuple([read(row) for read in readers])
            entry = sums.get(group)
            if entry is None:
                entry = sums[group] = [0, 0]
            entry[0] += row[-2]
            entry[1] += row[-1]
        return reports.summary_of(keys, sums, self.total_seconds, self.entries)

    def pivot(self, rows: str, columns: str) -> reports.Pivot:
        """:func:`reports.pivot` of these times."""
        return reports.pivot_of(
            self.summarize((rows, columns)), self.summarize((rows,)), self.summarize((columns,))
        )


class _Grouped:
    """Rows of (the needed columns..., seconds, entries) and how to read a grouping key from one."""

    def __init__(self, names: list[str], rows: list[tuple[Any, ...]], first_slugs: dict[str, str]) -> None:
        self.names, self.rows, self.first_slugs = names, rows, first_slugs

    def reader(self, key: str) -> Callable[[tuple[Any, ...]], GroupValue]:
        """How to read ``key``'s group value from a row; each distinct stored value is converted once."""
        if key not in ("project", *_DAY_KEYS):
            plain = self.names.index(key)

            def read_plain(row: tuple[Any, ...]) -> GroupValue:
                value: GroupValue = row[plain]
                return value

            return read_plain
        column = self.names.index("project" if key == "project" else "day")
        from_day = _FROM_DAY.get(key)
        seen: dict[Any, GroupValue] = {}

        def read(row: tuple[Any, ...]) -> GroupValue:
            stored = row[column]
            if stored not in seen:
                if from_day is None:
                    seen[stored] = self.first_slugs.get(str(stored))
                else:
                    seen[stored] = from_day(day_of_ms(stored))
            return seen[stored]

        return read


def _grouped(connection: Connection, conditions: list[Any], keys: Sequence[str]) -> _Grouped:
    needed = _columns(keys)
    names = list(needed)
    source: Any = times
    if "user" in needed:
        source = source.join(users, users.c.id == times.c.user)
    if "activity" in needed:
        source = source.outerjoin(_TIME_ACTIVITIES, _TIME_ACTIVITIES.c.time == times.c.id)
    query = (
        sa.select(*needed.values(), sa.func.sum(times.c.duration), sa.func.count())
        .select_from(source)
        .where(*conditions)
        .group_by(*needed.values())
    )
    rows = [(*row[:-2], int(row[-2] or 0), int(row[-1])) for row in connection.execute(query)]
    first_slugs: dict[str, str] = {}
    if "project" in needed:
        uuids = {str(row[names.index("project")]) for row in rows}
        first_slugs = {uuid: slugs[0] for uuid, slugs in queries.project_slugs(connection, uuids).items()}
    return _Grouped(names, rows, first_slugs)


def summarize(connection: Connection, conditions: list[Any], by: Sequence[str]) -> reports.Summary:
    """:func:`reports.summarize` of the times matching ``conditions`` (on ``times``), in SQL."""
    return Sums(connection, conditions, by).summarize(by)


def pivot(connection: Connection, conditions: list[Any], rows: str, columns: str) -> reports.Pivot:
    """:func:`reports.pivot` of the times matching ``conditions``, in SQL."""
    return Sums(connection, conditions, (rows, columns)).pivot(rows, columns)
