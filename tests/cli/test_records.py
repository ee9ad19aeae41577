"""The export format: whatever the writer writes, the reader reads back the same (property tests), and
what the reader refuses, it refuses with the line it is on."""

from __future__ import annotations

import datetime
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pymesync.cli._records import EntryWriter, FileFormatError, Row, RowError, parse_row, read_rows
from pymesync.models import Time

slugs = st.from_regex(r"[a-z][a-z0-9-]{0,11}", fullmatch=True)
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40).filter(
    lambda value: value.strip() == value
)
entries = st.builds(
    Time,
    uuid=st.uuids().map(str),
    revision=st.integers(1, 50),
    duration=st.integers(1, 10**6),
    user=slugs,
    project=st.lists(slugs, min_size=1, max_size=3).map(tuple),
    activities=st.lists(slugs, max_size=3).map(tuple),
    date_worked=st.dates(datetime.date(1970, 1, 1), datetime.date(9999, 12, 31)),
    notes=st.none() | text.filter(bool),
    issue_uri=st.none() | st.from_regex(r"https://[a-z]{1,10}\.example/[0-9]{1,5}", fullmatch=True),
)


def _written(fmt: str, items: list[Time]) -> str:
    out = io.StringIO()
    writer = EntryWriter(fmt, out)
    for item in items:
        writer.write(item)
    writer.close()
    return out.getvalue()


@given(st.lists(entries, max_size=5), st.sampled_from(["csv", "json", "ndjson"]))
def test_what_export_writes_import_reads(items: list[Time], fmt: str) -> None:
    rows = list(read_rows(io.StringIO(_written(fmt, items))))
    assert [
        (r.uuid, r.date_worked, r.user, r.project, r.activities, r.duration, r.notes, r.issue_uri)
        for r in rows
    ] == [
        (e.uuid, e.date_worked, e.user, e.project[0], e.activities, e.duration, e.notes, e.issue_uri)
        for e in items
    ]


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_line_separators_in_notes_stay_in_the_notes(fmt: str) -> None:
    item = Time(duration=60, project=("p",), date_worked=datetime.date(2026, 3, 1), notes="a\u2028b\rc\x85d")
    (row,) = read_rows(io.StringIO(_written(fmt, [item])))
    assert isinstance(row, Row) and row.notes == item.notes


@given(st.lists(entries, min_size=1, max_size=5))
def test_rows_know_the_line_they_start_on(items: list[Time]) -> None:
    written = _written("csv", items)
    for row in read_rows(io.StringIO(written)):
        assert isinstance(row, Row)
        assert written.split("\n")[row.line - 1].startswith(row.uuid or "")


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ({"date_worked": "2026-02-30", "project": "p", "duration": "60"}, "invalid date_worked"),
        ({"date_worked": "20260301", "project": "p", "duration": "60"}, "invalid date_worked"),
        ({"date_worked": "2026-03-01", "project": "p", "duration": "-60"}, "invalid duration"),
        ({"date_worked": "2026-03-01", "project": "p", "duration": "1.5"}, "invalid duration"),
        ({"date_worked": "2026-03-01", "project": "p", "duration": 0}, "more than zero"),
        ({"date_worked": "2026-03-01", "project": "p", "duration": True}, "invalid duration"),
        ({"date_worked": "2026-03-01", "duration": "60"}, "missing project"),
        ({"date_worked": "2026-03-01", "project": "p", "duration": "60", "uuid": "abc"}, "invalid uuid"),
        ({"date_worked": "2026-03-01", "project": "p", "duration": "60", "activities": [1]}, "activities"),
    ],
)
def test_bad_values_say_what_is_wrong(cells: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_row(1, cells)


def test_durations_are_seconds_or_what_people_type() -> None:
    base = {"date_worked": "2026-03-01", "project": "p"}
    assert [parse_row(1, {**base, "duration": value}).duration for value in ("90", 90, "1h30m", "1.5h")] == [
        90,
        90,
        5400,
        5400,
    ]


def test_json_errors_carry_their_line() -> None:
    good = '{"date_worked": "2026-03-01", "project": "p", "duration": 60}'
    found = list(read_rows(io.StringIO(f"[\n{good},\n[1],\n{good}\n]\n")))
    assert isinstance(found[0], Row) and found[0].line == 2
    assert found[1] == RowError(3, "not a JSON object") and isinstance(found[2], Row) and found[2].line == 4
    ndjson = list(read_rows(io.StringIO(f"{good}\n\n{{oops\n{good}\n")))
    assert [item.line for item in ndjson] == [1, 3, 4] and isinstance(ndjson[1], RowError)
    for broken in (f"[{good},", f"[{good},]", f"[{good} {good}]"):
        with pytest.raises(FileFormatError, match="line 1"):
            list(read_rows(io.StringIO(broken)))


def test_one_pretty_printed_object_is_one_row_and_markdown_is_refused() -> None:
    (row,) = read_rows(
        io.StringIO('\n{\n "date_worked": "2026-03-04",\n "project": "p",\n "duration": 60\n}\n')
    )
    assert isinstance(row, Row) and row.line == 2 and row.duration == 60
    with pytest.raises(FileFormatError, match="Markdown"):
        list(read_rows(io.StringIO("| uuid | date_worked |\n|---|---|\n")))
