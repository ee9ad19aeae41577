"""``report --output FILE.svg``: the report's bar chart as a standalone SVG, without any dependency.

One horizontal bar per group, split into coloured segments by a second key (each project keeps its colour,
in every chart), the total at the end of each bar, and a legend. Every segment has a
``<title>`` (a tooltip in browsers) and ``data-`` attributes, so the chart can be checked as data.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Sequence
from xml.sax.saxutils import escape, quoteattr

from pymesync._duration import format_human_duration
from pymesync.reports import GroupValue, Summary

#: eight colours told apart easily (the terminal's bright variants are too close to their base colours)
PALETTE = ("#4e79a7", "#b07aa1", "#edc948", "#59a14f", "#76b7b2", "#e15759", "#9c755f", "#f28e2b")
_ROW, _GAP, _TOP, _CHAR = 26, 8, 44, 8.0
_WIDTH = 860


def colour(value: str) -> str:
    """The same value always gets the same colour, in every chart (crc32, as the terminal chart does)."""
    return PALETTE[zlib.crc32(value.encode()) % len(PALETTE)]


@dataclasses.dataclass(frozen=True)
class Bar:
    label: str
    #: (segment label, seconds), in legend order
    segments: tuple[tuple[str, int], ...]

    @property
    def seconds(self) -> int:
        return sum(seconds for _, seconds in self.segments)


def bars(summary: Summary, label: Callable[[str, GroupValue], str]) -> list[Bar]:
    """One bar per value of the summary's first key, one segment per value of its second key (if any)."""
    found: dict[GroupValue, list[tuple[str, int]]] = {}
    for row in summary.rows:
        name = (
            label(summary.by[1], row.group[1]) if len(summary.by) > 1 else label(summary.by[0], row.group[0])
        )
        found.setdefault(row.group[0], []).append((name, row.seconds))
    return [Bar(label(summary.by[0], value), tuple(segments)) for value, segments in found.items()]


def render(title: str, chart: Sequence[Bar], legend_title: str) -> str:
    """The SVG document for ``chart``."""
    names = list(dict.fromkeys(name for bar in chart for name, _ in bar.segments))
    label_width = min(280, max((len(bar.label) for bar in chart), default=4) * _CHAR + 24)
    plot_width = _WIDTH - label_width - 90
    largest = max((bar.seconds for bar in chart), default=0) or 1
    legend_top = _TOP + len(chart) * _ROW + 16
    height = legend_top + 22 * max(0, (len(names) - 1) // 4) + 16
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" font-family="sans-serif" font-size="13">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{_WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="12" y="24" font-size="16" font-weight="bold">{escape(title)}</text>',
    ]
    for index, bar in enumerate(chart):
        y = _TOP + index * _ROW
        out.append(f'<g class="bar" data-group={quoteattr(bar.label)} data-seconds="{bar.seconds}">')
        out.append(
            f'<text class="label" x="{label_width - 8:.0f}" y="{y + _ROW / 2 + 4:.0f}" '
            f'text-anchor="end">{escape(bar.label)}</text>'
        )
        x = label_width
        for name, seconds in bar.segments:
            width = seconds / largest * plot_width
            tip = f"{bar.label} · {name}: {format_human_duration(seconds)}"
            out.append(
                f'<rect class="segment" x="{x:.1f}" y="{y + _GAP / 2:.0f}" width="{width:.1f}" '
                f'height="{_ROW - _GAP}" fill="{colour(name)}" data-segment={quoteattr(name)} '
                f'data-seconds="{seconds}"><title>{escape(tip)}</title></rect>'
            )
            x += width
        out.append(
            f'<text class="value" x="{x + 6:.1f}" y="{y + _ROW / 2 + 4:.0f}">'
            f"{format_human_duration(bar.seconds)}</text>"
        )
        out.append("</g>")
    out.append(f'<g class="legend"><text x="12" y="{legend_top:.0f}">{escape(legend_title)}:</text>')
    for index, name in enumerate(names):
        x = 82 + (index % 4) * 190
        y = legend_top + (index // 4) * 22
        out.append(
            f'<rect x="{x}" y="{y - 11:.0f}" width="12" height="12" fill="{colour(name)}"/>'
            f'<text x="{x + 18}" y="{y:.0f}">{escape(name)}</text>'
        )
    out.append("</g></svg>\n")
    return "\n".join(out)
