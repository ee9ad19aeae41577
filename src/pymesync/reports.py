"""Totals of logged time per group: the sans-IO half of ``client.times.summary``.

Grouping keys:

* ``project``: the project's first slug (the server sorts them, so it is stable);
* ``activity``: each activity of an entry; an entry with two activities counts fully towards both, so the
  activity totals can add up to more than the overall total;
* ``user``: the username;
* ``day``: ``date_worked`` as a :class:`datetime.date`;
* ``week``: the Monday of ``date_worked``'s ISO week, as a :class:`datetime.date`;
* ``month``: the first day of ``date_worked``'s month, as a :class:`datetime.date`.

:func:`summarize` gives flat rows per combination of keys; :func:`nest` the same as a tree with subtotals
(repeated ``--by`` in the command line); :func:`pivot` a grid of one key against another (days × projects,
the week sheet billing tools take).

The keys read only :data:`GROUPED_FIELDS` of an entry, so entries equal in those fall in the same groups
whatever ``by`` is. A store that can sum for itself (the command line's SQLite copy) hands each such set
over as one :class:`Gathered` instead of every entry; the rules above stay defined here, once.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Final

from pymesync.models import ByFieldValues, Time, frozen_dataclass, set_field

__all__ = [
    "GROUPED_FIELDS",
    "GROUPS",
    "READS",
    "Gathered",
    "NestedRow",
    "Pivot",
    "Summary",
    "SummaryRow",
    "fields_read",
    "nest",
    "pivot",
    "pivot_of",
    "summarize",
    "summary_of",
]

GroupValue = str | datetime.date | None


def _projects(entry: Time) -> list[GroupValue]:
    return [entry.project[0] if entry.project else None]


def _activities(entry: Time) -> list[GroupValue]:
    return list(entry.activities) or [None]


def _users(entry: Time) -> list[GroupValue]:
    return [entry.user]


def _days(entry: Time) -> list[GroupValue]:
    return [entry.date_worked]


def _weeks(entry: Time) -> list[GroupValue]:
    day = entry.date_worked
    return [None if day is None else day - datetime.timedelta(days=day.weekday())]


def _months(entry: Time) -> list[GroupValue]:
    day = entry.date_worked
    return [None if day is None else day.replace(day=1)]


GROUPS: Final[dict[str, Callable[[Time], list[GroupValue]]]] = {
    "project": _projects,
    "activity": _activities,
    "user": _users,
    "day": _days,
    "week": _weeks,
    "month": _months,
}


#: Every field of an entry that a key of :data:`GROUPS` reads.
GROUPED_FIELDS: Final = ("project", "activities", "user", "date_worked")
#: The one field each key of :data:`GROUPS` reads.
READS: Final = {
    "project": "project",
    "activity": "activities",
    "user": "user",
    "day": "date_worked",
    "week": "date_worked",
    "month": "date_worked",
}


def fields_read(keys: Iterable[str]) -> tuple[str, ...]:
    """The fields of :data:`GROUPED_FIELDS` that ``keys`` read: entries equal in these fall in the same
    groups for those keys, whatever their other fields."""
    read = {READS[key] for key in keys}
    return tuple(field for field in GROUPED_FIELDS if field in read)


@frozen_dataclass()
class Gathered(ByFieldValues):
    """Entries equal in :data:`GROUPED_FIELDS`, summed beforehand: ``like`` has those fields (its duration
    is not read), ``seconds`` and ``entries`` are the sums of the set.

    Summed for given keys only, the entries need only be equal in the fields those keys read
    (:func:`fields_read`); ``like`` then has those fields and leaves the others empty.
    """

    like: Time
    seconds: int
    entries: int

    def __init__(self, like: Time, seconds: int, entries: int) -> None:
        set_field(self, "like", like)
        set_field(self, "seconds", seconds)
        set_field(self, "entries", entries)


Entries = Iterable[Time | Gathered]


def _weighted(entries: Entries) -> Iterator[tuple[Time, int, int]]:
    """``(entry, seconds, count)``: an entry counts once with its duration, a :class:`Gathered` with its
    sums."""
    for item in entries:
        if isinstance(item, Gathered):
            yield item.like, item.seconds, item.entries
        else:
            yield item, item.duration, 1


@frozen_dataclass()
class SummaryRow(ByFieldValues):
    """One group: its values in the order of ``by``, the total seconds and the number of entries."""

    group: tuple[GroupValue, ...]
    seconds: int
    entries: int

    def __init__(self, group: tuple[GroupValue, ...], seconds: int, entries: int) -> None:
        set_field(self, "group", group)
        set_field(self, "seconds", seconds)
        set_field(self, "entries", entries)

    @property
    def duration(self) -> datetime.timedelta:
        return datetime.timedelta(seconds=self.seconds)


@frozen_dataclass()
class Summary(ByFieldValues):
    """Rows sorted by group (``None`` first), and the overall totals of the entries read."""

    by: tuple[str, ...]
    rows: tuple[SummaryRow, ...]
    total_seconds: int
    entries: int

    def __init__(
        self, by: tuple[str, ...], rows: tuple[SummaryRow, ...], total_seconds: int, entries: int
    ) -> None:
        set_field(self, "by", by)
        set_field(self, "rows", rows)
        set_field(self, "total_seconds", total_seconds)
        set_field(self, "entries", entries)

    def as_dicts(self) -> list[dict[str, object]]:
        """One flat dict per row (group keys, then ``seconds`` and ``entries``), for tables, CSV or JSON."""
        return [
            {**dict(zip(self.by, row.group, strict=True)), "seconds": row.seconds, "entries": row.entries}
            for row in self.rows
        ]


def _sort_key(group: tuple[GroupValue, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((value is not None, "" if value is None else str(value)) for value in group)


def summarize(entries: Entries, by: Sequence[str] = ("project",)) -> Summary:
    """Total ``duration`` of ``entries`` per combination of the ``by`` keys (see the module docstring)."""
    keys = (by,) if isinstance(by, str) else tuple(by)
    unknown = [key for key in keys if key not in GROUPS]
    if unknown:
        raise ValueError(f"cannot group by {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        # activity by activity would pair an entry's activities with each other: a meaningless cell
        raise ValueError(f"group by each key once; {', '.join(repeated)} is repeated")
    totals: dict[tuple[GroupValue, ...], list[int]] = {}
    total_seconds = count = 0
    for entry, seconds, entries_in in _weighted(entries):
        total_seconds += seconds
        count += entries_in
        groups: list[tuple[GroupValue, ...]] = [()]
        for key in keys:
            groups = [(*group, value) for group in groups for value in GROUPS[key](entry)]
        for group in groups:
            sums = totals.setdefault(group, [0, 0])
            sums[0] += seconds
            sums[1] += entries_in
    return summary_of(keys, totals, total_seconds, count)


def summary_of(
    by: tuple[str, ...],
    totals: Mapping[tuple[GroupValue, ...], Sequence[int]],
    total_seconds: int,
    entries: int,
) -> Summary:
    """The :class:`Summary` of ``[seconds, entries]`` per group, sorted as :func:`summarize` sorts: for
    totals summed elsewhere (the web page sums them in the database)."""
    rows = tuple(
        SummaryRow(group, sums[0], sums[1])
        for group, sums in sorted(totals.items(), key=lambda kv: _sort_key(kv[0]))
    )
    return Summary(by, rows, total_seconds, entries)


@frozen_dataclass()
class NestedRow(ByFieldValues):
    """One line of a nested report: its depth (0 for the first key), its group so far, and totals."""

    depth: int
    group: tuple[GroupValue, ...]
    seconds: int
    entries: int

    def __init__(self, depth: int, group: tuple[GroupValue, ...], seconds: int, entries: int) -> None:
        set_field(self, "depth", depth)
        set_field(self, "group", group)
        set_field(self, "seconds", seconds)
        set_field(self, "entries", entries)

    @property
    def value(self) -> GroupValue:
        return self.group[-1]


def nest(entries: Entries, by: Sequence[str]) -> list[NestedRow]:
    """Subtotals for every prefix of ``by``, each row followed by its children (depth-first, sorted)."""
    items = list(entries)
    keys = tuple(by)
    levels = [summarize(items, keys[: depth + 1]) for depth in range(len(keys))]
    children: dict[tuple[GroupValue, ...], list[SummaryRow]] = {}
    for level in levels:
        for row in level.rows:
            children.setdefault(row.group[:-1], []).append(row)
    out: list[NestedRow] = []

    def walk(parent: tuple[GroupValue, ...]) -> None:
        for row in children.get(parent, []):
            out.append(NestedRow(len(row.group) - 1, row.group, row.seconds, row.entries))
            walk(row.group)

    walk(())
    return out


@frozen_dataclass()
class Pivot(ByFieldValues):
    """Seconds per (row value, column value), with totals per row, per column and overall."""

    rows_by: str
    columns_by: str
    row_values: tuple[GroupValue, ...]
    column_values: tuple[GroupValue, ...]
    cells: dict[tuple[GroupValue, GroupValue], int]
    row_totals: dict[GroupValue, int]
    column_totals: dict[GroupValue, int]
    total_seconds: int

    def __init__(
        self,
        rows_by: str,
        columns_by: str,
        row_values: tuple[GroupValue, ...],
        column_values: tuple[GroupValue, ...],
        cells: dict[tuple[GroupValue, GroupValue], int],
        row_totals: dict[GroupValue, int],
        column_totals: dict[GroupValue, int],
        total_seconds: int,
    ) -> None:
        set_field(self, "rows_by", rows_by)
        set_field(self, "columns_by", columns_by)
        set_field(self, "row_values", row_values)
        set_field(self, "column_values", column_values)
        set_field(self, "cells", cells)
        set_field(self, "row_totals", row_totals)
        set_field(self, "column_totals", column_totals)
        set_field(self, "total_seconds", total_seconds)


def pivot(entries: Entries, rows: str, columns: str) -> Pivot:
    """A ``rows`` × ``columns`` grid, e.g. ``pivot(entries, "day", "project")`` for a week sheet.

    Row and column totals are summed from the entries themselves, so an entry with two activities counts
    once in a row total even when ``activity`` is the column key.
    """
    items = list(entries)
    grid = summarize(items, (rows, columns))
    return pivot_of(grid, summarize(items, (rows,)), summarize(items, (columns,)))


def pivot_of(grid: Summary, row_sums: Summary, column_sums: Summary) -> Pivot:
    """The :class:`Pivot` of a two-key summary and the summaries of each key alone."""
    return Pivot(
        grid.by[0],
        grid.by[1],
        tuple(row.group[0] for row in row_sums.rows),
        tuple(row.group[0] for row in column_sums.rows),
        {(row.group[0], row.group[1]): row.seconds for row in grid.rows},
        {row.group[0]: row.seconds for row in row_sums.rows},
        {row.group[0]: row.seconds for row in column_sums.rows},
        grid.total_seconds,
    )
