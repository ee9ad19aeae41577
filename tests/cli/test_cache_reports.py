"""The local copy sums reports in SQL; what it hands over gives exactly what ``pymesync.reports`` gives from
the entries themselves (the grouping rules live there only)."""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pymesync.cli._cache import EntryCache
from pymesync.models import Time
from pymesync.reports import GROUPS, fields_read, nest, pivot, summarize

SLUGS = ("gwm", "ganeti", "x_y")
#: few days, so that entries often share groups, around the edges of weeks and months
DAYS = [datetime.date(2026, month, day) for month, day in ((2, 23), (2, 28), (3, 1), (3, 2), (3, 31), (4, 1))]

slug_lists = st.lists(st.sampled_from(SLUGS), max_size=3, unique=True).map(tuple)
entry = st.builds(
    Time,
    duration=st.integers(0, 30_000),
    user=st.sampled_from(["alice", "bob", None]),
    project=slug_lists,
    activities=slug_lists,
    date_worked=st.one_of(st.none(), st.sampled_from(DAYS)),
    notes=st.one_of(st.none(), st.text(max_size=5)),
)
entries = st.lists(entry, max_size=40)
#: entries stored again with other fields (the feed sends an entry again when it changes)
changes = st.lists(st.tuples(st.integers(0, 39), entry), max_size=10)
days = st.one_of(st.none(), st.sampled_from(DAYS))
keys = st.lists(st.sampled_from(list(GROUPS)), min_size=1, max_size=2, unique=True)


def chosen(
    items: list[Time],
    start: datetime.date | None,
    end: datetime.date | None,
    user: str | None,
    project: str | None,
    activity: str | None,
) -> list[Time]:
    """The entries ``GET /times`` would return for these filters, chosen in Python."""
    return [
        entry
        for entry in items
        if (start is None or (entry.date_worked is not None and entry.date_worked >= start))
        and (end is None or (entry.date_worked is not None and entry.date_worked <= end))
        and (user is None or entry.user == user)
        and (project is None or project in entry.project)
        and (activity is None or activity in entry.activities)
    ]


@settings(max_examples=300, deadline=None)
@given(
    items=entries,
    changed=changes,
    start=days,
    end=days,
    user=st.sampled_from(["alice", "bob", None]),
    project=st.one_of(st.none(), st.sampled_from(SLUGS)),
    activity=st.one_of(st.none(), st.sampled_from(SLUGS)),
    step=st.sampled_from([None, 1, 900, 3600]),
    by=keys,
)
def test_summed_in_sql_equals_the_reports_module(
    items: list[Time],
    changed: list[tuple[int, Time]],
    start: datetime.date | None,
    end: datetime.date | None,
    user: str | None,
    project: str | None,
    activity: str | None,
    step: int | None,
    by: list[str],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        cache = EntryCache(str(Path(folder) / "entries.sqlite"), "test")
        try:
            items = [
                dataclasses.replace(item, uuid=f"{n:08d}-0000-0000-0000-000000000000")
                for n, item in enumerate(items)
            ]
            for item in items:
                cache.store(item)
            for number, item in changed:
                if number < len(items):
                    items[number] = dataclasses.replace(item, uuid=items[number].uuid)
                    cache.store(items[number])
            chosen_by = {"start": start, "end": end, "user": user, "project": project, "activity": activity}
            gathered = cache.gathered(**chosen_by, step=step)
            pivoted = by if len(by) == 2 else [by[0], "day"]
            # summed per value of only the fields the keys read: fewer rows, the same groups
            for_by = cache.gathered(**chosen_by, step=step, fields=fields_read(by))
            for_pivot = cache.gathered(**chosen_by, step=step, fields=fields_read(pivoted))
            total = cache.seconds(start=start, end=end, user=user)
        finally:
            cache.close()
    assert total == sum(entry.duration for entry in chosen(items, start, end, user, None, None))
    expected = chosen(items, start, end, user, project, activity)
    if step:
        expected = [
            dataclasses.replace(entry, duration=-(-entry.duration // step) * step) for entry in expected
        ]
    for summed in (gathered, for_by, for_pivot):
        assert sum(alike.entries for alike in summed) == len(expected)
    assert len(for_by) <= len(gathered)
    for summed in (gathered, for_by):
        assert summarize(summed, by) == summarize(expected, by)
        assert nest(summed, by) == nest(expected, by)
    for rows, columns in itertools.permutations(pivoted, 2):
        if rows != columns:
            for summed in (gathered, for_pivot):
                assert pivot(summed, rows, columns) == pivot(expected, rows, columns)


def test_a_changed_entry_is_summed_as_it_is_now(tmp_path: Path) -> None:
    cache = EntryCache(str(tmp_path / "entries.sqlite"), "test")
    day = datetime.date(2026, 3, 2)
    first = Time(
        uuid="u1", duration=3600, user="alice", project=("gwm",), activities=("dev",), date_worked=day
    )
    cache.store(first)
    cache.store(dataclasses.replace(first, duration=600, activities=("docs",)))
    (alike,) = cache.gathered()
    assert (alike.seconds, alike.entries, alike.like.activities) == (600, 1, ("docs",))
    cache.close()


def test_a_file_of_an_older_layout_is_started_anew(tmp_path: Path) -> None:
    """Even one that was never synced (no owner written), whose tables lack today's columns."""
    import sqlite3

    path = tmp_path / "entries.sqlite"
    older = sqlite3.connect(path)
    older.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    older.execute("CREATE TABLE entries (position INTEGER PRIMARY KEY, uuid TEXT UNIQUE, duration INTEGER)")
    older.commit()
    older.close()
    cache = EntryCache(path, "test")
    day = datetime.date(2026, 3, 2)
    cache.store(Time(uuid="u1", duration=60, user="alice", project=("gwm",), date_worked=day))
    assert [entry.uuid for entry in cache.entries()] == ["u1"]
    assert [alike.seconds for alike in cache.gathered()] == [60]
    cache.close()
