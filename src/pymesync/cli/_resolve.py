"""Turning what people type into server objects: projects by any slug or prefix, activities, entries."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from pymesync.cli._errors import CliError, ExitCode, usage_error

if TYPE_CHECKING:
    from pymesync.client import Client
    from pymesync.models import Activity, Project, Time

#: ``show``/``edit``/``rm`` match a uuid prefix against the entries of this many recent days.
RECENT_DAYS = 92


def pick(word: str, candidates: Iterable[tuple[str, str]], what: str) -> str:
    """The key whose name is ``word``, else the only one starting with it; names are ``(name, key)``.

    Several prefix matches are a usage error listing them, so a script never logs to a guessed project.
    """
    lowered = word.lower()
    pairs = list(candidates)
    for name, key in pairs:
        if name.lower() == lowered:
            return key
    matches = [(name, key) for name, key in pairs if name.lower().startswith(lowered)]
    if len({key for _, key in matches}) == 1:
        return matches[0][1]
    if not matches:
        known = ", ".join(sorted({name for name, _ in pairs})) or "none"
        raise CliError(f"no {what} {word!r}; known: {known}", ExitCode.NOT_FOUND)
    raise usage_error(f"{what} {word!r} is ambiguous: {', '.join(sorted(name for name, _ in matches))}")


def project(client: Client, word: str) -> Project:
    projects = {item.uuid or "": item for item in client.projects.list()}
    names = ((slug, key) for key, item in projects.items() for slug in item.slugs)
    return projects[pick(word, names, "project")]


def activities(client: Client, words: Sequence[str]) -> list[str]:
    if not words:
        return []
    known: list[Activity] = client.activities.list()
    names = [(item.slug, item.slug) for item in known if item.slug]
    return [pick(word, names, "activity") for word in words]


def entry(client: Client, word: str, user: str | None, today: datetime.date) -> Time:
    """An entry by its uuid, or an unambiguous uuid prefix of the user's entries (recent ones first)."""
    from pymesync.errors import NotFoundError, ValidationError

    word = word.strip().lower()
    if len(word) == 36:
        try:
            return client.times[word]
        except (NotFoundError, ValidationError):
            raise CliError(f"no entry {word}", ExitCode.NOT_FOUND) from None
    if len(word) < 4 or any(ch not in "0123456789abcdef-" for ch in word):
        raise usage_error(
            f"entry {word!r}: give a uuid or at least its first 4 characters (see 'timesync ls')"
        )
    start = today - datetime.timedelta(days=RECENT_DAYS)
    by_user = {"user": user} if user else {}
    found = _starting_with(client.times.list(**by_user, start=start), word)
    if not found:  # an entry on an older day: look through all of them, once
        found = _starting_with(client.times.list(**by_user), word)
    if not found:
        raise CliError(f"no entry starting with {word}", ExitCode.NOT_FOUND)
    if len(found) > 1:
        shown = ", ".join(sorted(item.uuid or "" for item in found)[:5])
        raise usage_error(f"entry {word!r} is ambiguous: {shown}")
    return found[0]


def _starting_with(entries: Iterable[Time], prefix: str) -> list[Time]:
    return [item for item in entries if (item.uuid or "").startswith(prefix)]
