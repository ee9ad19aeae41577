"""The export file format, written and read back: CSV, a JSON array, NDJSON (and Markdown, written only).

One record per entry, with the same fields in every format (:data:`COLUMNS`). Writers take entries one at
a time, so an export never holds more than the page the client is reading. The reader gives one
:class:`Row` (or :class:`RowError`) per record, with the line of the file it starts on.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import json
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, TextIO

from pymesync._duration import HUMAN_FORMS, format_decimal_hours, parse_human_duration

if TYPE_CHECKING:
    from pymesync.models import Time

#: Every column, in order. ``duration`` is seconds (what the API stores); ``hours`` the same as decimal
#: hours for spreadsheets, ignored when importing.
COLUMNS = (
    "uuid",
    "date_worked",
    "user",
    "project",
    "activities",
    "duration",
    "hours",
    "notes",
    "issue_uri",
    "revision",
    "created_at",
    "updated_at",
    "deleted_at",
)
#: What an import needs in every row; ``uuid``, ``user``, ``activities``, ``notes``, ``issue_uri`` and
#: ``deleted_at`` are read when present, the other columns ignored.
REQUIRED = ("date_worked", "project", "duration")
WRITTEN_FORMATS = ("csv", "json", "ndjson", "md")

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _day(value: datetime.date | None) -> str | None:
    return None if value is None else value.isoformat()


def record(entry: Time) -> dict[str, Any]:
    """The typed record of one entry (JSON and NDJSON write it as it is)."""
    return {
        "uuid": entry.uuid,
        "date_worked": _day(entry.date_worked),
        "user": entry.user,
        "project": entry.project[0] if entry.project else None,
        "activities": list(entry.activities),
        "duration": entry.duration,
        "hours": format_decimal_hours(entry.duration),
        "notes": entry.notes,
        "issue_uri": entry.issue_uri,
        "revision": entry.revision,
        "created_at": _day(entry.created_at),
        "updated_at": _day(entry.updated_at),
        "deleted_at": _day(entry.deleted_at),
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(value)
    return str(value)


class EntryWriter:
    """Writes entries to ``out`` as they come; :meth:`close` ends the document (the JSON array's ``]``)."""

    def __init__(self, fmt: str, out: TextIO) -> None:
        if fmt not in WRITTEN_FORMATS:
            raise ValueError(f"cannot write {fmt!r}; choose from {', '.join(WRITTEN_FORMATS)}")
        self.fmt = fmt
        self.out = out
        self.count = 0
        self._csv = csv.writer(out) if fmt == "csv" else None  # RFC 4180: CRLF, so a lone CR is quoted
        if self._csv is not None:
            self._csv.writerow(COLUMNS)
        elif fmt == "json":
            out.write("[")
        elif fmt == "md":
            out.write("| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n")

    def write(self, entry: Time) -> None:
        data = record(entry)
        if self._csv is not None:
            self._csv.writerow([_cell(data[column]) for column in COLUMNS])
        elif self.fmt == "md":
            cells = (_cell(data[column]).replace("|", "\\|").replace("\n", " ") for column in COLUMNS)
            self.out.write("| " + " | ".join(cells) + " |\n")
        else:
            separator = ("\n" if self.count == 0 else ",\n") if self.fmt == "json" else ""
            self.out.write(separator + json.dumps(data, ensure_ascii=False))
            if self.fmt == "ndjson":
                self.out.write("\n")
        self.count += 1

    def close(self) -> None:
        if self.fmt == "json":
            self.out.write("\n]\n" if self.count else "]\n")


@dataclasses.dataclass(frozen=True)
class Row:
    """One record of an import file, checked and normalised; ``line`` is where it starts (1-based)."""

    line: int
    date_worked: datetime.date
    project: str
    duration: int
    uuid: str | None = None
    user: str | None = None
    activities: tuple[str, ...] = ()
    notes: str | None = None
    issue_uri: str | None = None
    deleted: bool = False

    def fields(self, user: str) -> dict[str, Any]:
        """What ``times.create`` sends for this row (``user`` when the row names nobody)."""
        fields: dict[str, Any] = {
            "duration": self.duration,
            "project": self.project,
            "date_worked": self.date_worked,
            "user": self.user or user,
        }
        if self.activities:
            fields["activities"] = list(self.activities)
        if self.notes:
            fields["notes"] = self.notes
        if self.issue_uri:
            fields["issue_uri"] = self.issue_uri
        return fields


@dataclasses.dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class FileFormatError(ValueError):
    """The file as a whole cannot be read (not CSV/JSON, a required column missing from the header)."""


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text")
    return value.strip() or None


def _duration(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        seconds = int(value.strip())
    elif isinstance(value, str) and value.strip():
        try:
            seconds = parse_human_duration(value)
        except ValueError:
            raise ValueError(f"invalid duration {value!r}; use seconds (5400) or {HUMAN_FORMS}") from None
    else:
        raise ValueError(f"invalid duration {value!r}; use seconds (5400) or {HUMAN_FORMS}")
    if seconds <= 0:
        raise ValueError("duration must be more than zero")
    return seconds


def _date(value: Any) -> datetime.date:
    text = value.strip() if isinstance(value, str) else ""
    try:
        if _DATE.fullmatch(text):
            return datetime.date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError(f"invalid date_worked {value!r}; use YYYY-MM-DD")


def _activities(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.replace(",", " ").split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(item.strip() for item in value if item.strip())
    raise ValueError("activities must be slugs separated by spaces, or a list of them")


def parse_row(line: int, data: Mapping[str, Any]) -> Row:
    """A :class:`Row` from one record (CSV cells or a JSON object); ValueError saying what is wrong."""
    missing = [name for name in REQUIRED if data.get(name) in (None, "")]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    project = _text(data["project"], "project")
    uuid = _text(data.get("uuid"), "uuid")
    if uuid is not None:
        uuid = uuid.lower()
        if not _UUID.fullmatch(uuid):
            raise ValueError(f"invalid uuid {uuid!r}")
    return Row(
        line=line,
        date_worked=_date(data["date_worked"]),
        project=project or "",
        duration=_duration(data["duration"]),
        uuid=uuid,
        user=_text(data.get("user"), "user"),
        activities=_activities(data.get("activities")),
        notes=_text(data.get("notes"), "notes"),
        issue_uri=_text(data.get("issue_uri"), "issue_uri"),
        deleted=bool(_text(data.get("deleted_at"), "deleted_at")),
    )


def _checked(line: int, data: Any) -> Row | RowError:
    if not isinstance(data, dict):
        return RowError(line, "not a JSON object")
    try:
        return parse_row(line, data)
    except ValueError as exc:
        return RowError(line, str(exc))


def read_rows(stream: TextIO) -> Iterator[Row | RowError]:
    """Rows of a CSV, JSON-array or NDJSON file, told apart by the first character that is not blank."""
    text = stream.read()
    start = len(text) - len(text.lstrip())
    first = text[start : start + 1]
    if first == "[":
        yield from _json_array(text, start + 1)
    elif first == "{":
        yield from _one_object_or_ndjson(text, _line_of(text, start))
    elif first == "|":
        raise FileFormatError("line 1: a Markdown table is for people; import reads CSV, JSON or NDJSON")
    elif first:
        yield from _csv_rows(text)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _json_array(text: str, position: int) -> Iterator[Row | RowError]:
    """Each element of the array in turn, with its line; malformed JSON ends the file with one error."""
    decoder = json.JSONDecoder()
    line, counted_to, count = 1, 0, 0
    expect_value = True
    while True:
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        line += text.count("\n", counted_to, position)
        counted_to = position
        if position >= len(text):
            raise FileFormatError(f"line {line}: the JSON array is not closed")
        if text[position] == "]" and (not expect_value or count == 0):
            return
        if not expect_value:
            if text[position] != ",":
                raise FileFormatError(f"line {line}: expected ',' or ']' in the JSON array")
            position += 1
            expect_value = True
            continue
        try:
            data, position = decoder.raw_decode(text, position)
        except ValueError as exc:
            raise FileFormatError(f"line {line}: not valid JSON ({exc.args[0].split(':')[0]})") from None
        yield _checked(line, data)
        expect_value, count = False, count + 1


def _one_object_or_ndjson(text: str, line: int) -> Iterator[Row | RowError]:
    """A file holding one (perhaps pretty-printed) JSON object is one row; otherwise one object a line."""
    try:
        data = json.loads(text)
    except ValueError:
        yield from _ndjson(text)
    else:
        yield _checked(line, data)


def _ndjson(text: str) -> Iterator[Row | RowError]:
    for number, content in enumerate(text.split("\n"), 1):  # not splitlines: notes may hold U+2028
        if not content.strip():
            continue
        try:
            data = json.loads(content)
        except ValueError:
            yield RowError(number, "not valid JSON")
            continue
        yield _checked(number, data)


def _csv_rows(text: str) -> Iterator[Row | RowError]:
    import io

    reader = csv.reader(io.StringIO(text, newline="\n"))  # lines end at \n only, as in the JSON readers
    header = [name.strip() for name in next(reader)]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise FileFormatError(
            f"line 1: the header has no {', '.join(missing)} column ({', '.join(REQUIRED)})"
        )
    ended = reader.line_num
    for cells in reader:
        line, ended = ended + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) < len(header):
            absent = [name for name in header[len(cells) :] if name in REQUIRED]
            if absent:
                yield RowError(line, f"missing column {', '.join(absent)} (the row is short)")
                continue
        if len(cells) > len(header):
            yield RowError(line, f"{len(cells)} cells for {len(header)} columns")
            continue
        yield _checked(line, dict(zip(header, cells, strict=False)))
