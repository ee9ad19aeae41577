"""Durations: the ``<H>h<M>m`` strings people type, turned into the integer seconds the API stores."""

from __future__ import annotations

import re

_DURATION = re.compile(r"(?:(?P<h>[0-9]+)h(?P<m1>[0-9]+)m|(?P<h2>[0-9]+)h|(?P<m2>[0-9]+)m)", re.I)


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
        match = _DURATION.fullmatch(value.strip())
        if match is not None:
            hours = match["h"] or match["h2"] or "0"
            minutes = match["m1"] or match["m2"] or "0"
            return int(hours) * 3600 + int(minutes) * 60
    raise ValueError("invalid")


def format_duration(seconds: int) -> str:
    """``5400`` → ``"1h30m"``; the inverse of :func:`parse_duration` for whole minutes."""
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60}m"
