"""Reports: totals per group (nested with repeated --by), a pivot grid, terminal bar charts; today, week.

The aggregation is :mod:`pymesync.reports` (the web page uses the same); this module only lays it out.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from pymesync._duration import HUMAN_FORMS, parse_human_duration
from pymesync.cli._app import App, pass_app
from pymesync.cli._errors import usage_error
from pymesync.cli._filters import Selection, selection_options
from pymesync.cli._output import Table, hours, output_options, resolve_format
from pymesync.cli._terminal import Terminal
from pymesync.reports import GROUPS, GroupValue, nest, pivot

if TYPE_CHECKING:
    from pathlib import Path

    from pymesync._periods import Period
    from pymesync.reports import Gathered

_BLOCKS = " ▏▎▍▌▋▊▉█"
_COLOURS = ("cyan", "magenta", "yellow", "green", "blue", "red", "bright_cyan", "bright_magenta")


def label(key: str, value: GroupValue) -> str:
    if value is None:
        return "(none)"
    if key == "week" and isinstance(value, datetime.date):
        year, week, _ = value.isocalendar()
        return f"{year}-W{week:02d}"
    if key == "month" and isinstance(value, datetime.date):
        return f"{value:%Y-%m}"
    if key == "day" and isinstance(value, datetime.date):
        return f"{value} {value:%a}"
    return str(value)


def bar(seconds: int, largest: int, width: int) -> str:
    """A bar of ``width`` cells for ``largest``, drawn in eighths of a cell."""
    if largest <= 0:
        return ""
    eighths = round(seconds / largest * width * 8)
    return "█" * (eighths // 8) + (_BLOCKS[eighths % 8] if eighths % 8 else "")


def colour_for(value: str) -> str:
    """The same project always gets the same colour, in every report."""
    import zlib  # only charts need it

    return _COLOURS[zlib.crc32(value.encode()) % len(_COLOURS)]


def _step(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    try:
        seconds = parse_human_duration(text)
    except ValueError:
        raise usage_error(f"invalid {option} {text!r}; use {HUMAN_FORMS}") from None
    if seconds <= 0:
        raise usage_error(f"{option} must be more than zero")
    return seconds


@click.command()
@selection_options(default_period="week")
@click.option(
    "--by",
    "by",
    multiple=True,
    type=click.Choice(list(GROUPS)),
    help="Group by this; repeat to nest (--by project --by activity). Default: project.",
)
@click.option(
    "--pivot", "pivot_spec", metavar="ROWS:COLUMNS", help="A grid, e.g. day:project (the week sheet)."
)
@click.option("--chart", is_flag=True, help="Draw bars in the terminal.")
@click.option("--target", metavar="DURATION", help="Compare the total with a target, e.g. 40h.")
@click.option("--decimal", is_flag=True, help="Hours as decimals (1.50) instead of 1h30m.")
@click.option("--round", "round_to", metavar="DURATION", help="Round each entry up to a multiple, e.g. 15m.")
@click.option("--output", "chart_file", metavar="FILE.svg", help="Also write the chart as an SVG image.")
@output_options
@pass_app
def report(
    app: App,
    selection: Any,
    by: tuple[str, ...],
    pivot_spec: str | None,
    chart: bool,
    target: str | None,
    decimal: bool,
    round_to: str | None,
    chart_file: str | None,
    fmt: str | None,
) -> None:
    """Totals of the period (this week by default) per group.

    \b
    timesync report --by project --by activity
    timesync report --last-week --pivot day:project -f csv
    timesync report --period 2026-Q4 --by month --chart
    timesync report --month --by day --output month.svg
    """
    chart_path = None if chart_file is None else _chart_path(chart_file)
    step = _step(round_to, "--round")
    goal = _step(target or app.config.profile(app.profile).get("target"), "--target")
    chosen: Selection = selection.resolve(app)
    grid = _pivot_keys(pivot_spec) if pivot_spec else None
    if grid and by:
        raise usage_error("--pivot and --by do not mix; choose one")
    repeated = sorted({key for key in by if by.count(key) > 1})
    if repeated:
        raise usage_error(f"--by {', '.join(repeated)} is given twice; group by each key once")
    keys = grid or by or ("project",)
    charted = (grid or chart_keys(keys)) if chart_file is not None else ()
    # summed by the local copy per value of what the keys read; each entry rounded up to step first
    entries = chosen.gathered(app, (*keys, *charted), step)
    fmt = resolve_format(fmt, app.term)
    if grid:
        _render_pivot(app.term, entries, grid, fmt, decimal)
    else:
        _render_nested(app.term, entries, by or ("project",), fmt, decimal, chart)
    if fmt in ("table", "plain"):
        total = sum(alike.seconds for alike in entries)
        line = f"Total {chosen.period}: {hours(total, decimal)}"
        if goal:
            line += f" of {hours(goal, decimal)} target ({total / goal:.0%})"
        app.term.info(line) if fmt == "plain" else app.term.out(app.term.style(line, bold=True))
    if chart_path is not None:
        _write_svg(chart_path, entries, charted, chosen.period)
        app.term.info(f"Chart written to {chart_file}")


def _chart_path(name: str) -> Path:
    """Refused before anything is read or printed: an extension other than .svg, a missing directory."""
    from pathlib import Path  # only charts written to a file need it

    path = Path(name)
    if path.suffix.lower() != ".svg":
        raise usage_error(f"cannot draw {str(path)!r}: --output writes SVG only; name a .svg file")
    if not path.parent.is_dir():
        raise usage_error(f"cannot write {path}: no directory {str(path.parent)!r}")
    return path


def chart_keys(by: Sequence[str]) -> tuple[str, ...]:
    """Bars per the first key, split by the second; a day, week or month alone is split by project."""
    if len(by) > 1:
        return (by[0], by[1])
    return (by[0], "project") if by[0] in ("day", "week", "month") else (by[0],)


def _write_svg(path: Path, entries: list[Gathered], keys: Sequence[str], period: Period) -> None:
    from pymesync.cli import _svg
    from pymesync.cli._files import open_atomic
    from pymesync.reports import summarize

    summary = summarize(entries, keys)
    title = f"Time per {keys[0]}, {period}: {hours(summary.total_seconds)}"
    document = _svg.render(title, _svg.bars(summary, label), keys[-1])
    with open_atomic(str(path)) as handle:
        handle.write(document)


def _pivot_keys(spec: str) -> tuple[str, str]:
    rows, _, columns = spec.partition(":")
    if rows not in GROUPS or columns not in GROUPS or rows == columns:
        raise usage_error(f"invalid --pivot {spec!r}; use ROWS:COLUMNS with two of {', '.join(GROUPS)}")
    return rows, columns


def _render_nested(
    term: Terminal, entries: list[Gathered], by: Sequence[str], fmt: str, decimal: bool, chart: bool
) -> None:
    rows = nest(entries, by)
    leaves = [row for row in rows if row.depth == len(by) - 1]
    largest = max((row.seconds for row in leaves), default=0)
    headers = [" / ".join(by), "time", "entries"]
    table = Table(headers, right={1, 2})
    for row in rows:
        name = label(by[row.depth], row.value)
        cells = ["  " * row.depth + name, hours(row.seconds, decimal), str(row.entries)]
        if chart and row.depth == len(by) - 1:
            project = next((v for k, v in zip(by, row.group, strict=True) if k == "project"), None)
            drawn = bar(row.seconds, largest, max(10, min(50, term.width - 40)))
            colour = colour_for(str(project if project is not None else row.group[0]))
            cells.append(term.style(drawn, fg=colour) if term.color else drawn)
        is_leaf = row.depth == len(by) - 1
        record: dict[str, Any] | None = None
        if is_leaf:
            record = {key: label(key, value) for key, value in zip(by, row.group, strict=True)}
            record.update(seconds=row.seconds, hours=round(row.seconds / 3600, 2), entries=row.entries)
        table.add(cells, record, subtotal=not is_leaf and fmt in ("table", "plain"))
    if chart:
        table.headers = [*headers, ""]
    table.render(fmt, term)


def _render_pivot(
    term: Terminal, entries: list[Gathered], keys: tuple[str, str], fmt: str, decimal: bool
) -> None:
    grid = pivot(entries, *keys)
    columns = [label(keys[1], value) for value in grid.column_values]
    headers = [keys[0], *columns, "total"]
    table = Table(headers, right=set(range(1, len(headers))))
    for value in grid.row_values:
        cells = [grid.cells.get((value, column), 0) for column in grid.column_values]
        shown = [hours(seconds, decimal) if seconds else "" for seconds in cells]
        record: dict[str, Any] = {keys[0]: label(keys[0], value)}
        record.update({name: round(seconds / 3600, 2) for name, seconds in zip(columns, cells, strict=True)})
        record["total"] = round(grid.row_totals[value] / 3600, 2)
        table.add([label(keys[0], value), *shown, hours(grid.row_totals[value], decimal)], record)
    if fmt in ("table", "plain", "md"):
        totals = [hours(grid.column_totals[value], decimal) for value in grid.column_values]
        table.add(["total", *totals, hours(grid.total_seconds, decimal)], subtotal=True)
    table.render(fmt, term)


@click.command()
@click.option("--last", is_flag=True, help="Last week instead of this one.")
@click.option("--decimal", is_flag=True, help="Hours as decimals (1.50) instead of 1h30m.")
@output_options
@click.pass_context
def week(ctx: click.Context, last: bool, decimal: bool, fmt: str | None) -> None:
    """This week's hours per day and project (the same as 'timesync report --pivot day:project')."""
    args = ["--last-week" if last else "--week", "--pivot", "day:project"]
    args += (["--decimal"] if decimal else []) + (["-f", fmt] if fmt else [])
    ctx.invoke(report, **report.make_context("report", args, parent=ctx.parent).params)
