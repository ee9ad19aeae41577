"""What an import creates and what it skips, decided without I/O so that running it twice creates nothing.

The rule (docs/cli.md, "Import"): a row is already on the server when

1. its ``uuid`` names an entry the server has within the file's days (for the file's users) — skipped
   whatever that entry holds now, so an entry edited since the export is neither duplicated nor
   overwritten; or
2. an entry of the same user, project, day, duration, notes, issue and activities exists that no other row
   accounts for — so two identical rows need two identical entries, and a re-run after an interrupted
   import (where the new entries got new uuids) finds what the first run created.

A project's default activity stands for "no activities" on both sides, as the server fills it in.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from pymesync.cli._records import Row, RowError

if TYPE_CHECKING:
    from pymesync.models import Activity, Project, Time

ContentKey = tuple[str, str, datetime.date, int, str | None, str | None, tuple[str, ...]]


@dataclasses.dataclass(frozen=True)
class Catalogue:
    """The server's projects (any slug → first slug and default activity) and activity slugs."""

    projects: dict[str, tuple[str, str | None]]
    activities: frozenset[str]

    @classmethod
    def of(cls, projects: Iterable[Project], activities: Iterable[Activity]) -> Catalogue:
        found: dict[str, tuple[str, str | None]] = {}
        for project in projects:
            if project.slugs:
                for slug in project.slugs:
                    found[slug] = (project.slugs[0], project.default_activity)
        return cls(found, frozenset(item.slug for item in activities if item.slug))

    def key(
        self,
        user: str,
        project: str,
        day: datetime.date,
        duration: int,
        notes: str | None,
        issue_uri: str | None,
        activities: Sequence[str],
    ) -> ContentKey:
        canonical, default = self.projects.get(project, (project, None))
        named = tuple(sorted(activities)) or ((default,) if default else ())
        return (user, canonical, day, duration, notes or None, issue_uri or None, named)

    def row_key(self, row: Row, user: str) -> ContentKey:
        return self.key(
            row.user or user,
            row.project,
            row.date_worked,
            row.duration,
            row.notes,
            row.issue_uri,
            row.activities,
        )

    def entry_key(self, entry: Time) -> ContentKey | None:
        if entry.user is None or entry.date_worked is None or not entry.project:
            return None
        return self.key(
            entry.user,
            entry.project[0],
            entry.date_worked,
            entry.duration,
            entry.notes,
            entry.issue_uri,
            entry.activities,
        )


@dataclasses.dataclass
class ServerEntries:
    """The server's entries in the file's date range, reduced to their uuids and content keys."""

    by_uuid: dict[str, ContentKey | None] = dataclasses.field(default_factory=dict)
    by_key: dict[ContentKey, list[str]] = dataclasses.field(default_factory=dict)

    def add(self, entry: Time, catalogue: Catalogue) -> None:
        if entry.uuid is None or entry.deleted_at is not None:
            return
        key = catalogue.entry_key(entry)
        self.by_uuid[entry.uuid] = key
        if key is not None:
            self.by_key.setdefault(key, []).append(entry.uuid)


@dataclasses.dataclass
class Plan:
    create: list[Row] = dataclasses.field(default_factory=list)
    #: rows already on the server (or deleted at the source), with the reason
    skip: list[tuple[Row, str]] = dataclasses.field(default_factory=list)
    errors: list[RowError] = dataclasses.field(default_factory=list)


def check(row: Row, catalogue: Catalogue) -> str | None:
    """Why the server would refuse this row (an unknown project or activity), or None."""
    if row.project not in catalogue.projects:
        return f"unknown project {row.project!r}"
    unknown = [slug for slug in row.activities if slug not in catalogue.activities]
    if unknown:
        return f"unknown activit{'y' if len(unknown) == 1 else 'ies'} {', '.join(map(repr, unknown))}"
    return None


def plan(rows: Sequence[Row], catalogue: Catalogue, server: ServerEntries, user: str) -> Plan:
    """Sort ``rows`` into create, skip and errors by the module's rule; uuids are matched first, so a row
    without a uuid never takes the entry that a row with one names."""
    result = Plan()
    claimed: set[str] = set()
    undecided: list[Row] = []
    for row in rows:
        problem = check(row, catalogue)
        if problem is not None:
            result.errors.append(RowError(row.line, problem))
        elif row.deleted:
            result.skip.append((row, "deleted at the source"))
        elif row.uuid is not None and row.uuid in server.by_uuid:
            claimed.add(row.uuid)
            same = server.by_uuid[row.uuid] == catalogue.row_key(row, user)
            result.skip.append(
                (row, "already there" if same else "already there, changed since (left as is)")
            )
        else:
            undecided.append(row)
    for row in undecided:
        candidates = server.by_key.get(catalogue.row_key(row, user), [])
        match = next((uuid for uuid in candidates if uuid not in claimed), None)
        if match is None:
            result.create.append(row)
        else:
            claimed.add(match)
            result.skip.append((row, f"already there (same content as {match[:8]})"))
    return result
