"""What the legacy ``TimeSync`` returns in test mode (``test=True``).

Programs written for pymesync compare whole results with these values (climesync's test suite does), so
every date, uuid and name is fixed, odd ones included (``7efr``, ``rrrr``, ``2015-02-29``). Each function
builds its result fresh, and echoed caller values are deep copies, so mutating a result never changes a
later result or the caller's input.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Mapping
from typing import Any, Final

JsonDict = dict[str, Any]

TOKEN: Final = "TESTTOKEN"
EXPIRATION: Final = datetime.datetime(2016, 1, 13, 11, 45, 34)

_TIMES: Final = (
    (
        12,
        "userone",
        ("ganeti-webmgr", "gwm"),
        ("docs", "planning"),
        "Worked on documentation.",
        "https://github.com/osuosl/ganeti_webmgr",
        "c3706e79-1c9a-4765-8d7f-89b4544cad56",
    ),
    (
        13,
        "usertwo",
        ("ganeti-webmgr", "gwm"),
        ("code", "planning"),
        "Worked on coding",
        "https://github.com/osuosl/ganeti_webmgr",
        "12345676-1c9a-rrrr-bbbb-89b4544cad56",
    ),
    (
        14,
        "userthree",
        ("timesync", "ts"),
        ("code",),
        "Worked on coding",
        "https://github.com/osuosl/timesync",
        "12345676-1c9a-ssss-cccc-89b4544cad56",
    ),
)

#: permission triples are (member, spectator, manager)
_PROJECTS: Final = (
    (
        "https://code.osuosl.org/projects/ganeti-webmgr",
        "Ganeti Web Manager",
        ("gwm",),
        "a034806c-00db-4fe1-8de8-514575f31bfb",
        4,
        (("patcht", (True, False, False)), ("tschuy", (True, True, True))),
    ),
    (
        "https://code.osuosl.org/projects/timesync",
        "TimeSync",
        ("timesync", "ts"),
        "a034806c-rrrr-bbbb-8de8-514575f31bfb",
        2,
        (
            ("patcht", (True, False, False)),
            ("mrsj", (True, True, False)),
            ("tschuy", (True, True, True)),
        ),
    ),
    (
        "https://code.osuosl.org/projects/pymesync",
        "pymesync",
        ("pymesync", "ps"),
        "a034806c-ssss-cccc-8de8-514575f31bfb",
        1,
        (
            ("patcht", (True, False, False)),
            ("tschuy", (True, True, False)),
            ("mrsj", (True, True, True)),
            ("MaraJade", (True, False, False)),
            ("thai", (True, False, False)),
        ),
    ),
)

_ACTIVITIES: Final = (
    ("Documentation", "docs", "adf036f5-3d49-4a84-bef9-062b46380bbf", 5),
    ("Coding", "dev", "adf036f5-3d49-bbbb-rrrr-062b46380bbf", 1),
    ("Planning", "plan", "adf036f5-3d49-cccc-ssss-062b46380bbf", 1),
)

_USERS: Final = (
    ("userone", "One Is The Loneliest Number", "exampleone@example.com"),
    ("usertwo", "Two Can Be As Bad As One", "exampletwo@example.com"),
    ("userthree", "Yes It's The Saddest Experience", "examplethree@example.com"),
    ("userfour", "You'll Ever Do", "examplefour@example.com"),
)

_PROJECT_USERS: Final = (
    ("malcolm", ("member", "manager")),
    ("jayne", ("member",)),
    ("kaylee", ("member",)),
    ("zoe", ("member",)),
    ("hoban", ("member",)),
    ("simon", ("spectator",)),
    ("river", ("spectator",)),
    ("derrial", ("spectator",)),
    ("inara", ("spectator",)),
)


def _permissions(member: bool, spectator: bool, manager: bool) -> JsonDict:
    return {"member": member, "spectator": spectator, "manager": manager}


def _echo(value: object) -> Any:
    """A caller's value as it appears in a result: a str as is, anything else deep-copied."""
    return value if isinstance(value, str) else copy.deepcopy(value)


def _given(obj: Mapping[str, Any], key: str, default: Any) -> Any:
    """The caller's value for ``key`` when the key is present (even if falsy), else ``default``."""
    return _echo(obj[key]) if key in obj else default


def _time(index: int) -> JsonDict:
    duration, user, project, activities, notes, issue_uri, uuid = _TIMES[index]
    return {
        "duration": duration,
        "user": user,
        "project": list(project),
        "activities": list(activities),
        "notes": notes,
        "issue_uri": issue_uri,
        "date_worked": "2014-04-17",
        "revision": 1,
        "created_at": "2014-04-17",
        "updated_at": None,
        "deleted_at": None,
        "uuid": uuid,
    }


def _project(index: int) -> JsonDict:
    uri, name, slugs, uuid, revision, users = _PROJECTS[index]
    return {
        "uri": uri,
        "name": name,
        "slugs": list(slugs),
        "uuid": uuid,
        "revision": revision,
        "created_at": "2014-07-17",
        "updated_at": "2014-07-20",
        "deleted_at": None,
        "users": {username: _permissions(*perms) for username, perms in users},
    }


def _activity(index: int) -> JsonDict:
    name, slug, uuid, revision = _ACTIVITIES[index]
    return {
        "name": name,
        "slug": slug,
        "uuid": uuid,
        "revision": revision,
        "created_at": "2014-04-17",
        "updated_at": None,
        "deleted_at": None,
    }


def _user(username: str, display_name: str, email: str) -> JsonDict:
    return {
        "username": username,
        "display_name": display_name,
        "email": email,
        "active": True,
        "site_admin": False,
        "site_manager": False,
        "site_spectator": False,
        "created_at": "2015-02-29",
        "deleted_at": None,
    }


def times(uuid: object = None) -> list[JsonDict]:
    """All three times, or the first one carrying ``uuid`` when a uuid is asked for."""
    if uuid:
        return [{**_time(0), "uuid": _echo(uuid)}]
    return [_time(index) for index in range(len(_TIMES))]


def projects(slug: object = None) -> list[JsonDict]:
    """All three projects, or the first one with ``slugs: [slug]`` when a slug is asked for."""
    if slug:
        return [{**_project(0), "slugs": [_echo(slug)]}]
    return [_project(index) for index in range(len(_PROJECTS))]


def activities(slug: object = None) -> list[JsonDict]:
    """All three activities, or the first one with that ``slug`` when a slug is asked for."""
    if slug:
        return [{**_activity(0), "slug": _echo(slug)}]
    return [_activity(index) for index in range(len(_ACTIVITIES))]


def users(username: object = None) -> list[JsonDict]:
    """All four users, or one user named ``username`` whose name decides its one site-wide flag."""
    if not username:
        return [_user(*fields) for fields in _USERS]
    name = str(username)
    user = _user(name, "X. Ample User", "example@example.com")
    user.update(
        site_admin=name == "admin",
        site_manager=name == "manager",
        site_spectator=name == "spectator",
    )
    return [user]


def project_users() -> JsonDict:
    return {username: list(perms) for username, perms in _PROJECT_USERS}


def deleted() -> list[JsonDict]:
    """Test-mode delete answers with a list, unlike network mode (upstream did so; climesync relies on it)."""
    return [{"status": 200}]


def created_time(time: Mapping[str, Any]) -> JsonDict:
    """``time`` (duration already in seconds) as the server would store it; notes and issue_uri optional."""
    result = {key: _echo(value) for key, value in time.items()}
    result["notes"] = result.get("notes") or None
    result["issue_uri"] = result.get("issue_uri") or None
    result.update(
        created_at="2015-05-23",
        updated_at=None,
        deleted_at=None,
        uuid="838853e3-3635-4076-a26f-7efr4e60981f",
        revision=1,
    )
    return result


def updated_time(time: Mapping[str, Any], uuid: object) -> JsonDict:
    return {
        "duration": _given(time, "duration", 18),
        "user": _given(time, "user", "example-user"),
        "activities": _given(time, "activities", ["qa"]),
        "project": _given(time, "project", ["ganeti"]),
        "notes": _given(time, "notes", None),
        "issue_uri": _given(time, "issue_uri", "https://github.com/osuosl/ganeti_webmgr/issues/56"),
        "date_worked": _given(time, "date_worked", "2015-08-07"),
        "created_at": "2014-06-12",
        "updated_at": "2015-10-18",
        "deleted_at": None,
        "uuid": _echo(uuid),
        "revision": 2,
    }


def created_project(project: Mapping[str, Any]) -> JsonDict:
    result = {key: _echo(value) for key, value in project.items()}
    result["users"] = _given(
        project,
        "users",
        {"mrsj": _permissions(True, True, True), "tschuy": _permissions(True, False, False)},
    )
    result["uri"] = _given(project, "uri", None)
    result.update(
        uuid="309eae69-21dc-4538-9fdc-e6892a9c4dd4",
        revision=1,
        created_at="2015-05-23",
        updated_at=None,
        deleted_at=None,
    )
    return result


def updated_project(project: Mapping[str, Any], slug: object) -> JsonDict:
    """Never echoes ``default_activity``: climesync's tests compare against a result without it."""
    return {
        "uri": _given(project, "uri", None),
        "name": _given(project, "name", "TimeSync API"),
        "slugs": _given(project, "slugs", [_echo(slug)]),
        "created_at": "2014-04-16",
        "updated_at": "2014-04-18",
        "deleted_at": None,
        "uuid": "309eae69-21dc-4538-9fdc-e6892a9c4dd4",
        "revision": 2,
        "users": _given(
            project,
            "users",
            {"patcht": _permissions(True, False, False), "tschuy": _permissions(True, True, True)},
        ),
    }


def created_activity(activity: Mapping[str, Any]) -> JsonDict:
    result = {key: _echo(value) for key, value in activity.items()}
    result.update(
        uuid="cfa07a4f-d446-4078-8d73-2f77560c35c0",
        created_at="2013-07-27",
        updated_at=None,
        deleted_at=None,
        revision=1,
    )
    return result


def updated_activity(activity: Mapping[str, Any], slug: object) -> JsonDict:
    return {
        "name": _given(activity, "name", "Testing Infra"),
        "slug": _given(activity, "slug", _echo(slug)),
        "uuid": "3cf78d25-411c-4d1f-80c8-a09e5e12cae3",
        "created_at": "2014-04-16",
        "updated_at": "2014-04-17",
        "deleted_at": None,
        "revision": 2,
    }


def _site_flags(user: Mapping[str, Any]) -> JsonDict:
    return {flag: _given(user, flag, False) for flag in ("site_admin", "site_manager", "site_spectator")}


def created_user(user: Mapping[str, Any]) -> JsonDict:
    """The new user without its password; ``active`` is always True, as in upstream's fixture."""
    result = {key: _echo(value) for key, value in user.items() if key != "password"}
    result["active"] = True
    result.update(_site_flags(user))
    result.update(created_at="2015-05-23", deleted_at=None)
    return result


def updated_user(user: Mapping[str, Any], username: object) -> JsonDict:
    """Never echoes ``meta``, ``password`` or ``active``, as upstream's fixture did."""
    return {
        "username": _given(user, "username", _echo(username)),
        "display_name": _given(user, "display_name", "Mr. Example"),
        "email": _given(user, "email", "examplej@example.com"),
        "active": True,
        **_site_flags(user),
        "created_at": "2015-02-29",
        "deleted_at": None,
    }
