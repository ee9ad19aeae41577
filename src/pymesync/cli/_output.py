"""Output for listings and reports: a table on a terminal, plain lines when piped, or csv/tsv/md/json.

One decorator (:func:`output_options`) gives every listing the same ``--json`` and ``-f FORMAT`` options.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from pymesync._duration import format_decimal_hours, format_human_duration
from pymesync.cli._terminal import Terminal

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("table", "plain", "csv", "tsv", "md", "json")


def output_options(func: F) -> F:
    """Adds ``--json`` and ``-f/--format``; the command gets ``fmt`` (None: table or plain, by terminal)."""

    @click.option("--json", "as_json", is_flag=True, help="Print JSON (same as -f json).")
    @click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), help="Output format.")
    @functools.wraps(func)
    def wrapper(*args: Any, as_json: bool, fmt: str | None, **kwargs: Any) -> Any:
        return func(*args, fmt="json" if as_json else fmt, **kwargs)

    return wrapper  # type: ignore[return-value]


def resolve_format(fmt: str | None, term: Terminal) -> str:
    return fmt or ("table" if term.stdout_tty else "plain")


class Table:
    """Rows of cells for people, and the same rows as records for machines (a plain class: see
    :class:`~pymesync.cli._app.Account`)."""

    __slots__ = ("headers", "records", "right", "rows", "subtotals")

    def __init__(self, headers: Sequence[str], *, right: set[int] | None = None) -> None:
        self.headers = headers
        self.rows: list[list[str]] = []
        self.records: list[dict[str, Any]] = []
        #: indexes of rows drawn as subtotals (bold on a terminal, left out of csv/tsv/json)
        self.subtotals: set[int] = set()
        #: indexes of columns aligned to the right
        self.right = right or set()

    def add(
        self, cells: Sequence[str], record: dict[str, Any] | None = None, *, subtotal: bool = False
    ) -> None:
        if subtotal:
            self.subtotals.add(len(self.rows))
        self.rows.append(list(cells))
        if record is not None:
            self.records.append(record)

    def render(self, fmt: str, term: Terminal, footer: str | None = None) -> None:
        if fmt == "json":
            term.out(json.dumps(self.records, indent=2, default=str, ensure_ascii=False))
        elif fmt in ("csv", "tsv"):
            _write_delimited(self.records, "," if fmt == "csv" else "\t")
        elif fmt == "md":
            data = [row for index, row in enumerate(self.rows) if index not in self.subtotals]
            term.out("| " + " | ".join(self.headers) + " |")
            term.out(
                "|" + "|".join("---:" if i in self.right else "---" for i in range(len(self.headers))) + "|"
            )
            for row in data:
                term.out("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
        elif fmt == "plain":
            for row in self.rows:
                term.out("\t".join(row).rstrip())
            if footer:
                term.out(footer)
        else:
            self._draw(term, footer)

    def _draw(self, term: Terminal, footer: str | None) -> None:
        widths = [len(header) for header in self.headers]
        for row in self.rows:
            for index, cell in enumerate(row):
                widths[index] = max(widths[index], len(cell))

        def line(cells: Sequence[str]) -> str:
            padded = [
                cell.rjust(widths[i]) if i in self.right else cell.ljust(widths[i])
                for i, cell in enumerate(cells)
            ]
            return "  ".join(padded).rstrip()

        term.out(term.style(line(self.headers), bold=True))
        for index, row in enumerate(self.rows):
            text = line(row)
            term.out(term.style(text, bold=True) if index in self.subtotals else text)
        if footer:
            term.out(term.style(footer, bold=True))


def _write_delimited(records: list[dict[str, Any]], delimiter: str) -> None:
    import csv
    import sys

    if not records:
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=list(records[0]), delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({key: _flat(value) for key, value in record.items()})


def _flat(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return " ".join(str(item) for item in value)
    return "" if value is None else value


def hours(seconds: int, decimal: bool = False) -> str:
    return format_decimal_hours(seconds) if decimal else format_human_duration(seconds)


def short_id(uuid: str | None) -> str:
    return (uuid or "")[:8]
