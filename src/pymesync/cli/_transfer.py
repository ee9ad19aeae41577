"""``timesync export`` and ``timesync import``: entries to a file and back, in the format of :mod:`._records`.

Export streams: entries are written as the client reads them, page by page, never all held at once.
Import is idempotent by the rule in :mod:`._importing`, so running it again (after an interruption, or by
mistake) creates each row exactly once.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from pymesync._periods import ALL_TIME
from pymesync.cli._app import App, pass_app
from pymesync.cli._errors import CliError, ExitCode, usage_error
from pymesync.cli._filters import Selection, selection_options
from pymesync.cli._records import WRITTEN_FORMATS, EntryWriter, FileFormatError, Row, RowError, read_rows

if TYPE_CHECKING:
    from pymesync.cli._importing import Plan
    from pymesync.client import Client

_EXTENSIONS = {".csv": "csv", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson", ".md": "md"}
#: creates in flight during an import
IMPORT_CONCURRENCY = 4


def entries_count(count: int) -> str:
    return f"{count} entr{'y' if count == 1 else 'ies'}"


def _format_for(fmt: str | None, output: str | None) -> str:
    if fmt is not None:
        return fmt
    return _EXTENSIONS.get(Path(output).suffix.lower(), "csv") if output else "csv"


@contextlib.contextmanager
def _destination(output: str | None) -> Iterator[TextIO]:
    """stdout, or ``output`` replaced atomically once everything is written (nothing left on failure)."""
    if output is None or output == "-":
        yield sys.stdout
        return
    from pymesync.cli._files import open_atomic

    path = Path(output)
    if not path.parent.is_dir():
        raise usage_error(f"cannot write {output}: no directory {str(path.parent)!r}")
    if path.is_dir():
        raise usage_error(f"cannot write {output}: it is a directory")
    try:
        with open_atomic(str(path)) as handle:
            yield handle
    except PermissionError:
        raise CliError(f"cannot write {output}: permission denied") from None


@click.command()
@selection_options(default_period="all")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(WRITTEN_FORMATS),
    help="csv (default), json, ndjson or md; by default from the -o file's extension.",
)
@click.option("-o", "--output", metavar="FILE", help="Write to FILE (replaced only once complete).")
@click.option("--include-deleted", is_flag=True, help="Deleted entries too (import skips them).")
@pass_app
def export(app: App, selection: Any, fmt: str | None, output: str | None, include_deleted: bool) -> None:
    """Write entries (all of yours by default) as CSV, JSON, NDJSON or Markdown.

    \b
    timesync export -o 2026.csv --period 2026
    timesync export --user all -f ndjson | gzip > backup.ndjson.gz
    """
    chosen: Selection = selection.resolve(app)
    # the local copy holds no deleted entries: those come from the server
    entries = (
        app.client().times(**chosen.filters(), include_deleted=True)
        if include_deleted
        else chosen.entries(app)
    )
    with _destination(output) as out:
        writer = EntryWriter(_format_for(fmt, output), out)
        for entry in entries:
            writer.write(entry)
        writer.close()
    if output not in (None, "-"):
        period = "" if chosen.period == ALL_TIME else f" from {chosen.period.start} to {chosen.period.end}"
        app.term.info(f"Exported {entries_count(writer.count)}{period} to {output}")


def _read(source: TextIO) -> tuple[list[Row], list[RowError]]:
    name = "stdin" if source is sys.stdin or source.name == "<stdin>" else source.name
    rows: list[Row] = []
    errors: list[RowError] = []
    try:
        for item in read_rows(source):
            if isinstance(item, Row):
                rows.append(item)
            else:
                errors.append(item)
    except FileFormatError as exc:
        raise usage_error(f"{name}: {exc}") from None
    except UnicodeDecodeError:
        raise usage_error(f"{name}: not UTF-8 text (export writes UTF-8 CSV, JSON or NDJSON)") from None
    return rows, errors


def _plan(client: Client, rows: list[Row], user: str) -> Plan:
    """Read the catalogue and the server's entries over the rows' days and users, then decide."""
    from pymesync.cli import _importing

    catalogue = _importing.Catalogue.of(client.projects.list(), client.activities.list())
    server = _importing.ServerEntries()
    if rows:
        users = sorted({row.user or user for row in rows})
        days = [row.date_worked for row in rows]
        for entry in client.times(user=users, start=min(days), end=max(days)):
            server.add(entry, catalogue)
    return _importing.plan(rows, catalogue, server, user)


def _describe(row: Row, user: str) -> str:
    from pymesync._duration import format_human_duration

    activities = f" ({','.join(row.activities)})" if row.activities else ""
    notes = f" — {' '.join(row.notes.split())}" if row.notes else ""  # one line per row
    duration = format_human_duration(row.duration)
    return f"{duration} on {row.project}{activities}, {row.date_worked}, {row.user or user}{notes}"


@click.command("import")
@click.argument("source", metavar="FILE", type=click.File("r", encoding="utf-8"))
@click.option("-n", "--dry-run", is_flag=True, help="Show what would be created and skipped; change nothing.")
@pass_app
def import_(app: App, source: TextIO, dry_run: bool) -> None:
    """Create the entries of FILE (CSV, JSON or NDJSON as export writes them; '-' for stdin).

    Rows already on the server (same uuid, or the same content) are skipped, so running the same import
    again creates nothing. Rows that fail are listed with their line; the others are still imported, and
    the exit code is then 3.
    """
    rows, errors = _read(source)
    client = app.client()
    user = app.account().user
    plan = _plan(client, rows, user)
    errors += plan.errors
    if dry_run:
        for row, reason in plan.skip:
            app.term.out(f"skip\tline {row.line}\t{reason}: {_describe(row, user)}")
        for row in plan.create:
            app.term.out(f"create\tline {row.line}\t{_describe(row, user)}")
        created = 0
    else:
        created = _create(app, client, plan.create, user, errors)
    for error in sorted(errors, key=lambda item: item.line):
        app.term.info(f"Error: {error}")
    verb = "Would create" if dry_run else "Created"
    app.term.info(
        f"{verb} {entries_count(len(plan.create) if dry_run else created)}, skipped {len(plan.skip)}"
        f" already there, {len(errors)} failed."
    )
    if errors:
        raise CliError(
            f"{len(errors)} row{'s' if len(errors) != 1 else ''} not imported; fix them and run the same"
            " import again (what was imported is skipped)",
            ExitCode.PARTIAL,
        )


def _create(app: App, client: Client, rows: list[Row], user: str, errors: list[RowError]) -> int:
    """Create ``rows`` (several at a time), a progress bar on stderr when it is a terminal."""
    from pymesync.cli._errors import describe

    created = 0
    results = client.times.create_many((row.fields(user) for row in rows), concurrency=IMPORT_CONCURRENCY)
    bar = (
        click.progressbar(length=len(rows), label="Importing", file=sys.stderr)
        if app.term.stderr_tty
        else None
    )
    try:
        with bar if bar is not None else contextlib.nullcontext():
            for result in results:
                if result.error is not None:
                    errors.append(RowError(rows[result.index].line, describe(result.error)))
                else:
                    created += 1
                if bar is not None:
                    bar.update(1)
    except KeyboardInterrupt:
        app.term.info(
            f"Interrupted after creating {entries_count(created)}; run the same import again to finish."
        )
        raise
    return created
