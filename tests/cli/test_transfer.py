"""export and import: the file formats, streaming, idempotent imports between two real servers."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pymesync import Client
from pymesync.cli._records import COLUMNS, Row, read_rows
from pymesync.server import storage
from pymesync.server.schema import times, timesactivities
from pymesync.server.testing import RunningServer

from .conftest import USER, Runner, environment, seeded_server

WEEK = "2026-W10"  # 2026-03-02 .. 2026-03-08
NOTES = 'notes, with "quotes" | a pipe\nand a second line'


@pytest.fixture
def server() -> Iterator[RunningServer]:
    """A fresh seeded server per test: each test logs the same week."""
    yield from seeded_server()


@pytest.fixture
def second() -> Iterator[RunningServer]:
    """Another server with the same users and catalogue, to import into."""
    yield from seeded_server()


@pytest.fixture
def logged(logged_in: Runner) -> Runner:
    for args in (
        ("1h30m", "gwm", "docs", "--date", "2026-03-02", "-m", NOTES),
        ("2h", "pgd", "dev", "review", "--date", "2026-03-03", "--issue", "https://example.com/i/1"),
        ("1h", "gwm", "--date", "2026-03-03"),
        ("1h", "gwm", "--date", "2026-03-03"),  # the same twice: two entries, and both must be imported
    ):
        logged_in("log", *args)
    return logged_in


def _entries(server: RunningServer) -> list[tuple[object, ...]]:
    """What must survive an export and import: everything but the uuid, revision and timestamps."""
    with Client(server.base_url, username=USER[0], password=USER[1]) as client:
        found = client.times.list(user=USER[0])
    return sorted(
        (e.date_worked, e.user, e.project, tuple(sorted(e.activities)), e.duration, e.notes, e.issue_uri)
        for e in found
    )


def _rows(text: str) -> list[Row]:
    found = list(read_rows(io.StringIO(text)))
    assert all(isinstance(row, Row) for row in found), found
    return found  # type: ignore[return-value]


def test_csv_has_the_documented_columns_and_values(logged: Runner) -> None:
    out = logged("export", "--period", WEEK).stdout
    records = list(csv.DictReader(io.StringIO(out)))
    assert tuple(records[0]) == COLUMNS
    first = next(record for record in records if record["notes"])
    assert first["notes"] == NOTES and first["duration"] == "5400" and first["hours"] == "1.50"
    assert first["project"] == "ganeti" and first["activities"] == "docs" and first["user"] == "alice"
    pgd = next(record for record in records if record["project"] == "pgd")
    assert pgd["activities"] == "dev review" and pgd["issue_uri"] == "https://example.com/i/1"
    assert len(records) == 4 and all(len(record["uuid"]) == 36 for record in records)


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_every_format_reads_back_the_same(logged: Runner, fmt: str) -> None:
    rows = _rows(logged("export", "--period", WEEK, "-f", fmt).stdout)
    reference = _rows(logged("export", "--period", WEEK, "-f", "csv").stdout)
    assert [(row.uuid, row.notes, row.activities) for row in rows] == [
        (row.uuid, row.notes, row.activities) for row in reference
    ]
    if fmt == "json":
        assert len(json.loads(logged("export", "--period", WEEK, "-f", fmt).stdout)) == 4


def test_markdown_escapes_pipes_and_newlines(logged: Runner) -> None:
    lines = logged("export", "--period", WEEK, "-f", "md").stdout.splitlines()
    assert len(lines) == 2 + 4 and lines[0].startswith("| uuid | date_worked |")
    assert any('with "quotes" \\| a pipe and a second line' in line for line in lines)


def test_filters_and_empty_exports(logged: Runner) -> None:
    rows = _rows(logged("export", "--period", WEEK, "-p", "pgd", "-f", "ndjson").stdout)
    assert [row.project for row in rows] == ["pgd"]
    assert logged("export", "--period", "2020-01-01", "-f", "json").stdout == "[]\n"
    assert logged("export", "--period", "2020-01-01").stdout == ",".join(COLUMNS) + "\n"
    assert "invalid period" in logged("export", "--period", "soon", code=2).stderr
    assert "choose one period" in logged("export", "--week", "--month", code=2).stderr


def test_output_file_takes_its_format_from_the_extension(logged: Runner, tmp_path: Path) -> None:
    target = tmp_path / "week.ndjson"
    result = logged("export", "--period", WEEK, "-o", str(target))
    assert "Exported 4 entries from 2026-03-02 to 2026-03-08" in result.stderr and result.stdout == ""
    assert len(_rows(target.read_text())) == 4 and target.read_text().startswith("{")
    assert "no directory" in logged("export", "-o", str(tmp_path / "missing" / "x.csv"), code=2).stderr


def test_a_failed_export_leaves_the_old_file_and_no_temporary(
    logged: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "backup.csv"
    target.write_text("the previous export\n")
    monkeypatch.setenv("TIMESYNC_URL", "http://127.0.0.1:9/v1")  # nothing listens on the discard port
    monkeypatch.setenv("TIMESYNC_PASSWORD", USER[1])
    assert "cannot reach" in logged("export", "-o", str(target), code=7).stderr
    assert target.read_text() == "the previous export\n"
    assert [path.name for path in target.parent.iterdir()] == ["backup.csv"]


def _insert_copies(server: RunningServer, count: int) -> None:
    """``count`` copies of the one entry on the server, written straight into its database (fast)."""
    engine = storage.create_engine(server.database_url)
    try:
        with storage.transaction(engine, write=True) as connection:
            model = connection.execute(sa.select(times)).mappings().one()
            activity = connection.execute(sa.select(timesactivities.c.activity)).scalar_one()
            base = {key: value for key, value in model.items() if key != "id"}
            rows = [
                {**base, "uuid": str(uuid.uuid4()), "notes": f"entry {n} " + "x" * 40} for n in range(count)
            ]
            connection.execute(sa.insert(times), rows)
            ids = connection.execute(sa.select(times.c.id).where(times.c.id != model["id"])).scalars()
            connection.execute(sa.insert(timesactivities), [{"time": i, "activity": activity} for i in ids])
    finally:
        engine.dispose()


_PEAK = """
import sys, tracemalloc
tracemalloc.start()
from pymesync.cli import cli
try:
    cli.main(sys.argv[1:])
except SystemExit as done:
    code = done.code or 0
print(tracemalloc.get_traced_memory()[1], code, file=sys.stderr)
"""


def _export_peak(run: Runner, target: Path) -> int:
    """The peak of memory the export allocated (tracemalloc), in a process of its own."""
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, "export", "-o", str(target)],
        env=environment(run.home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    peak, code = done.stderr.splitlines()[-1].split()
    assert code == "0", done.stderr
    return int(peak)


def test_export_streams_twenty_thousand_entries_in_bounded_memory(logged_in: Runner, tmp_path: Path) -> None:
    """Export reads the local copy row by row and writes each entry as it comes. Holding the 20,000
    parsed entries would take about 20 MB more than exporting one; streaming takes a few MB more."""
    logged_in("log", "1h", "gwm", "docs", "--date", "2026-03-02")
    target = tmp_path / "all.csv"
    one = _export_peak(logged_in, target)
    _insert_copies(logged_in.server, 19_999)
    logged_in("sync")  # the local copy reads the feed a page (2,000 entries) at a time; export reads the copy
    many = _export_peak(logged_in, target)
    lines = target.read_text().splitlines()
    assert len(lines) == 20_001 and len(set(lines)) == 20_001
    assert many - one < 8_000_000, f"{(many - one) / 1e6:.1f} MB more for 20,000 entries than for one"


# ----------------------------------------------------------------------------------------------------
# import


def _into(run: Runner, target: RunningServer) -> Runner:
    """``run`` with profile ``b`` logged in to ``target`` as well."""
    run("-P", "b", "login", "--server", target.base_url, "--user", USER[0], "--password-stdin", input=USER[1])
    return run


def test_export_then_import_into_another_server_twice(
    logged: Runner, second: RunningServer, tmp_path: Path
) -> None:
    source = tmp_path / "week.csv"
    logged("export", "--period", WEEK, "-o", str(source))
    _into(logged, second)
    first = logged("-P", "b", "import", str(source))
    assert "Created 4 entries, skipped 0 already there, 0 failed." in first.stderr
    assert _entries(second) == _entries(logged.server) and len(_entries(second)) == 4
    again = logged("-P", "b", "import", str(source))
    assert "Created 0 entries, skipped 4 already there, 0 failed." in again.stderr
    assert len(_entries(second)) == 4


def test_importing_into_the_same_server_matches_uuids(logged: Runner, tmp_path: Path) -> None:
    source = tmp_path / "week.json"
    logged("export", "--period", WEEK, "-o", str(source))
    logged("edit", "last", "--duration", "+15m")  # changed since the export: kept as it is now
    plan = logged("import", "--dry-run", str(source)).stdout.splitlines()
    assert len(plan) == 4 and all(line.startswith("skip\t") for line in plan)
    assert sum("changed since (left as is)" in line for line in plan) == 1
    logged("import", str(source))
    assert len(_entries(logged.server)) == 4


def test_an_interrupted_import_finishes_on_the_next_run(
    logged: Runner, second: RunningServer, tmp_path: Path
) -> None:
    """What a killed import leaves (the first rows created, under new uuids) is found by content."""
    source, partial = tmp_path / "all.csv", tmp_path / "partial.csv"
    logged("export", "--period", WEEK, "-o", str(source))
    lines = source.read_text().splitlines(keepends=True)
    header_and_two = "".join(lines[: lines.index(next(line for line in lines if ",pgd," in line)) + 1])
    partial.write_text(header_and_two)
    _into(logged, second)
    logged("-P", "b", "import", str(partial))
    assert len(_entries(second)) == 2
    result = logged("-P", "b", "import", str(source))
    assert "Created 2 entries, skipped 2 already there" in result.stderr
    assert _entries(second) == _entries(logged.server)


def test_bad_rows_are_reported_with_their_line_and_the_rest_imported(
    logged_in: Runner, tmp_path: Path
) -> None:
    source = tmp_path / "hand-made.csv"
    source.write_text(
        "date_worked,project,duration,activities,notes\n"
        "2026-03-09,gwm,1h30m,docs,fine\n"  # 2
        "2026-03-09,gwm,ninety,,bad duration\n"  # 3
        "2026-03-09,nope,1h,,unknown project\n"  # 4
        '2026-03-09,gwm,1h,,"notes over\ntwo lines"\n'  # 5-6
        "2026-03-32,gwm,1h,,bad date\n"  # 7
        "2026-03-09,gwm\n"  # 8: missing columns
        "2026-03-10,pgd,45m,review,fine too\n"  # 9
        "2026-03-10,gwm,1h,nosuch,unknown activity\n"  # 10
    )
    result = logged_in("import", str(source), code=3)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: line")]
    assert errors == [
        "Error: line 3: invalid duration 'ninety'; use seconds (5400) or 1h30m, 90m, 1.5h, 1:30 or 45m",
        "Error: line 4: unknown project 'nope'",
        "Error: line 7: invalid date_worked '2026-03-32'; use YYYY-MM-DD",
        "Error: line 8: missing column duration (the row is short)",
        "Error: line 10: unknown activity 'nosuch'",
    ]
    assert "Created 3 entries, skipped 0 already there, 5 failed." in result.stderr
    assert "5 rows not imported" in result.stderr.splitlines()[-1]
    assert result.stdout == ""
    again = logged_in("import", str(source), code=3)
    assert "Created 0 entries, skipped 3 already there, 5 failed." in again.stderr
    with Client(logged_in.server.base_url, username=USER[0], password=USER[1]) as client:
        notes = sorted(entry.notes or "" for entry in client.times.list(start="2026-03-09", end="2026-03-10"))
    assert notes == ["fine", "fine too", "notes over\ntwo lines"]


def test_rows_the_server_refuses_are_reported_too(logged_in: Runner, tmp_path: Path) -> None:
    source = tmp_path / "someone-else.ndjson"
    source.write_text(
        '{"date_worked": "2026-03-11", "project": "gwm", "duration": 600, "user": "admin"}\n'
        '{"date_worked": "2026-03-11", "project": "gwm", "duration": 600}\n'
    )
    result = logged_in("import", str(source), code=3)
    assert "Error: line 1: " in result.stderr and "Created 1 entry" in result.stderr


def test_dry_run_creates_nothing(logged_in: Runner, tmp_path: Path) -> None:
    source = tmp_path / "one.csv"
    source.write_text("date_worked,project,duration\n2026-03-12,gwm,3600\n2026-03-12,gwm,3600\n")
    plan = logged_in("import", "-n", str(source)).stdout.splitlines()
    assert plan == [
        "create\tline 2\t1h on gwm, 2026-03-12, alice",
        "create\tline 3\t1h on gwm, 2026-03-12, alice",
    ]
    assert len(_entries(logged_in.server)) == 0
    logged_in("import", str(source))
    assert len(_entries(logged_in.server)) == 2  # two identical rows: two entries


def test_stdin_and_unreadable_files(logged_in: Runner, tmp_path: Path) -> None:
    row = '{"date_worked": "2026-03-13", "project": "pgd", "duration": "15m", "activities": ["dev"]}'
    assert "Created 1 entry" in logged_in("import", "-", input=f"[{row}]").stderr
    assert "no date_worked" in logged_in("import", "-", input="day,project,duration\n", code=2).stderr
    assert "not closed" in logged_in("import", "-", input=f"[{row},", code=2).stderr
    binary = tmp_path / "x.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert "not UTF-8" in logged_in("import", str(binary), code=2).stderr
    assert "No such file" in logged_in("import", str(tmp_path / "missing.csv"), code=2).stderr
    assert "Created 0 entries, skipped 0" in logged_in("import", "-", input="").stderr


def test_export_and_import_as_real_processes(logged: Runner, second: RunningServer, tmp_path: Path) -> None:
    env = environment(logged.home)
    _into(logged, second)
    exported = subprocess.run(
        [sys.executable, "-m", "pymesync.cli", "export", "--period", WEEK, "-f", "ndjson"],
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    )
    for expected in ("Created 4 entries", "Created 0 entries, skipped 4"):
        imported = subprocess.run(
            [sys.executable, "-m", "pymesync.cli", "-P", "b", "import", "-"],
            env=env,
            input=exported.stdout,
            capture_output=True,
            timeout=60,
        )
        assert imported.returncode == 0 and expected in imported.stderr.decode()
        assert b"Importing" not in imported.stderr  # no progress bar when stderr is not a terminal
    assert _entries(second) == _entries(logged.server)


def test_deleted_entries_are_exported_on_request_and_never_imported(logged: Runner, tmp_path: Path) -> None:
    logged("rm", "last", "-y")
    assert len(_rows(logged("export", "--period", WEEK).stdout)) == 3
    source = tmp_path / "with-deleted.csv"
    logged("export", "--period", WEEK, "--include-deleted", "-o", str(source))
    rows = _rows(source.read_text())
    assert len(rows) == 4 and sum(row.deleted for row in rows) == 1
    plan = logged("import", "-n", str(source)).stdout
    assert plan.count("deleted at the source") == 1 and "create" not in plan
