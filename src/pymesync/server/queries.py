"""Lookups several resources share. Each takes the request's connection; nothing is cached."""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from pymesync.server import errors, schema, storage, validation

users = schema.users
projects = schema.projects
activities = schema.activities
projectslugs = schema.projectslugs
userroles = schema.userroles

#: Rows fetched per query when a list is read in pieces.
BATCH = 500
#: Times :func:`read_locked` reads again before it gives the write back as contended.
_LOCKED_READS = 4


def new_uuid() -> str:
    return str(uuid_module.uuid4())


def storable(values: Iterable[str]) -> list[str]:
    """Drop values no database could hold; they match nothing anyway."""
    return [value for value in values if validation.is_storable(value)]


def batches(values: Collection[Any]) -> Iterable[list[Any]]:
    """``values`` in lists of at most :data:`BATCH`, for ``IN (...)`` queries every database accepts."""
    items = list(values)
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


# Statements built once (with bound parameters): building and cache-keying a Core statement
# per request costs more than running these indexed queries.
_USER_IDS = sa.select(users.c.username, users.c.id).where(
    users.c.username.in_(sa.bindparam("names", expanding=True))
)
_slugged = projects.alias("slugged")
_PROJECT_BY_SLUG = (
    sa.select(projects)
    .where(
        projects.c.newest.is_(True),
        projects.c.uuid.in_(
            sa.select(_slugged.c.uuid)
            .join(projectslugs, projectslugs.c.project == _slugged.c.id)
            .where(projectslugs.c.name == sa.bindparam("slug"))
        ),
    )
    .order_by(projects.c.id.desc())
    .limit(1)
)
#: The same, read on the driver's cursor, for writers that only read the row.
_PROJECT_BY_SLUG_READ = storage.Read(_PROJECT_BY_SLUG)
_PROJECTS_FOR_SLUGS = (
    sa.select(projects.c.uuid)
    .join(projectslugs, projectslugs.c.project == projects.c.id)
    .where(projectslugs.c.name.in_(sa.bindparam("slugs", expanding=True)))
)
_PROJECT_SLUGS = (
    sa.select(projects.c.uuid, projectslugs.c.name)
    .join(projects, projects.c.id == projectslugs.c.project)
    .where(projects.c.uuid.in_(sa.bindparam("uuids", expanding=True)))
)
#: The one project of a single time, or of a list of times of one project.
_SLUGS_OF_PROJECT = storage.Read(
    sa.select(projects.c.uuid, projectslugs.c.name)
    .join(projects, projects.c.id == projectslugs.c.project)
    .where(projects.c.uuid == sa.bindparam("uuid"))
)
_CURRENT_ACTIVITIES = sa.select(activities).where(
    activities.c.slug.in_(sa.bindparam("slugs", expanding=True)),
    activities.c.newest.is_(True),
    activities.c.deleted_at.is_(None),
)
#: The current activity rows with one slug, in the order :data:`_CURRENT_ACTIVITIES` reads them.
_CURRENT_ACTIVITY_IDS = storage.Read(
    sa.select(activities.c.id).where(
        activities.c.slug == sa.bindparam("slug"),
        activities.c.newest.is_(True),
        activities.c.deleted_at.is_(None),
    )
)
_PROJECT_ROLE = storage.Read(
    sa.select(userroles.c.member, userroles.c.spectator, userroles.c.manager)
    .join(projects, projects.c.id == userroles.c.project)
    .where(userroles.c.user == sa.bindparam("user_id"), projects.c.uuid == sa.bindparam("project_uuid"))
)
_NEWEST_ROWS: dict[str, sa.Select[Any]] = {}


def user_ids(connection: Connection, names: Iterable[str]) -> dict[str, int]:
    """Ids of the users with these exact usernames (deleted users included)."""
    wanted = sorted(set(storable(names)))
    found: dict[str, int] = {}
    for batch in batches(wanted):
        found.update({row.username: row.id for row in connection.execute(_USER_IDS, {"names": batch})})
    return found


def name_taken(connection: Connection, table: sa.Table, name: str) -> bool:
    """Whether any row of ``table`` (any revision, deleted or not) has this ``name``."""
    query = sa.select(table.c.id).where(table.c.name == name).limit(1)
    return connection.execute(query).first() is not None


def project_by_slug(connection: Connection, slug: str) -> Row[Any] | None:
    """The newest revision row of the project that has this slug (deleted or not), in one query."""
    if not validation.is_storable(slug):
        return None
    return connection.execute(_PROJECT_BY_SLUG, {"slug": slug}).first()


def project_read_by_slug(connection: Connection, slug: str) -> Any | None:
    """What :func:`project_by_slug` finds, as a named tuple of the driver's values (see
    :class:`storage.Read`), for writers that read the project without revising it."""
    if not validation.is_storable(slug):
        return None
    return _PROJECT_BY_SLUG_READ.first(connection, slug=slug)


def project_uuids_for_slugs(connection: Connection, slugs: Iterable[str]) -> set[str]:
    wanted = sorted(set(storable(slugs)))
    found: set[str] = set()
    for batch in batches(wanted):
        rows = connection.execute(_PROJECTS_FOR_SLUGS, {"slugs": batch})
        found.update(str(value) for value in rows.scalars())
    return found


def newest_row(connection: Connection, table: sa.Table, uuid: str) -> Row[Any] | None:
    query = _NEWEST_ROWS.get(table.name)
    if query is None:
        query = (
            sa.select(table)
            .where(table.c.uuid == sa.bindparam("uuid"), table.c.newest.is_(True))
            .order_by(table.c.id.desc())
        )
        _NEWEST_ROWS[table.name] = query
    return connection.execute(query, {"uuid": uuid}).first()


def project_slugs(connection: Connection, project_uuids: Collection[str]) -> dict[str, list[str]]:
    """The current slugs of each project, sorted."""
    found: dict[str, list[str]] = {}
    if len(project_uuids) == 1:
        [only] = project_uuids
        rows = _SLUGS_OF_PROJECT.all(connection, uuid=only)
        return {only: sorted(name for _uuid, name in rows)} if rows else {}
    for batch in batches(project_uuids):
        for uuid, name in connection.execute(_PROJECT_SLUGS, {"uuids": batch}):
            found.setdefault(str(uuid), []).append(name)
    for slugs in found.values():
        slugs.sort()
    return found


def activity_slugs(connection: Connection, activity_uuids: Collection[str]) -> dict[str, str]:
    """The current slug of each activity that still has one."""
    found: dict[str, str] = {}
    for batch in batches(activity_uuids):
        query = sa.select(activities.c.uuid, activities.c.slug).where(
            activities.c.uuid.in_(batch),
            activities.c.newest.is_(True),
            activities.c.slug.is_not(None),
        )
        found.update({str(row.uuid): row.slug for row in connection.execute(query)})
    return found


def current_activities(connection: Connection, slugs: Iterable[str]) -> dict[str, Row[Any]]:
    """The current (newest, not deleted) activity rows with these slugs, by slug."""
    wanted = sorted(set(storable(slugs)))
    found: dict[str, Row[Any]] = {}
    for batch in batches(wanted):
        found.update({row.slug: row for row in connection.execute(_CURRENT_ACTIVITIES, {"slugs": batch})})
    return found


def current_activity_ids(connection: Connection, slugs: Collection[str]) -> dict[str, int]:
    """The row id of the current activity with each of these slugs that has one (the ids
    :func:`current_activities` gives; one slug, the usual case, is read on the driver's cursor)."""
    if len(slugs) == 1:
        [slug] = slugs
        rows = _CURRENT_ACTIVITY_IDS.tuples(connection, slug=slug) if validation.is_storable(slug) else []
        return {slug: rows[-1][0]} if rows else {}
    return {slug: row.id for slug, row in current_activities(connection, slugs).items()}


def project_role(connection: Connection, user_id: int, project_uuid: str) -> Mapping[str, bool] | None:
    """The caller's flags on a project (any of its revision rows), or None without a role row."""
    rows = _PROJECT_ROLE.all(connection, user_id=user_id, project_uuid=project_uuid)
    if not rows:
        return None
    return {
        flag: any(bool(getattr(row, flag)) for row in rows) for flag in ("member", "spectator", "manager")
    }


def add_revision(
    connection: Connection, table: sa.Table, current: Row[Any], changes: Mapping[str, Any]
) -> int:
    """Write the next revision of a revisioned object and retire the current row.

    Returns the new row's id. Everything not in ``changes`` carries over, ``deleted_at`` too: only
    a restore, which puts ``deleted_at: None`` in ``changes``, undeletes.
    """
    values = {name: value for name, value in current._mapping.items() if name != "id"}
    values.update(changes)
    values.update(revision=(current.revision or 1) + 1, newest=True, updated_at=storage.now_ms())
    retire = sa.update(table).where(table.c.uuid == current.uuid, table.c.newest.is_(True))
    connection.execute(retire.values(newest=False))
    return insert_id(connection, sa.insert(table).values(values))


def insert_id(connection: Connection, statement: sa.Insert, values: Mapping[str, Any] | None = None) -> int:
    """Run an INSERT of one row (its ``values``, or those of the statement) and return the id the
    database assigned."""
    key = connection.execute(statement, values).inserted_primary_key
    if key is None:
        raise RuntimeError("the database returned no id for the new row")
    return int(key[0])


# --- locks for writers (see storage.lock) ---------------------------------------------------------
#
# Every write holds, for the rest of its transaction, the names it is about to claim, then the
# object it revises (and, when it moves or deletes slugs, the slugs it gives up), then (shared) the
# objects it refers to, by slug before reading them. That order keeps writers from deadlocking
# each other; the database breaks any other cycle and the request is run again.


def claim_names(
    connection: Connection, table: sa.Table, *, names: Iterable[str] = (), slugs: Iterable[str] = ()
) -> None:
    """Hold the names and slugs a write is about to check and take, so that two writers of the
    same name queue and the second sees the first's row."""
    storage.lock(
        connection,
        *(f"{table.name}.name:{name}" for name in names),
        *(_slug_key(table, slug) for slug in slugs),
    )


def hold_slugs(
    connection: Connection,
    *,
    project_slugs: Iterable[str] = (),
    activity_slugs: Iterable[str] = (),
    shared: bool = False,
) -> None:
    """Hold slugs, in one statement: shared to refer to the objects they name, exclusively to
    give a slug to an object or take it away (create, a change of slugs, delete).

    A write that refers to a project or an activity by slug holds the slug before reading it, so
    what it reads stays the slug's object until it commits: one lock and one read, where locking
    the object itself would take a read, a lock and a second read. A project's slugs also guard
    its default activity, which a new time reads through them: deleting an activity holds the
    slugs of the projects that name it as their default, and changing a default holds the
    project's slugs.
    """
    storage.lock(
        connection,
        *(_slug_key(projects, slug) for slug in project_slugs),
        *(_slug_key(activities, slug) for slug in activity_slugs),
        shared=shared,
    )


def hold_projects_defaulting_to(connection: Connection, activity_uuid: str) -> None:
    """Hold, exclusively, the slugs of the projects whose default activity is this one (before
    the activity is deleted: a new time may be reading it through them)."""
    if not storage.takes_locks(connection):
        return
    query = (
        sa.select(projectslugs.c.name)
        .join(projects, projects.c.id == projectslugs.c.project)
        .where(projects.c.default_activity == activity_uuid)
    )
    hold_slugs(connection, project_slugs=list(connection.execute(query).scalars()))


def _slug_key(table: sa.Table, slug: str) -> str:
    return f"{table.name}.slug:{slug}"


def claim_username(connection: Connection, username: str) -> None:
    """Hold a username (case-folded: ``Admin`` and ``admin`` queue for the same name)."""
    storage.lock(connection, f"{users.name}:{username.casefold()}")


def lock_objects(connection: Connection, table: sa.Table, uuids: Iterable[str]) -> None:
    """Hold objects of ``table`` by uuid, exclusively, to revise or delete them."""
    storage.lock(connection, *(f"{table.name}:{uuid}" for uuid in uuids))


def read_locked(
    connection: Connection, table: sa.Table, read: Callable[[], Row[Any] | None]
) -> Row[Any] | None:
    """``read()`` the object a write addresses by a slug, with that object locked.

    A slug can move to another object until the object is locked, so: read, lock what was
    found, read again, until the read finds nothing that is not locked. On SQLite one read.
    """
    found = read()
    if not storage.takes_locks(connection):
        return found
    held: set[str] = set()
    for _ in range(_LOCKED_READS):
        if found is None or str(found.uuid) in held:
            return found
        held.add(str(found.uuid))
        lock_objects(connection, table, [str(found.uuid)])
        found = read()
    raise storage.Contention(f"{table.name} kept changing while being locked")


# --- creating projects and activities (the API and timesync-server share these rules) --------------


def colliding_project_slugs(
    connection: Connection, slugs: Collection[str], own_uuid: str | None
) -> list[str]:
    """Which of ``slugs`` another project (not ``own_uuid``) holds, sorted."""
    query = (
        sa.select(projectslugs.c.name, projects.c.uuid)
        .join(projects, projects.c.id == projectslugs.c.project)
        .where(projectslugs.c.name.in_(list(slugs)))
    )
    return sorted(
        row.name for row in connection.execute(query) if own_uuid is None or str(row.uuid) != own_uuid
    )


def default_activity_uuid(connection: Connection, slug: str | None) -> str | None:
    """The uuid of the current activity a project names as its default (409 when unknown), held
    until the write commits so it cannot be deleted under the project."""
    if slug is None:
        return None
    hold_slugs(connection, activity_slugs=[slug], shared=True)
    activity = current_activities(connection, [slug]).get(slug)
    if activity is None:
        raise errors.invalid_foreign_key("project", "activity")
    return str(activity.uuid)


def insert_project(
    connection: Connection,
    *,
    name: str,
    slugs: Collection[str],
    uri: str | None = None,
    default_activity: str | None = None,
) -> tuple[int, str, int]:
    """Add a project with checked fields: hold its name and slugs, refuse a slug another project
    holds, an unknown default activity or a name any project ever had (409 :class:`ApiError`).
    Returns the new row's id, the project's uuid and its creation time (epoch ms)."""
    ordered = sorted(set(slugs))
    claim_names(connection, projects, names=[name], slugs=ordered)
    taken = colliding_project_slugs(connection, ordered, None)
    if taken:
        raise errors.slugs_exist(taken)
    default_uuid = default_activity_uuid(connection, default_activity)
    if name_taken(connection, projects, name):
        raise errors.not_unique_name("project")
    created = storage.now_ms()
    uuid = new_uuid()
    project_id = insert_id(
        connection,
        sa.insert(projects).values(
            name=name,
            uri=uri,
            default_activity=default_uuid,
            created_at=created,
            uuid=uuid,
            revision=1,
            newest=True,
        ),
    )
    write_project_slugs(connection, project_id, ordered)
    return project_id, uuid, created


def write_project_slugs(connection: Connection, project_id: int, slugs: Iterable[str]) -> None:
    """Attach slugs to a project's row (the newest revision's: an update moves them along)."""
    connection.execute(sa.insert(projectslugs), [{"name": slug, "project": project_id} for slug in slugs])


def activity_slug_taken(connection: Connection, slug: str) -> bool:
    """Whether any activity revision ever had this slug (slugs stay reserved across history)."""
    query = sa.select(activities.c.id).where(activities.c.slug == slug).limit(1)
    return connection.execute(query).first() is not None


def insert_activity(connection: Connection, *, name: str, slug: str) -> dict[str, Any]:
    """Add an activity with checked fields: hold its name and slug, refuse a slug or name any
    activity ever had (409 :class:`ApiError`). Returns the values written."""
    claim_names(connection, activities, names=[name], slugs=[slug])
    if activity_slug_taken(connection, slug):
        raise errors.slugs_exist([slug])
    if name_taken(connection, activities, name):
        raise errors.not_unique_name("activity")
    created = {"name": name, "slug": slug, "uuid": new_uuid(), "revision": 1, "created_at": storage.now_ms()}
    connection.execute(sa.insert(activities).values(**created, newest=True))
    return created
