"""The report's charts: SVG drawn on the server by pygal from the same summary rows as its tables.

They are served as images of their own (``<img src=...svg>``): they scale with the page, need no
script (pygal's tooltip script is left out, and a script in an image never runs anyway), and the
page's Content-Security-Policy stays ``default-src 'self'`` without inline styles. The bars are
data first (:class:`Series`), so tests check them without reading SVG.
"""

from __future__ import annotations

import dataclasses
import datetime

from pymesync import _periods, reports
from pymesync.reports import GroupValue

#: Above this many days, the stacked bars are per ISO week (from Monday) instead of per day.
MAX_DAY_BARS = 62
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


@dataclasses.dataclass(frozen=True)
class Series:
    """Bars: a label per bar and, per series (a project, or one series of totals), hours per bar."""

    title: str
    labels: tuple[str, ...]
    values: dict[str, tuple[float, ...]]


def _label(value: GroupValue) -> str:
    return "(none)" if value is None else str(value)


def hours_by_day(summary: reports.Summary, start: datetime.date, end: datetime.date) -> Series:
    """Stacked bars from a (day or week, project) summary: one bar per day or week of the period,
    one colour per project, in hours."""
    bucket = summary.by[0]
    step = datetime.timedelta(days=7 if bucket == "week" else 1)
    first = _periods.monday(start) if bucket == "week" else start
    bars: list[datetime.date] = []
    day = first
    while day <= end:
        bars.append(day)
        day += step
    projects = sorted({_label(row.group[1]) for row in summary.rows})
    seconds = {(row.group[0], _label(row.group[1])): row.seconds for row in summary.rows}
    return Series(
        "Hours per week" if bucket == "week" else "Hours per day",
        tuple(day.isoformat() for day in bars),
        {
            project: tuple(round(seconds.get((day, project), 0) / 3600, 2) for day in bars)
            for project in projects
        },
    )


def totals(summary: reports.Summary) -> Series:
    """One bar per value of a one-key summary, in hours."""
    key = summary.by[0]
    return Series(
        f"Hours per {key}",
        tuple(_label(row.group[0]) for row in summary.rows),
        {"hours": tuple(round(row.seconds / 3600, 2) for row in summary.rows)},
    )


def render(series: Series, *, stacked: bool) -> bytes:
    """The SVG of ``series``: stacked vertical bars, or horizontal bars for totals."""
    import pygal  # about 40 ms to import: only reports with charts pay it
    from pygal.style import Style

    style = Style(
        background="transparent",
        plot_background="transparent",
        font_family="system-ui, sans-serif",
        colors=PALETTE,
        label_font_size=12,
        major_label_font_size=12,
        legend_font_size=13,
        title_font_size=15,
    )
    kind = pygal.StackedBar if stacked else pygal.HorizontalBar
    many = len(series.labels) > 14
    chart = kind(
        style=style,
        js=[],
        width=960,
        height=420 if stacked else max(220, 60 + 34 * len(series.labels)),
        explicit_size=False,
        disable_xml_declaration=True,
        title=series.title,
        show_legend=stacked,
        legend_at_bottom=True,
        legend_at_bottom_columns=4,
        x_label_rotation=45 if many else 0,
        show_minor_x_labels=not many,
        x_labels_major_every=max(1, len(series.labels) // 12) if many else None,
        truncate_label=-1,
        print_values=False,
        no_data_text="No time in this period",
    )
    chart.x_labels = list(series.labels)
    for name, values in series.values.items():
        chart.add(name, list(values))
    svg: str = chart.render(is_unicode=True)
    return svg.encode("utf-8")
