"""Durations: the ``<H>h<M>m`` strings people type, turned into the integer seconds the API stores."""

from __future__ import annotations

import re

#: Patterns are compiled on first use (and then kept by ``re``): a command that parses no duration does
#: not pay for compiling them when it starts.
_DURATION = r"(?:(?P<h>[0-9]+)h(?P<m1>[0-9]+)m|(?P<h2>[0-9]+)h|(?P<m2>[0-9]+)m)"


def parse_duration(value: object) -> int:
    """Seconds for an int (>= 0) or a ``"1h30m"``/``"1h"``/``"45m"`` string.

    Raises ``ValueError("negative")`` for a negative int and ``ValueError("invalid")`` for anything else
    (bools, floats, other strings); callers word the message for their audience.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("negative")
        return value
    if isinstance(value, str):
        match = re.fullmatch(_DURATION, value.strip(), re.I)
        if match is not None:
            hours = match["h"] or match["h2"] or "0"
            minutes = match["m1"] or match["m2"] or "0"
            return int(hours) * 3600 + int(minutes) * 60
    raise ValueError("invalid")


def format_duration(seconds: int) -> str:
    """``5400`` → ``"1h30m"``; the inverse of :func:`parse_duration` for whole minutes."""
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60}m"


#: What people may type for a duration, shown whenever one is refused.
HUMAN_FORMS = "1h30m, 90m, 1.5h, 1:30 or 45m"


def _ascii_digits(text: str) -> bool:
    """One or more of 0-9 (``str.isdigit`` alone also takes other scripts' digits)."""
    return text.isascii() and text.isdigit()


def _human_seconds(cleaned: str) -> int | None:
    """Seconds for one of :data:`HUMAN_FORMS` (``cleaned`` has no surrounding space), else None.

    Read with string methods: compiling the one regular expression for these forms took 0.3 ms of every
    ``log`` (a test holds this reading to that pattern's).
    """
    hours, colon, minutes = cleaned.partition(":")
    if colon:  # 1:30
        if _ascii_digits(hours) and len(minutes) == 2 and _ascii_digits(minutes) and minutes[0] <= "5":
            return int(hours) * 3600 + int(minutes) * 60
        return None
    unit, number = cleaned[-1:].lower(), cleaned[:-1]
    if unit == "m":
        if _ascii_digits(number):  # 90m (m is always minutes)
            return int(number) * 60
        at = min((found for found in (number.find("h"), number.find("H")) if found >= 0), default=-1)
        hours, minutes = number[:at], number[at + 1 :].lstrip()  # 1h30m, 1h 30m
        if at >= 0 and _ascii_digits(hours) and _ascii_digits(minutes):
            return int(hours) * 3600 + int(minutes) * 60
        return None
    if unit != "h":
        return None
    if _ascii_digits(number):  # 2h
        return int(number) * 3600
    dotted = number.replace(",", ".")  # 1.5h, .25h, 2,5h, 2.h
    whole, point, fraction = dotted.partition(".")
    if point and (whole or fraction) and all(_ascii_digits(part) for part in (whole, fraction) if part):
        from decimal import Decimal  # exact, and only loaded for the forms that need it

        return int((Decimal(dotted) * 3600).to_integral_value())
    return None


def parse_human_duration(text: str) -> int:
    """Seconds for a duration as people type it (:data:`HUMAN_FORMS`); ValueError naming the forms otherwise.

    A bare number is refused: ``90`` could mean minutes or hours, and a wrong guess is logged time.
    """
    cleaned = text.strip()
    seconds = _human_seconds(cleaned)
    if seconds is None:
        hint = " (add a unit: 90m or 1.5h)" if cleaned.replace(".", "", 1).isdigit() else ""
        raise ValueError(f"invalid duration {text!r}{hint}; use {HUMAN_FORMS}")
    return seconds


def format_human_duration(seconds: int) -> str:
    """``5400`` → ``"1h30m"``, ``7200`` → ``"2h"``, ``2700`` → ``"45m"`` (seconds below a minute dropped)."""
    sign = "-" if seconds < 0 else ""
    hours, minutes = divmod(abs(seconds) // 60, 60)
    if hours and minutes:
        return f"{sign}{hours}h{minutes}m"
    if hours:
        return f"{sign}{hours}h"
    return f"{sign}{minutes}m"


def format_decimal_hours(seconds: int) -> str:
    """``5400`` → ``"1.50"``: hours with two decimals, the form billing tools take."""
    return f"{seconds / 3600:.2f}"
