"""Days and periods as people name them (``yesterday``, ``fri``, ``2026-W48``, ``2026-Q4``), without I/O.

TimeSync entries carry a day, never a time of day, so every period here is a run of whole days. Weeks are
ISO weeks (Monday first). ``today`` is always passed in, so callers and tests decide what "now" is.
"""

from __future__ import annotations

import datetime

__all__ = ["ALL_TIME", "DAY_FORMS", "PERIOD_FORMS", "Period", "parse_day", "parse_period"]

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: ``mon`` and ``monday`` → 0, ... ``sun`` and ``sunday`` → 6
WEEKDAY_NAMES = {name: index for index, day in enumerate(_WEEKDAYS) for name in (day[:3], day)}
#: Shown whenever a day or a period is refused.
DAY_FORMS = "today, yesterday, mon..sun or YYYY-MM-DD"
PERIOD_FORMS = (
    "today, yesterday, week, last-week, month, last-month, year, all, YYYY-Www, YYYY-MM, YYYY-Qn, YYYY, "
    "YYYY-MM-DD or FROM..TO"
)


class Period:
    """The days from ``start`` to ``end``, both included; equal when both are.

    A plain class rather than a dataclass: creating a dataclass at import costs a few hundred
    microseconds, which every command line run that reads a period would pay.
    """

    __slots__ = ("end", "start")

    def __init__(self, start: datetime.date, end: datetime.date) -> None:
        if end < start:
            raise ValueError(f"period ends ({end}) before it starts ({start})")
        self.start = start
        self.end = end

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return (self.start, self.end) == (other.start, other.end)

    def __hash__(self) -> int:
        return hash((self.start, self.end))

    def __repr__(self) -> str:
        return f"Period(start={self.start!r}, end={self.end!r})"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, datetime.date) and self.start <= day <= self.end

    def __str__(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start}..{self.end}"


#: ``all``: every day an entry can have (the API stores days as milliseconds since 1970).
ALL_TIME = Period(datetime.date(1970, 1, 1), datetime.date(9999, 12, 31))


def monday(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def parse_day(text: str, today: datetime.date) -> datetime.date:
    """``today``, ``yesterday``, a weekday (its latest occurrence, today included) or an ISO date."""
    word = text.strip().lower()
    if word == "today":
        return today
    if word == "yesterday":
        return today - datetime.timedelta(days=1)
    if word in WEEKDAY_NAMES:
        return today - datetime.timedelta(days=(today.weekday() - WEEKDAY_NAMES[word]) % 7)
    try:
        return datetime.date.fromisoformat(word)
    except ValueError:
        raise ValueError(f"invalid day {text!r}; use {DAY_FORMS}") from None


def _month(year: int, month: int) -> Period:
    start = datetime.date(year, month, 1)
    following = datetime.date(year + month // 12, month % 12 + 1, 1)
    return Period(start, following - datetime.timedelta(days=1))


def parse_period(text: str, today: datetime.date) -> Period:
    """A :class:`Period` for any of :data:`PERIOD_FORMS`; ValueError naming the forms otherwise."""
    word = text.strip().lower()
    try:
        return _parse_period(word, today)
    except ValueError as exc:
        detail = f" ({exc})" if "before it starts" in str(exc) else ""
        raise ValueError(f"invalid period {text!r}{detail}; use {PERIOD_FORMS}") from None


def _digits(text: str, least: int, most: int) -> bool:
    """``least`` to ``most`` ASCII digits (``str.isdigit`` alone also takes other scripts' digits)."""
    return least <= len(text) <= most and text.isascii() and text.isdigit()


def _numbered(word: str) -> Period | None:
    """``YYYY``, ``YYYY-Www`` (or ``YYYYWww``), ``YYYY-Qn`` (or ``YYYYQn``), ``YYYY-MM``; None otherwise.

    Read with string methods, not regular expressions: compiling the four patterns took most of a
    millisecond of every ``report --period`` run.
    """
    year, rest = word[:4], word[4:]
    if not _digits(year, 4, 4):
        return None
    if not rest:
        return Period(datetime.date(int(year), 1, 1), datetime.date(int(year), 12, 31))
    dash = rest[:1] == "-"
    after = rest[1:] if dash else rest
    kind, number = after[:1], after[1:]
    if kind == "w" and _digits(number, 1, 2):
        start = datetime.date.fromisocalendar(int(year), int(number), 1)
        return Period(start, start + datetime.timedelta(days=6))
    if kind == "q" and _digits(number, 1, 1) and "1" <= number <= "4":
        first = int(number) * 3 - 2
        return Period(_month(int(year), first).start, _month(int(year), first + 2).end)
    if dash and _digits(after, 1, 2):
        return _month(int(year), int(after))
    return None


def _parse_period(word: str, today: datetime.date) -> Period:
    if ".." in word:
        first, _, last = word.partition("..")
        return Period(parse_day(first, today), parse_day(last, today))
    if word in ("today", "yesterday") or word in WEEKDAY_NAMES:
        day = parse_day(word, today)
        return Period(day, day)
    if word in ("week", "this-week"):
        return Period(monday(today), monday(today) + datetime.timedelta(days=6))
    if word == "last-week":
        start = monday(today) - datetime.timedelta(days=7)
        return Period(start, start + datetime.timedelta(days=6))
    if word in ("month", "this-month"):
        return _month(today.year, today.month)
    if word == "last-month":
        return _month(today.year - (today.month == 1), (today.month - 2) % 12 + 1)
    if word == "all":
        return ALL_TIME
    if word in ("year", "this-year"):
        return Period(datetime.date(today.year, 1, 1), datetime.date(today.year, 12, 31))
    numbered = _numbered(word)
    if numbered is not None:
        return numbered
    day = datetime.date.fromisoformat(word)
    return Period(day, day)
