"""Turning what people type into server objects: projects by any slug or prefix, activities, entries.

The project and activity lists are kept in the cache directory for :data:`CATALOGUE_TTL` seconds, so
``log``, ``start`` and ``ls -p`` resolve a slug without a request. A word the cached lists do not resolve
is looked up again on the server before it is refused, so a project created a moment ago is found.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pymesync.cli._errors import CliError, ExitCode, usage_error
from pymesync.cli._files import cache_file, profile_file_part, read_json, remove, write_json

if TYPE_CHECKING:
    from pymesync.cli._app import App
    from pymesync.client import Client
    from pymesync.models import Activity, Project, Time

#: ``show``/``edit``/``rm`` match a uuid prefix against the entries of this many recent days.
RECENT_DAYS = 92
#: How long the cached project and activity lists are used without asking the server again.
CATALOGUE_TTL = 300.0


def _catalogue_path(profile: str) -> str:
    return cache_file(f"catalogue-{profile_file_part(profile)}.json")


def forget_catalogue(app: App) -> None:
    """After a change to projects or activities: the next lookup asks the server."""
    remove(_catalogue_path(app.profile))


def _catalogue(app: App, fresh: bool) -> tuple[list[Project], list[Activity], bool]:
    """``(projects, activities, from_cache)``: the cached lists when recent and for this server and user."""
    from pymesync.models import Activity, Project

    account = app.account()
    path = _catalogue_path(account.profile)
    cached: Any = None if fresh else read_json(path)
    if (
        isinstance(cached, dict)
        and cached.get("url") == account.url
        and cached.get("user") == account.user
        and 0 <= time.time() - float(cached.get("saved", 0)) < CATALOGUE_TTL
    ):
        try:
            return (
                [Project.from_dict(item) for item in cached["projects"]],
                [Activity.from_dict(item) for item in cached["activities"]],
                True,
            )
        except (KeyError, TypeError, ValueError):
            pass  # a damaged cache is only a cache
    client = app.client()
    projects, activities = client.projects.list(), client.activities.list()
    saved = {
        "url": account.url,
        "user": account.user,
        "saved": time.time(),
        "projects": [item.to_dict() for item in projects],
        "activities": [item.to_dict() for item in activities],
    }
    write_json(path, saved, private=True)
    return projects, activities, False


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


def project(app: App, word: str, *, fresh: bool = False) -> Project:
    """The project one of whose slugs is ``word``, or the only one with a slug starting with it."""
    found, _, cached = _catalogue(app, fresh)
    try:
        return _project_in(found, word)
    except CliError:
        if not cached:
            raise
    return _project_in(_catalogue(app, fresh=True)[0], word)


def _project_in(found: list[Project], word: str) -> Project:
    projects = {item.uuid or "": item for item in found}
    names = ((slug, key) for key, item in projects.items() for slug in item.slugs)
    return projects[pick(word, names, "project")]


def activities(app: App, words: Sequence[str]) -> list[str]:
    """The slugs of the activities named (exactly or by an unambiguous prefix) by ``words``."""
    if not words:
        return []
    _, known, cached = _catalogue(app, fresh=False)
    try:
        return _activities_in(known, words)
    except CliError:
        if not cached:
            raise
    return _activities_in(_catalogue(app, fresh=True)[1], words)


def _activities_in(known: list[Activity], words: Sequence[str]) -> list[str]:
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
