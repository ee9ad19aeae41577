"""Reports: grouping, nesting, pivot, chart, rounding, target, formats; and the reports core they use."""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest

from pymesync import Client
from pymesync.models import Time
from pymesync.reports import nest, pivot
from pymesync.server.testing import RunningServer

from .conftest import ADMIN, USER, Runner, seeded_server

WEEK = "2026-W10"  # 2026-03-02 .. 2026-03-08


@pytest.fixture
def server() -> Iterator[RunningServer]:
    """A fresh seeded server per test: each test logs the same week."""
    yield from seeded_server()


@pytest.fixture
def week_logged(logged_in: Runner) -> Runner:
    for args in (
        ("1h", "gwm", "--date", "2026-03-02"),
        ("30m", "gwm", "docs", "--date", "2026-03-02"),
        ("2h", "pgd", "dev", "--date", "2026-03-03"),
        ("10m", "gwm", "review", "--date", "2026-03-04"),
    ):
        logged_in("log", *args)
    return logged_in


def _report(run: Runner, *args: str) -> list[dict[str, object]]:
    return json.loads(run("report", "--period", WEEK, *args, "--json").stdout)


def test_report_by_project(week_logged: Runner) -> None:
    rows = {row["project"]: row["seconds"] for row in _report(week_logged)}
    assert rows["ganeti"] == 6000 and rows["pgd"] == 7200


def test_nested_by_has_subtotals(week_logged: Runner) -> None:
    out = week_logged("report", "--period", WEEK, "--by", "project", "--by", "activity").stdout
    lines = out.splitlines()
    gwm = next(index for index, line in enumerate(lines) if line.startswith("ganeti\t"))
    assert lines[gwm] == "ganeti\t1h40m\t3"
    assert "  dev\t1h\t1" in lines[gwm + 1 : gwm + 4]


def test_pivot_day_project_csv(week_logged: Runner) -> None:
    out = week_logged("report", "--period", WEEK, "--pivot", "day:project", "-f", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["day"] == "2026-03-02 Mon" and rows[0]["ganeti"] == "1.5" and rows[0]["total"] == "1.5"
    assert rows[1]["pgd"] == "2.0"


def test_a_key_given_twice_is_refused(week_logged: Runner) -> None:
    result = week_logged("report", "--period", WEEK, "--by", "activity", "--by", "activity", code=2)
    assert "--by activity is given twice" in result.stderr and "Traceback" not in result.stderr
    result = week_logged("report", "--period", WEEK, "--pivot", "activity:activity", code=2)
    assert "invalid --pivot 'activity:activity'" in result.stderr


def test_week_shortcut_is_the_pivot_table(week_logged: Runner) -> None:
    out = week_logged("week", "-f", "table").stdout
    assert out.splitlines()[0].split()[0] == "day"


def test_rounding_and_decimal_and_target(week_logged: Runner) -> None:
    rows = {row["project"]: row["seconds"] for row in _report(week_logged, "--round", "15m")}
    assert rows["ganeti"] == 3600 + 1800 + 900  # 10m rounds up to 15m
    result = week_logged("report", "--period", WEEK, "--decimal", "--target", "40h", "-f", "table")
    assert "Total 2026-03-02..2026-03-08: 3.67 of 40.00 target (9%)" in result.stdout


def test_chart_draws_bars_with_colour_only_when_asked(week_logged: Runner) -> None:
    plain = week_logged("report", "--period", WEEK, "--chart", "-f", "table").stdout
    assert "█" in plain and "\x1b[" not in plain
    coloured = week_logged("--color", "always", "report", "--period", WEEK, "--chart", "-f", "table").stdout
    assert "\x1b[" in coloured


@pytest.mark.parametrize(
    "args",
    [
        ("--pivot", "day"),
        ("--pivot", "day:day"),
        ("--by", "hour"),
        ("--round", "15"),
        ("--target", "x"),
        ("--pivot", "day:project", "--by", "user"),
    ],
)
def test_bad_report_options_exit_2(logged_in: Runner, args: tuple[str, ...]) -> None:
    assert logged_in("report", *args, code=2).stderr.strip()


def test_today_lists_today(logged_in: Runner) -> None:
    logged_in("log", "25m", "gwm", "-m", "today test")
    records = json.loads(logged_in("today", "--json").stdout)
    assert [record["notes"] for record in records if record["notes"] == "today test"] == ["today test"]


def _time(day: int, project: str, seconds: int, *activities: str) -> Time:
    return Time(
        duration=seconds, project=(project,), activities=activities, date_worked=datetime.date(2026, 3, day)
    )


def test_core_nest_and_pivot() -> None:
    entries = [_time(2, "a", 60, "x"), _time(2, "a", 120, "y"), _time(3, "b", 30, "x", "y")]
    rows = [(row.depth, row.group, row.seconds) for row in nest(entries, ("project", "activity"))]
    assert rows == [
        (0, ("a",), 180),
        (1, ("a", "x"), 60),
        (1, ("a", "y"), 120),
        (0, ("b",), 30),
        (1, ("b", "x"), 30),
        (1, ("b", "y"), 30),
    ]
    grid = pivot(entries, "project", "activity")
    assert grid.row_totals == {"a": 180, "b": 30}  # b's entry counts once, though it has two activities
    assert grid.cells[("b", "y")] == 30 and grid.total_seconds == 210


_SVG = "{http://www.w3.org/2000/svg}"


def _chart(run: Runner, tmp_path: Path, *args: str) -> ElementTree.Element:
    target = tmp_path / "chart.svg"
    result = run("report", "--period", WEEK, *args, "--output", str(target))
    assert f"Chart written to {target}" in result.stderr
    return ElementTree.parse(target).getroot()


def _bars(root: ElementTree.Element) -> dict[str, dict[str, int]]:
    """group → segment → seconds, read back from the SVG's bars."""
    return {
        bar.attrib["data-group"]: {
            rect.attrib["data-segment"]: int(rect.attrib["data-seconds"]) for rect in bar.iter(f"{_SVG}rect")
        }
        for bar in root.iter(f"{_SVG}g")
        if bar.attrib.get("class") == "bar"
    }


def test_svg_chart_by_day_is_stacked_by_project(week_logged: Runner, tmp_path: Path) -> None:
    root = _chart(week_logged, tmp_path, "--by", "day")
    assert _bars(root) == {
        "2026-03-02 Mon": {"ganeti": 5400},
        "2026-03-03 Tue": {"pgd": 7200},
        "2026-03-04 Wed": {"ganeti": 600},
    }
    assert root.findtext(f"{_SVG}title") == "Time per day, 2026-03-02..2026-03-08: 3h40m"
    values = [text.text for text in root.iter(f"{_SVG}text") if text.attrib.get("class") == "value"]
    assert values == ["1h30m", "2h", "10m"]
    tips = [title.text for title in root.iter(f"{_SVG}title")]
    assert "2026-03-03 Tue · pgd: 2h" in tips
    widths = {
        rect.attrib["data-segment"]: float(rect.attrib["width"])
        for rect in root.iter(f"{_SVG}rect")
        if rect.attrib.get("class") == "segment" and rect.attrib["data-seconds"] in ("7200", "5400")
    }
    assert widths["pgd"] / widths["ganeti"] == pytest.approx(7200 / 5400, rel=0.01)  # lengths are to scale


def test_svg_chart_by_project_and_activity(week_logged: Runner, tmp_path: Path) -> None:
    bars = _bars(_chart(week_logged, tmp_path, "--by", "project", "--by", "activity"))
    assert bars == {"ganeti": {"dev": 3600, "docs": 1800, "review": 600}, "pgd": {"dev": 7200}}
    bars = _bars(_chart(week_logged, tmp_path))
    assert bars == {"ganeti": {"ganeti": 6000}, "pgd": {"pgd": 7200}}
    pivot_bars = _bars(_chart(week_logged, tmp_path, "--pivot", "project:day"))
    assert pivot_bars["ganeti"] == {"2026-03-02 Mon": 5400, "2026-03-04 Wed": 600}


def test_svg_output_refuses_other_formats_before_doing_anything(logged_in: Runner, tmp_path: Path) -> None:
    for name in ("chart.png", "chart", "chart.svg.txt"):
        result = logged_in("report", "--output", str(tmp_path / name), code=2)
        assert "SVG only" in result.stderr and result.stdout == ""
    assert "no directory" in logged_in("report", "--output", str(tmp_path / "no" / "c.svg"), code=2).stderr
    assert list(tmp_path.glob("*.svg")) == []
    empty = _chart(logged_in, tmp_path, "--by", "week")
    assert _bars(empty) == {} and "0m" in (empty.findtext(f"{_SVG}title") or "")


def test_a_renamed_project_shows_its_new_slugs(logged_in: Runner) -> None:
    """The feed does not send a renamed project's times again; the local copy rewrites their slugs."""
    member = {"member": True, "spectator": False, "manager": False}
    with Client(logged_in.server.base_url, username=ADMIN[0], password=ADMIN[1]) as admin:
        admin.projects.create(name="Old", slugs=["old"], default_activity="dev", users={USER[0]: member})
        logged_in("log", "1h", "old", "--date", "2026-03-02")
        logged_in("log", "1h", "gwm", "--date", "2026-03-02")
        assert "old" in logged_in("ls", "--period", WEEK).stdout  # the copy holds the entry now
        admin.projects.update("old", slugs=["zz-new"])
    listed = logged_in("ls", "--period", WEEK).stdout
    assert "zz-new" in listed and "old" not in listed
    report = json.loads(logged_in("report", "--period", WEEK, "--json").stdout)
    assert sorted(row["project"] for row in report) == ["ganeti", "zz-new"]
    by_project = logged_in("report", "--period", WEEK, "-p", "zz-new", "--json").stdout
    assert [row["project"] for row in json.loads(by_project)] == ["zz-new"]
    assert "no project 'old'" in logged_in("ls", "-p", "old", code=5).stderr
