"""Permission matrix: every role against every action (API doc 3.6, 5; server decisions in docs/server.md).

Roles (each test makes a fresh actor, so no test sees another's grants):

* ``site_admin``, ``site_manager``, ``site_spectator``: that one site flag, no project role;
* ``project_manager``, ``project_member``, ``project_spectator``: that one flag on the target project P;
* ``no_roles``: nothing.

P is a fresh project per test; ``owner`` (a plain member of P) has a time T in it. "Own" time actions
use a time the actor logged in a separate project where the actor is a member, so they do not depend
on the role.

Expectation table (Y = allowed; a letter = refused with 401 ``<caller> is not authorized to <action>``;
404 = ``Nonexistent time``, 404d = ``Nonexistent uuid`` (DELETE's word); "-" = absent from a 200 list).
The refusal actions:
T ``create time entries for project <slug>.``, O ``create time entries for <user>``,
U ``update time <uuid>``, D ``delete time <uuid>``, C ``create projects``,
M ``make changes to <project name>``, X ``delete project <slug>``, A ``create activities``,
A2 ``update activities``, A3 ``delete activities``, N ``create users``, P ``set permissions of user <self>``,
W ``modify user <u>``, F ``modify fields of user <u> other than site_spectator``, E ``delete users``.

| action                | adm | mgr | spc | pmgr | pmem | pspc | none | refusal, [note]  |
|-----------------------|-----|-----|-----|------|------|------|------|------------------|
| see own time          |  Y  |  Y  |  Y  |  Y   |  Y   |  Y   |  Y   | [1]              |
| see other's time      |  Y  | 404 |  Y  | 404  | 404  |  Y   | 404  | [2]              |
| list other's time     |  Y  |  -  |  Y  |  -   |  -   |  Y   |  -   | [2]              |
| create own time in P  |  Y  |  T  |  T  |  T   |  Y   |  T   |  T   | T [3]            |
| create time for other |  O  |  O  |  O  |  O   |  O   |  O   |  O   | O [4]            |
| update own time       |  Y  |  Y  |  Y  |  Y   |  Y   |  Y   |  Y   | [1]              |
| update other's time   |  Y  | 404 |  U  | 404  | 404  |  U   | 404  | U [5]            |
| update own deleted    | 404 | 404 | 404 | 404  | 404  | 404  | 404  | [19]             |
| restore other's time  |  Y  | 404 | 404 | 404  | 404  | 404  | 404  | [19]             |
| delete own time       |  Y  |  Y  |  Y  |  Y   |  Y   |  Y   |  Y   | [1]              |
| delete other's time   |  Y  |  Y  |  D  | 404d | 404d |  D   | 404d | D [6]            |
| create project        |  Y  |  Y  |  C  |  C   |  C   |  C   |  C   | C                |
| update project        |  Y  |  Y  |  M  |  Y   |  M   |  M   |  M   | M                |
| update project users  |  Y  |  Y  |  M  |  Y   |  M   |  M   |  M   | M                |
| delete project        |  Y  |  Y  |  X  |  Y   |  X   |  X   |  X   | X [7]            |
| create activity       |  Y  |  Y  |  A  |  A   |  A   |  A   |  A   | A                |
| update activity       |  Y  |  Y  |  A2 |  A2  |  A2  |  A2  |  A2  | A2               |
| delete activity       |  Y  |  Y  |  A3 |  A3  |  A3  |  A3  |  A3  | A3               |
| create user           |  Y  |  Y  |  N  |  N   |  N   |  N   |  N   | N [8]            |
| update own fields     |  Y  |  Y  |  Y  |  Y   |  Y   |  Y   |  Y   | [9]              |
| self-grant spectator  |  Y  |  P  |  P  |  P   |  P   |  P   |  P   | P [10]           |
| self-grant manager    |  Y  |  P  |  P  |  P   |  P   |  P   |  P   | P [11]           |
| set other's spectator |  Y  |  Y  |  W  |  W   |  W   |  W   |  W   | W [12]           |
| set other's manager   |  Y  |  F  |  W  |  W   |  W   |  W   |  W   | F [13]           |
| update other's fields |  Y  |  F  |  W  |  W   |  W   |  W   |  W   | F                |
| update other's email  |  Y  |  Y  |  W  |  W   |  W   |  W   |  W   | W [14]           |
| delete user           |  Y  |  Y  |  E  |  E   |  E   |  E   |  E   | E [15]           |
| delete a manager user |  Y  |  E  |  E  |  E   |  E   |  E   |  E   | E [16]           |
| update an admin       |  Y  |  W  |  W  |  W   |  W   |  W   |  W   | W [17]           |
| update a manager      |  Y  |  W  |  W  |  W   |  W   |  W   |  W   | W [17]           |
| update deleted user   | 404u| 404u|  W  |  W   |  W   |  W   |  W   | [18]             |
| restore deleted user  |  Y  | 404u|  W  |  W   |  W   |  W   |  W   | [18]             |

[1] the owner may always see, update and delete their own time.
[2] [IMPL] visibility (5.1.1, "verified"): owner, project spectator, site spectator, site admin; an
    invisible time is a 404 (8.6). Site managers and project managers without spectator do not see it.
[3] site_admin is pinned by the reference tests; otherwise the project's member flag (Rec 3.6 / 12).
[4] pinned: nobody logs time for someone else, admins included.
[5] pinned: owner or site_admin. A caller who may not see the time gets GET's 404 and the text names no
    owner (issue 13; the reference answers ``create objects for <owner>``).
[6] spec and [IMPL] agree: owner, site_manager, site_admin; refused callers who may not see the time get
    the 404 of an unknown uuid (issue 13).
[7] project managers may delete their project (Rec 5.2.5).
[8] admin OR site manager (Rec 5.4.2; the reference needs both).
[9] password, display_name, email and meta of oneself, site managers included (Rec 5.4.3).
[10] no self-granted site_spectator (Rec 5.4.3 / 12), even for a user who already holds it.
[11] only admins set site_manager or site_admin (spec).
[12] a site manager may set other users' site_spectator (spec).
[13] the reference checks "non-admin site manager sends a field other than site_spectator" (5.4.3
     step 4) before "non-admin sets permissions" (step 5).
[14] docs/server.md: a site manager may edit other users' email ([IMPL]: email is outside step 4).
[15] [IMPL]: site_manager or site_admin (the spec says admins only; no Rec).
[16] docs/server.md: a site manager may delete only users who are neither admins nor managers.
[17] docs/server.md: the rule of [16] also decides who may update whom (issue 13).
[18] docs/server.md: an update never undeletes; a site admin restores a user by sending ``deleted_at: null``.
     404u = ``Nonexistent user``; W comes first for callers who may not edit other users at all.
[19] docs/server.md: an update never undeletes a time (the reference's does); a site admin restores it by
     sending ``deleted_at: null``. The time was deleted by the admin before the request.

Unpinned rows follow the doc's Rec; where the doc has none, the decision in docs/server.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from .helpers import PASSWORD_HASH, Api, Response, User, authz, not_found, roles, unique

ROLES = [
    "site_admin",
    "site_manager",
    "site_spectator",
    "project_manager",
    "project_member",
    "project_spectator",
    "no_roles",
]
SITE_FLAGS = {
    "site_admin": {"site_admin": True},
    "site_manager": {"site_manager": True},
    "site_spectator": {"site_spectator": True},
}
PROJECT_FLAGS = {
    "project_manager": roles(manager=True),
    "project_member": roles(member=True),
    "project_spectator": roles(spectator=True),
}


@dataclass
class Ctx:
    api: Api
    role: str
    actor: User
    owner: User
    project: dict
    time: dict
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def me(self) -> str:
        return self.actor.username

    @property
    def token(self) -> str:
        return self.actor.token

    @property
    def slug(self) -> str:
        return str(self.project["slugs"][0])

    def admin(self) -> str:
        return self.api.admin_token()

    def own_time(self) -> dict:
        if "own" not in self._cache:
            home = self.api.create_project(users={self.me: roles(member=True)}, default_activity="work")
            self._cache["own"] = self.api.create_time(self.token, self.me, home["slugs"][0])
        return self._cache["own"]

    def activity(self) -> dict:
        if "activity" not in self._cache:
            self._cache["activity"] = self.api.create_activity()
        return self._cache["activity"]

    def victim(self, **flags: bool) -> User:
        if "victim" not in self._cache:
            self._cache["victim"] = self.api.create_user(unique("victim"), **flags)
        return self._cache["victim"]

    def admin_get(self, path: str, **query: Any) -> Response:
        return self.api.get(path, self.admin(), **query)


# Each action does one request as the actor and returns (response, check); check(allowed) then
# verifies the effect, or that nothing changed.
Action = Callable[[Ctx], tuple[Response, Callable[[bool], None] | None]]


def _see_own_time(c: Ctx) -> Any:
    return c.api.get(f"/times/{c.own_time()['uuid']}", c.token), None


def _see_other_time(c: Ctx) -> Any:
    return c.api.get(f"/times/{c.time['uuid']}", c.token), None


def _list_other_time(c: Ctx) -> Any:
    resp = c.api.get("/times", c.token, project=c.slug)

    def check(allowed: bool) -> None:
        assert resp.status == 200
        assert ([t["uuid"] for t in resp.json] == [c.time["uuid"]]) is allowed

    return resp, check


def _create_own_time(c: Ctx) -> Any:
    obj = {"duration": 60, "user": c.me, "project": c.slug, "date_worked": "2015-04-19"}
    resp = c.api.post("/times", obj, c.token)

    def check(allowed: bool) -> None:
        mine = [t for t in c.admin_get("/times", project=c.slug).json if t["user"] == c.me]
        assert len(mine) == (1 if allowed else 0)

    return resp, check


def _create_time_for_other(c: Ctx) -> Any:
    obj = {"duration": 60, "user": c.owner.username, "project": c.slug, "date_worked": "2015-04-19"}
    return c.api.post("/times", obj, c.token), None


def _update_own_time(c: Ctx) -> Any:
    uuid = c.own_time()["uuid"]
    resp = c.api.post(f"/times/{uuid}", {"duration": 7}, c.token)
    return (
        resp,
        lambda allowed: (
            None if not allowed else _assert_eq(c.admin_get(f"/times/{uuid}").json["duration"], 7)
        ),
    )


def _update_other_time(c: Ctx) -> Any:
    resp = c.api.post(f"/times/{c.time['uuid']}", {"duration": 7, "notes": "changed"}, c.token)

    def check(allowed: bool) -> None:
        got = c.admin_get(f"/times/{c.time['uuid']}").json
        assert (got["duration"], got["revision"], got["user"]) == (
            (7, 2, c.owner.username) if allowed else (3600, 1, c.owner.username)
        )

    return resp, check


def _update_own_deleted_time(c: Ctx) -> Any:
    uuid = c.own_time()["uuid"]
    c.api.ok(c.api.delete(f"/times/{uuid}", c.admin()))
    resp = c.api.post(f"/times/{uuid}", {"duration": 7}, c.token)
    return resp, lambda allowed: _assert_eq(c.admin_get(f"/times/{uuid}").status, 200 if allowed else 404)


def _restore_other_time(c: Ctx) -> Any:
    uuid = c.time["uuid"]
    c.api.ok(c.api.delete(f"/times/{uuid}", c.admin()))
    resp = c.api.post(f"/times/{uuid}", {"deleted_at": None}, c.token)
    return resp, lambda allowed: _assert_eq(c.admin_get(f"/times/{uuid}").status, 200 if allowed else 404)


def _delete_own_time(c: Ctx) -> Any:
    uuid = c.own_time()["uuid"]
    resp = c.api.delete(f"/times/{uuid}", c.token)
    return resp, lambda allowed: _assert_eq(c.admin_get(f"/times/{uuid}").status, 404 if allowed else 200)


def _delete_other_time(c: Ctx) -> Any:
    resp = c.api.delete(f"/times/{c.time['uuid']}", c.token)
    return resp, lambda allowed: _assert_eq(
        c.admin_get(f"/times/{c.time['uuid']}").status, 404 if allowed else 200
    )


def _create_project(c: Ctx) -> Any:
    slug = unique("newproj")
    resp = c.api.post("/projects", {"name": f"New {slug}", "slugs": [slug]}, c.token)
    return resp, lambda allowed: _assert_eq(c.admin_get(f"/projects/{slug}").status, 200 if allowed else 404)


def _update_project(c: Ctx) -> Any:
    resp = c.api.post(f"/projects/{c.slug}", {"uri": "https://example.com/changed"}, c.token)

    def check(allowed: bool) -> None:
        got = c.admin_get(f"/projects/{c.slug}").json
        assert (got["uri"], got["revision"]) == (("https://example.com/changed", 2) if allowed else (None, 1))

    return resp, check


def _update_project_users(c: Ctx) -> Any:
    victim = c.victim()
    users = {**c.project.get("users", {}), victim.username: roles(member=True)}
    resp = c.api.post(f"/projects/{c.slug}", {"users": users}, c.token)

    def check(allowed: bool) -> None:
        got = c.admin_get(f"/projects/{c.slug}").json["users"]
        assert (victim.username in got) is allowed

    return resp, check


def _delete_project(c: Ctx) -> Any:
    users = {c.me: PROJECT_FLAGS[c.role]} if c.role in PROJECT_FLAGS else {}
    doomed = c.api.create_project(users=users)
    slug = c._cache["doomed"] = doomed["slugs"][0]
    resp = c.api.delete(f"/projects/{slug}", c.token)
    return resp, lambda allowed: _assert_eq(c.admin_get(f"/projects/{slug}").status, 404 if allowed else 200)


def _create_activity(c: Ctx) -> Any:
    slug = unique("newact")
    resp = c.api.post("/activities", {"name": f"New {slug}", "slug": slug}, c.token)
    return resp, lambda allowed: _assert_eq(
        c.admin_get(f"/activities/{slug}").status, 200 if allowed else 404
    )


def _update_activity(c: Ctx) -> Any:
    act = c.activity()
    resp = c.api.post(f"/activities/{act['slug']}", {"name": unique("Renamed ")}, c.token)
    return resp, lambda allowed: _assert_eq(
        c.admin_get(f"/activities/{act['slug']}").json["revision"], 2 if allowed else 1
    )


def _delete_activity(c: Ctx) -> Any:
    act = c.activity()
    resp = c.api.delete(f"/activities/{act['slug']}", c.token)
    return resp, lambda allowed: _assert_eq(
        c.admin_get(f"/activities/{act['slug']}").status, 404 if allowed else 200
    )


def _create_user(c: Ctx) -> Any:
    name = unique("newuser")
    resp = c.api.post("/users", {"username": name, "password": "pw"}, c.token)
    return resp, lambda allowed: _assert_eq(c.admin_get(f"/users/{name}").status, 200 if allowed else 404)


def _update_own_fields(c: Ctx) -> Any:
    obj = {
        "display_name": "Me Myself",
        "email": "me.myself@example.com",
        "meta": "mine",
        "password": PASSWORD_HASH,
    }
    resp = c.api.post(f"/users/{c.me}", obj, c.token)

    def check(allowed: bool) -> None:
        got = c.admin_get(f"/users/{c.me}").json
        assert (got["display_name"] == "Me Myself") is allowed
        assert c.api.login(c.me, c.actor.password).status == 200

    return resp, check


def _self_grant(flag: str) -> Action:
    def action(c: Ctx) -> Any:
        before = c.admin_get(f"/users/{c.me}").json
        resp = c.api.post(f"/users/{c.me}", {flag: True}, c.token)

        def check(allowed: bool) -> None:
            after = c.admin_get(f"/users/{c.me}").json
            if allowed:
                assert after[flag] is True
            else:
                assert after == before

        return resp, check

    return action


def _update_other(obj: dict[str, Any], victim_flags: dict[str, bool] | None = None) -> Action:
    def action(c: Ctx) -> Any:
        victim = c.victim(**(victim_flags or {}))
        before = c.admin_get(f"/users/{victim.username}").json
        resp = c.api.post(f"/users/{victim.username}", obj, c.token)

        def check(allowed: bool) -> None:
            after = c.admin_get(f"/users/{victim.username}").json
            if allowed:
                assert {k: after[k] for k in obj} == obj
            else:
                assert after == before

        return resp, check

    return action


def _update_deleted_user(obj: dict[str, Any]) -> Action:
    def action(c: Ctx) -> Any:
        victim = c.victim()
        c.api.ok(c.api.delete(f"/users/{victim.username}", c.admin()))
        resp = c.api.post(f"/users/{victim.username}", obj, c.token)
        return resp, lambda allowed: _assert_eq(
            c.admin_get(f"/users/{victim.username}").status, 200 if allowed else 404
        )

    return action


def _delete_user(victim_flags: dict[str, bool]) -> Action:
    def action(c: Ctx) -> Any:
        victim = c.victim(**victim_flags)
        resp = c.api.delete(f"/users/{victim.username}", c.token)
        return resp, lambda allowed: _assert_eq(
            c.admin_get(f"/users/{victim.username}").status, 404 if allowed else 200
        )

    return action


def _assert_eq(actual: Any, expected: Any) -> None:
    assert actual == expected


# Refusal kinds, as functions of the context.
def _authz(text: str) -> Callable[[Ctx], dict]:
    return lambda c: authz(
        c.me,
        text.format(
            c=c,
            slug=c.slug,
            owner=c.owner.username,
            time=c.time["uuid"],
            name=c.project["name"],
            victim=c._cache.get("victim", c.actor).username,
            doomed=c._cache.get("doomed", ""),
        ),
    )


NOT_VISIBLE = "404"
NO_USER = "404-user"
NO_UUID = "404-uuid"
HIDDEN = "hidden"  # a list request that succeeds without the object
OK = "ok"

Y = OK
A_TIME_PROJECT = _authz("create time entries for project {slug}.")
A_TIME_OTHER = _authz("create time entries for {owner}")
A_UPDATE_TIME = _authz("update time {time}")
A_DELETE_TIME = _authz("delete time {time}")
A_CREATE_PROJECT = _authz("create projects")
A_CHANGE_PROJECT = _authz("make changes to {name}")
A_DELETE_PROJECT = _authz("delete project {doomed}")
A_CREATE_ACT = _authz("create activities")
A_UPDATE_ACT = _authz("update activities")
A_DELETE_ACT = _authz("delete activities")
A_CREATE_USER = _authz("create users")
A_SELF_PERMS = _authz("set permissions of user {c.me}")
A_MODIFY = _authz("modify user {victim}")
A_FIELDS = _authz("modify fields of user {victim} other than site_spectator")
A_DELETE_USER = _authz("delete users")

#            action                  adm mgr  spc  pmgr pmem pspc none
MATRIX: list[tuple[str, Action, list[Any]]] = [
    ("see_own_time", _see_own_time, [Y, Y, Y, Y, Y, Y, Y]),
    ("see_other_time", _see_other_time, [Y, NOT_VISIBLE, Y, NOT_VISIBLE, NOT_VISIBLE, Y, NOT_VISIBLE]),
    ("list_other_time", _list_other_time, [Y, HIDDEN, Y, HIDDEN, HIDDEN, Y, HIDDEN]),
    (
        "create_own_time",
        _create_own_time,
        [Y, A_TIME_PROJECT, A_TIME_PROJECT, A_TIME_PROJECT, Y, A_TIME_PROJECT, A_TIME_PROJECT],
    ),
    ("create_time_for_other", _create_time_for_other, [A_TIME_OTHER] * 7),
    ("update_own_time", _update_own_time, [Y] * 7),
    (
        "update_other_time",
        _update_other_time,
        [Y, NOT_VISIBLE, A_UPDATE_TIME, NOT_VISIBLE, NOT_VISIBLE, A_UPDATE_TIME, NOT_VISIBLE],
    ),
    ("update_own_deleted_time", _update_own_deleted_time, [NOT_VISIBLE] * 7),
    ("restore_other_time", _restore_other_time, [Y] + [NOT_VISIBLE] * 6),
    ("delete_own_time", _delete_own_time, [Y] * 7),
    (
        "delete_other_time",
        _delete_other_time,
        [Y, Y, A_DELETE_TIME, NO_UUID, NO_UUID, A_DELETE_TIME, NO_UUID],
    ),
    ("create_project", _create_project, [Y, Y] + [A_CREATE_PROJECT] * 5),
    (
        "update_project",
        _update_project,
        [Y, Y, A_CHANGE_PROJECT, Y, A_CHANGE_PROJECT, A_CHANGE_PROJECT, A_CHANGE_PROJECT],
    ),
    (
        "update_project_users",
        _update_project_users,
        [Y, Y, A_CHANGE_PROJECT, Y, A_CHANGE_PROJECT, A_CHANGE_PROJECT, A_CHANGE_PROJECT],
    ),
    (
        "delete_project",
        _delete_project,
        [Y, Y, A_DELETE_PROJECT, Y, A_DELETE_PROJECT, A_DELETE_PROJECT, A_DELETE_PROJECT],
    ),
    ("create_activity", _create_activity, [Y, Y] + [A_CREATE_ACT] * 5),
    ("update_activity", _update_activity, [Y, Y] + [A_UPDATE_ACT] * 5),
    ("delete_activity", _delete_activity, [Y, Y] + [A_DELETE_ACT] * 5),
    ("create_user", _create_user, [Y, Y] + [A_CREATE_USER] * 5),
    ("update_own_fields", _update_own_fields, [Y] * 7),
    ("self_grant_spectator", _self_grant("site_spectator"), [Y] + [A_SELF_PERMS] * 6),
    ("self_grant_manager", _self_grant("site_manager"), [Y] + [A_SELF_PERMS] * 6),
    ("set_other_spectator", _update_other({"site_spectator": True}), [Y, Y] + [A_MODIFY] * 5),
    ("set_other_manager", _update_other({"site_manager": True}), [Y, A_FIELDS] + [A_MODIFY] * 5),
    ("update_other_fields", _update_other({"display_name": "Changed"}), [Y, A_FIELDS] + [A_MODIFY] * 5),
    ("update_other_email", _update_other({"email": "changed.mail@example.com"}), [Y, Y] + [A_MODIFY] * 5),
    ("delete_user", _delete_user({}), [Y, Y] + [A_DELETE_USER] * 5),
    ("delete_manager_user", _delete_user({"site_manager": True}), [Y] + [A_DELETE_USER] * 6),
    (
        "update_admin",
        _update_other({"email": "taken.over@example.com"}, {"site_admin": True}),
        [Y] + [A_MODIFY] * 6,
    ),
    ("update_manager", _update_other({"site_spectator": True}, {"site_manager": True}), [Y] + [A_MODIFY] * 6),
    (
        "update_deleted_user",
        _update_deleted_user({"email": "back.again@example.com"}),
        [NO_USER, NO_USER] + [A_MODIFY] * 5,
    ),
    ("restore_deleted_user", _update_deleted_user({"deleted_at": None}), [Y, NO_USER] + [A_MODIFY] * 5),
]

CASES = [
    pytest.param(action, ROLES[i], expected, id=f"{name}-{ROLES[i]}")
    for name, action, row in MATRIX
    for i, expected in enumerate(row)
]


@pytest.fixture(scope="module")
def matrix_base(shared_api: Api) -> dict[str, Any]:
    api = shared_api
    api.create_activity("work")
    return {"owner": api.create_user("owner")}


def _context(api: Api, base: dict[str, Any], role: str) -> Ctx:
    actor = api.create_user(unique(role.replace("_", "")), **SITE_FLAGS.get(role, {}))
    owner: User = base["owner"]
    users = {owner.username: roles(member=True)}
    if role in PROJECT_FLAGS:
        users[actor.username] = PROJECT_FLAGS[role]
    project = api.create_project(users=users, default_activity="work")
    time = api.create_time(owner.token, owner.username, project["slugs"][0])
    return Ctx(api, role, actor, owner, project, time)


@pytest.mark.parametrize(("action", "role", "expected"), CASES)
def test_permission(
    shared_api: Api, matrix_base: dict[str, Any], action: Action, role: str, expected: Any
) -> None:
    ctx = _context(shared_api, matrix_base, role)
    resp, check = action(ctx)
    if expected == OK:
        assert resp.status == 200, resp.json
        allowed = True
    elif expected == HIDDEN:
        allowed = False
    elif expected == NOT_VISIBLE:
        assert resp.json == not_found("time")
        allowed = False
    elif expected == NO_USER:
        assert resp.json == not_found("user")
        allowed = False
    elif expected == NO_UUID:
        assert resp.json == not_found("uuid")
        allowed = False
    else:
        assert resp.status == 401
        assert resp.json == expected(ctx)
        allowed = False
    if check is not None:
        check(allowed)
