"""The Reports page: totals grouped by one or two keys, a pivot table and charts, summed in the
database (:mod:`web.aggregate`) over what the caller may see; the table as CSV too."""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from starlette.responses import Response

from pymesync import _duration, reports
from pymesync.server import storage
from pymesync.web import aggregate, charts, filters
from pymesync.web.entries import filter_choices, spreadsheet_cell
from pymesync.web.page import PAGE_HEADERS, Page, Refused

KEYS = tuple(reports.GROUPS)
#: Charts of totals are drawn for these keys.
TOTAL_KEYS = ("project", "activity", "user")
#: An SVG image may style itself inline: it can run no script and holds nothing of the page.
CHART_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "Cache-Control": "private, no-store",
}


@dataclasses.dataclass(frozen=True)
class Choice:
    """What the report form asks for besides the filter."""

    by: tuple[str, ...]
    rows: str
    columns: str
    totals_by: str


def _key(page: Page, name: str, default: str, *, optional: bool = False) -> str:
    value = page.params.get(name, default)
    if optional and value in ("", "none"):
        return ""
    if value not in KEYS:
        raise Refused(400, f"{name}: cannot group by {value!r}; choose from {', '.join(KEYS)}")
    return value


def _read(page: Page) -> tuple[filters.Filter, Choice]:
    try:
        chosen = filters.read(page.params, page.today, default_preset="month")
    except filters.FilterError as problem:
        raise Refused(400, str(problem)) from None
    first = _key(page, "by", "project")
    then = _key(page, "then", "", optional=True)
    by = (first, then) if then and then != first else (first,)
    totals_by = page.params.get("totals", "project")
    if totals_by not in TOTAL_KEYS:
        totals_by = "project"
    rows, columns = _key(page, "rows", "day"), _key(page, "columns", "project")
    if rows == columns:
        raise Refused(400, f"rows and columns: choose two different keys (both are {rows})")
    return chosen, Choice(by, rows, columns, totals_by)


def report_page(page: Page) -> Response:
    chosen, choice = _read(page)
    with storage.transaction(page.config.engine) as connection:
        conditions = filters.conditions(connection, page.me, chosen)
        sums = aggregate.Sums(connection, conditions, (*choice.by, choice.rows, choice.columns))
    summary = sums.summarize(choice.by)
    grid = sums.pivot(choice.rows, choice.columns)
    query = {**chosen.query(), "by": choice.by[0], "then": choice.by[1] if len(choice.by) > 1 else ""}
    query.update(rows=choice.rows, columns=choice.columns, totals=choice.totals_by)
    query = {name: value for name, value in query.items() if value}
    return page.render(
        "reports.html",
        chosen=chosen,
        choice=choice,
        keys=KEYS,
        total_keys=TOTAL_KEYS,
        summary=summary,
        grid=grid,
        report_query=query,
        **filter_choices(page),
    )


def chart(page: Page) -> Response:
    kind = page.request.path_params["kind"]
    if kind not in ("days", "totals"):
        raise Refused(404, "The charts are days.svg and totals.svg.")
    chosen, choice = _read(page)
    with storage.transaction(page.config.engine) as connection:
        conditions = filters.conditions(connection, page.me, chosen)
        if kind == "days":
            start, end = _drawn_period(connection, conditions, chosen, page.today)
            bucket = "day" if (end - start).days < charts.MAX_DAY_BARS else "week"
            summary = aggregate.summarize(connection, conditions, (bucket, "project"))
            svg = charts.render(charts.hours_by_day(summary, start, end), stacked=True)
        else:
            summary = aggregate.summarize(connection, conditions, (choice.totals_by,))
            svg = charts.render(charts.totals(summary), stacked=False)
    return Response(svg, media_type="image/svg+xml", headers=CHART_HEADERS)


def _drawn_period(
    connection: Connection, conditions: list[Any], chosen: filters.Filter, today: datetime.date
) -> tuple[datetime.date, datetime.date]:
    """The days the bars span: the period, from its first entry when it is all time, and not past
    today unless entries are."""
    times = aggregate.times
    first, last = connection.execute(
        sa.select(sa.func.min(times.c.date_worked), sa.func.max(times.c.date_worked)).where(*conditions)
    ).one()
    start, end = chosen.period.start, chosen.period.end
    if first is not None and chosen.preset == "all":
        start = aggregate.day_of_ms(first)
    latest = today if last is None else max(today, aggregate.day_of_ms(last))
    end = max(start, min(end, latest))
    if chosen.preset == "all" and first is None:
        start = end
    return start, end


def export(page: Page) -> Response:
    chosen, choice = _read(page)
    with storage.transaction(page.config.engine) as connection:
        summary = aggregate.summarize(connection, filters.conditions(connection, page.me, chosen), choice.by)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*choice.by, "hours", "seconds", "entries"])
    for row in summary.rows:
        group: list[Any] = [spreadsheet_cell(value) for value in row.group]
        writer.writerow([*group, _duration.format_decimal_hours(row.seconds), row.seconds, row.entries])
    name = f"report-{chosen.period.start}-{chosen.period.end}.csv"
    headers = {**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
