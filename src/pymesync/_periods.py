"""Days and periods as people name them (``yesterday``, ``fri``, ``2026-W48``, ``2026-Q4``), without I/O.

TimeSync entries carry a day, never a time of day, so every period here is a run of whole days. Weeks are
ISO weeks (Monday first). ``today`` is always passed in, so callers and tests decide what "now" is.
"""

from __future__ import annotations

import datetime
import re

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

#: Compiled on first use (and then kept by ``re``), so that a command naming no period by them does not
#: compile them when it starts.
_WEEK = r"([0-9]{4})-?W([0-9]{1,2})"
_MONTH = r"([0-9]{4})-([0-9]{1,2})"
_QUARTER = r"([0-9]{4})-?Q([1-4])"
_YEAR = r"[0-9]{4}"


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
    if match := re.fullmatch(_WEEK, word, re.I):
        start = datetime.date.fromisocalendar(int(match[1]), int(match[2]), 1)
        return Period(start, start + datetime.timedelta(days=6))
    if match := re.fullmatch(_QUARTER, word, re.I):
        year, quarter = int(match[1]), int(match[2])
        return Period(_month(year, quarter * 3 - 2).start, _month(year, quarter * 3).end)
    if match := re.fullmatch(_MONTH, word):
        return _month(int(match[1]), int(match[2]))
    if re.fullmatch(_YEAR, word):
        return Period(datetime.date(int(word), 1, 1), datetime.date(int(word), 12, 31))
    day = datetime.date.fromisoformat(word)
    return Period(day, day)
