"""Test mode (contract §9): exact fixtures, every local check in network order, nothing shared.

The expected values are written out here from the contract's tables, independently of
``pymesync._fixtures``, because climesync compares whole dicts and lists with them.
"""

from __future__ import annotations

import _socket
import copy
import datetime
import socket
from collections.abc import Iterator
from typing import Any

import pytest

import pymesync

NOT_AUTH = {"pymesync error": "Not authenticated with TimeSync, call self.authenticate() first"}
T, F = True, False


def perms(member: bool, spectator: bool, manager: bool) -> dict[str, bool]:
    return {"member": member, "spectator": spectator, "manager": manager}


def time_fixture(
    duration: int, user: str, project: list[str], activities: list[str], notes: str, issue: str, uuid: str
):
    return {
        "duration": duration,
        "user": user,
        "project": project,
        "activities": activities,
        "notes": notes,
        "issue_uri": issue,
        "uuid": uuid,
        "date_worked": "2014-04-17",
        "revision": 1,
        "created_at": "2014-04-17",
        "updated_at": None,
        "deleted_at": None,
    }


T1 = time_fixture(
    12, "userone", ["ganeti-webmgr", "gwm"], ["docs", "planning"], "Worked on documentation.",
    "https://github.com/osuosl/ganeti_webmgr", "c3706e79-1c9a-4765-8d7f-89b4544cad56",
)  # fmt: skip
T2 = time_fixture(
    13, "usertwo", ["ganeti-webmgr", "gwm"], ["code", "planning"], "Worked on coding",
    "https://github.com/osuosl/ganeti_webmgr", "12345676-1c9a-rrrr-bbbb-89b4544cad56",
)  # fmt: skip
T3 = time_fixture(
    14, "userthree", ["timesync", "ts"], ["code"], "Worked on coding",
    "https://github.com/osuosl/timesync", "12345676-1c9a-ssss-cccc-89b4544cad56",
)  # fmt: skip


def project_fixture(uri: str, name: str, slugs: list[str], uuid: str, revision: int, users: dict[str, Any]):
    return {
        "uri": uri,
        "name": name,
        "slugs": slugs,
        "uuid": uuid,
        "revision": revision,
        "users": users,
        "created_at": "2014-07-17",
        "updated_at": "2014-07-20",
        "deleted_at": None,
    }


P1 = project_fixture(
    "https://code.osuosl.org/projects/ganeti-webmgr", "Ganeti Web Manager", ["gwm"],
    "a034806c-00db-4fe1-8de8-514575f31bfb", 4, {"patcht": perms(T, F, F), "tschuy": perms(T, T, T)},
)  # fmt: skip
P2 = project_fixture(
    "https://code.osuosl.org/projects/timesync", "TimeSync", ["timesync", "ts"],
    "a034806c-rrrr-bbbb-8de8-514575f31bfb", 2,
    {"patcht": perms(T, F, F), "mrsj": perms(T, T, F), "tschuy": perms(T, T, T)},
)  # fmt: skip
P3 = project_fixture(
    "https://code.osuosl.org/projects/pymesync", "pymesync", ["pymesync", "ps"],
    "a034806c-ssss-cccc-8de8-514575f31bfb", 1,
    {
        "patcht": perms(T, F, F), "tschuy": perms(T, T, F), "mrsj": perms(T, T, T),
        "MaraJade": perms(T, F, F), "thai": perms(T, F, F),
    },
)  # fmt: skip


def activity_fixture(name: str, slug: str, uuid: str, revision: int) -> dict[str, Any]:
    common = {"created_at": "2014-04-17", "updated_at": None, "deleted_at": None}
    return {"name": name, "slug": slug, "uuid": uuid, "revision": revision, **common}


A1 = activity_fixture("Documentation", "docs", "adf036f5-3d49-4a84-bef9-062b46380bbf", 5)
A2 = activity_fixture("Coding", "dev", "adf036f5-3d49-bbbb-rrrr-062b46380bbf", 1)
A3 = activity_fixture("Planning", "plan", "adf036f5-3d49-cccc-ssss-062b46380bbf", 1)


def user_fixture(username: str, display_name: str, email: str, **flags: bool) -> dict[str, Any]:
    return {
        "username": username,
        "display_name": display_name,
        "email": email,
        "active": True,
        "site_admin": flags.get("site_admin", False),
        "site_manager": flags.get("site_manager", False),
        "site_spectator": flags.get("site_spectator", False),
        "created_at": "2015-02-29",
        "deleted_at": None,
    }


U1 = user_fixture("userone", "One Is The Loneliest Number", "exampleone@example.com")
U2 = user_fixture("usertwo", "Two Can Be As Bad As One", "exampletwo@example.com")
U3 = user_fixture("userthree", "Yes It's The Saddest Experience", "examplethree@example.com")
U4 = user_fixture("userfour", "You'll Ever Do", "examplefour@example.com")

PROJECT_USERS = {
    "malcolm": ["member", "manager"],
    "jayne": ["member"],
    "kaylee": ["member"],
    "zoe": ["member"],
    "hoban": ["member"],
    "simon": ["spectator"],
    "river": ["spectator"],
    "derrial": ["spectator"],
    "inara": ["spectator"],
}

SEED_TIME = {
    "duration": 12,
    "user": "example-2",
    "project": "ganeti_web_manager",
    "activities": ["docs"],
    "notes": "Worked on documentation toward settings configuration.",
    "issue_uri": "https://github.com/osuosl/ganeti_webmgr/issues",
    "date_worked": "2014-04-17",
}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Test mode must not open a socket or resolve a name: make both fail loudly."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("test mode touched the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(_socket, "getaddrinfo", refuse)  # what the transport resolves names with
    yield


@pytest.fixture
def ts() -> pymesync.TimeSync:
    ts = pymesync.TimeSync(baseurl="http://timesync.example.com/v1", test=True)
    assert ts.authenticate("test-user", "test-pass", "password") == {"token": "TESTTOKEN"}
    return ts


def test_authenticate_sets_token_user_and_auth_type() -> None:
    ts = pymesync.TimeSync(baseurl=None, test=True)
    assert ts.create_time(SEED_TIME) == NOT_AUTH
    result = ts.authenticate(username="test-user", password="test-pass", auth_type="password")
    assert result == {"token": "TESTTOKEN"}
    assert type(result) is dict
    assert (ts.token, ts.user, ts.auth_type) == ("TESTTOKEN", "test-user", "password")
    assert ts._transport is None


def test_any_baseurl_works_in_test_mode() -> None:
    for baseurl in (None, 42, "not a url", b"http://x"):
        ts = pymesync.TimeSync(baseurl, token="t", test=True)
        assert ts.get_times() == [T1, T2, T3]


def test_token_expiration_time(ts: pymesync.TimeSync) -> None:
    ts.token = "anything at all"
    expiry = ts.token_expiration_time()
    assert expiry == datetime.datetime(2016, 1, 13, 11, 45, 34)
    assert type(expiry) is datetime.datetime
    assert expiry.tzinfo is None


def test_project_users(ts: pymesync.TimeSync) -> None:
    assert ts.project_users(project="ff") == PROJECT_USERS
    assert ts.project_users("") == {"pymesync error": "Missing project slug, please include in method call"}


def test_create_time_echoes_with_seconds_and_fixed_fields(ts: pymesync.TimeSync) -> None:
    fixed = {
        "created_at": "2015-05-23",
        "updated_at": None,
        "deleted_at": None,
        "uuid": "838853e3-3635-4076-a26f-7efr4e60981f",
        "revision": 1,
    }
    assert ts.create_time(time=SEED_TIME) == {**SEED_TIME, **fixed}
    half_hour = {**SEED_TIME, "duration": "0h30m"}
    assert ts.create_time(half_hour) == {**SEED_TIME, "duration": 1800, **fixed}
    bare = {"duration": "2h0m", "user": "u", "project": "p", "date_worked": "2016-04-01"}
    assert ts.create_time(bare) == {**bare, "duration": 7200, "notes": None, "issue_uri": None, **fixed}
    falsy = {**bare, "notes": "", "issue_uri": ""}
    assert ts.create_time(falsy)["notes"] is None
    assert ts.create_time(falsy)["issue_uri"] is None


def test_update_time(ts: pymesync.TimeSync) -> None:
    time = {"duration": "1h50m", "user": "red-leader", "activities": ["hello", "world"]}
    assert ts.update_time(time=time, uuid="some-uuid") == {
        "activities": ["hello", "world"],
        "date_worked": "2015-08-07",
        "updated_at": "2015-10-18",
        "user": "red-leader",
        "duration": 6600,
        "deleted_at": None,
        "uuid": "some-uuid",
        "notes": None,
        "project": ["ganeti"],
        "issue_uri": "https://github.com/osuosl/ganeti_webmgr/issues/56",
        "created_at": "2014-06-12",
        "revision": 2,
    }
    defaults = ts.update_time({}, "u")
    assert (defaults["duration"], defaults["user"], defaults["activities"]) == (18, "example-user", ["qa"])
    given = ts.update_time({"notes": "", "issue_uri": None, "date_worked": "2016-01-01"}, "u")
    assert (given["notes"], given["issue_uri"], given["date_worked"]) == ("", None, "2016-01-01")


def test_create_project(ts: pymesync.TimeSync) -> None:
    fixed = {
        "uuid": "309eae69-21dc-4538-9fdc-e6892a9c4dd4",
        "revision": 1,
        "created_at": "2015-05-23",
        "updated_at": None,
        "deleted_at": None,
    }
    project = {
        "uri": "https://code.osuosl.org/projects/timesync",
        "name": "TimeSync API",
        "slugs": ["timesync", "time"],
        "users": {"tschuy": perms(T, F, T), "oz": perms(F, T, F)},
        "default_activity": "dev",
    }
    assert ts.create_project(project=project) == {**project, **fixed}
    assert ts.create_project({"name": "n", "slugs": ["s"]}) == {
        "name": "n",
        "slugs": ["s"],
        "uri": None,
        "users": {"mrsj": perms(T, T, T), "tschuy": perms(T, F, F)},
        **fixed,
    }


def test_update_project_drops_default_activity(ts: pymesync.TimeSync) -> None:
    project = {
        "uri": "https://code.osuosl.org/projects/timesync",
        "name": "pymesync",
        "default_activity": "x",
    }
    assert ts.update_project(project=project, slug="ps") == {
        "uri": "https://code.osuosl.org/projects/timesync",
        "name": "pymesync",
        "slugs": ["ps"],
        "created_at": "2014-04-16",
        "updated_at": "2014-04-18",
        "deleted_at": None,
        "uuid": "309eae69-21dc-4538-9fdc-e6892a9c4dd4",
        "revision": 2,
        "users": {"patcht": perms(T, F, F), "tschuy": perms(T, T, T)},
    }
    assert ts.update_project({}, "gwm")["name"] == "TimeSync API"
    assert ts.update_project({"slugs": ["a", "b"], "uri": ""}, "gwm")["slugs"] == ["a", "b"]


def test_create_and_update_activity(ts: pymesync.TimeSync) -> None:
    activity = {"name": "Quality Assurance/Testing", "slug": "qa"}
    assert ts.create_activity(activity=activity) == {
        "uuid": "cfa07a4f-d446-4078-8d73-2f77560c35c0",
        "created_at": "2013-07-27",
        "updated_at": None,
        "deleted_at": None,
        "revision": 1,
        "slug": "qa",
        "name": "Quality Assurance/Testing",
    }
    updated = {
        "uuid": "3cf78d25-411c-4d1f-80c8-a09e5e12cae3",
        "created_at": "2014-04-16",
        "updated_at": "2014-04-17",
        "deleted_at": None,
        "revision": 2,
        "slug": "ciw",
        "name": "Code in the wild",
    }
    assert ts.update_activity(activity={"name": "Code in the wild"}, slug="ciw") == updated
    assert ts.update_activity({}, "x") == {**updated, "name": "Testing Infra", "slug": "x"}
    assert ts.update_activity({"slug": "new"}, "old")["slug"] == "new"


def test_create_user_has_no_password_and_is_active(ts: pymesync.TimeSync) -> None:
    user = {
        "username": "example",
        "password": "password",
        "display_name": "X. Ample User",
        "email": "example@example.com",
    }
    result = ts.create_user(user=user)
    assert result == {
        "username": "example",
        "deleted_at": None,
        "display_name": "X. Ample User",
        "site_manager": False,
        "site_spectator": False,
        "site_admin": False,
        "created_at": "2015-05-23",
        "active": True,
        "email": "example@example.com",
    }
    minimal = ts.create_user(
        {"username": "u", "password": "p", "active": False, "site_admin": True, "meta": "m"}
    )
    assert minimal == {
        "username": "u",
        "active": True,
        "site_admin": True,
        "site_manager": False,
        "site_spectator": False,
        "meta": "m",
        "created_at": "2015-05-23",
        "deleted_at": None,
    }


def test_update_user_drops_meta_password_and_active(ts: pymesync.TimeSync) -> None:
    user = {"username": "red-leader", "email": "red-leader@yavin.com"}
    expected = {
        "username": "red-leader",
        "display_name": "Mr. Example",
        "site_manager": False,
        "site_spectator": False,
        "site_admin": False,
        "created_at": "2015-02-29",
        "active": True,
        "deleted_at": None,
        "email": "red-leader@yavin.com",
    }
    assert ts.update_user(user=user, username="example") == expected
    extra = {"meta": "m", "password": "secret", "active": False, "site_manager": True}
    assert ts.update_user(extra, "example") == {
        **expected,
        "username": "example",
        "email": "examplej@example.com",
        "site_manager": True,
    }


def test_get_times(ts: pymesync.TimeSync) -> None:
    assert ts.get_times() == [T1, T2, T3]
    assert ts.get_times({"user": ["nobody"], "project": "x", "include_deleted": True}) == [T1, T2, T3]
    assert ts.get_times({"uuid": "some-uuid"}) == [{**T1, "uuid": "some-uuid"}]
    assert ts.get_times({"uuid": ""}) == [T1, T2, T3]


def test_get_projects_and_activities(ts: pymesync.TimeSync) -> None:
    assert ts.get_projects() == [P1, P2, P3]
    assert ts.get_projects({"slug": "gwm"}) == [{**P1, "slugs": ["gwm"]}]
    assert ts.get_projects({"anything": 1, "user": "x"}) == [P1, P2, P3]
    assert ts.get_activities() == [A1, A2, A3]
    assert ts.get_activities({"slug": "docs"}) == [A1]
    assert ts.get_activities({"slug": "code", "include_revisions": True}) == [{**A1, "slug": "code"}]
    assert all("default_activity" not in project for project in ts.get_projects())


def test_get_users(ts: pymesync.TimeSync) -> None:
    assert ts.get_users() == [U1, U2, U3, U4]
    assert ts.get_users("admin") == [
        user_fixture("admin", "X. Ample User", "example@example.com", site_admin=True)
    ]
    assert ts.get_users("manager") == [
        user_fixture("manager", "X. Ample User", "example@example.com", site_manager=True)
    ]
    assert ts.get_users(username="spectator") == [
        user_fixture("spectator", "X. Ample User", "example@example.com", site_spectator=True)
    ]
    assert ts.get_users("bob") == [user_fixture("bob", "X. Ample User", "example@example.com")]
    assert ts.get_users(42) == [user_fixture("42", "X. Ample User", "example@example.com")]


@pytest.mark.parametrize("method", ["delete_time", "delete_project", "delete_activity", "delete_user"])
def test_delete_returns_a_list(ts: pymesync.TimeSync, method: str) -> None:
    result = getattr(ts, method)("some-id")
    assert result == [{"status": 200}]
    assert type(result) is list
    assert type(result[0]) is dict


def test_results_are_plain_types(ts: pymesync.TimeSync) -> None:
    for result in (ts.create_time(SEED_TIME), ts.project_users("p"), ts.update_user({}, "u")):
        assert type(result) is dict
    for listed in (ts.get_times(), ts.get_projects(), ts.get_activities(), ts.get_users()):
        assert type(listed) is list
        assert all(type(item) is dict for item in listed)


def test_fixtures_are_fresh_on_every_call(ts: pymesync.TimeSync) -> None:
    first = ts.get_projects()
    first[0]["users"]["patcht"]["member"] = "changed"
    first[0]["slugs"].append("changed")
    first.clear()
    assert ts.get_projects() == [P1, P2, P3]
    users = ts.project_users("p")
    users["malcolm"].append("changed")
    assert ts.project_users("p") == PROJECT_USERS
    deleted = ts.delete_time("x")
    deleted[0]["status"] = 500
    assert ts.delete_time("x") == [{"status": 200}]


def test_results_never_alias_inputs(ts: pymesync.TimeSync) -> None:
    activities = ["docs"]
    time = {**SEED_TIME, "activities": activities, "duration": "1h"}
    before = copy.deepcopy(time)
    created = ts.create_time(time)
    created["activities"].append("changed")
    assert time == before
    assert activities == ["docs"]
    users = {"bob": perms(T, F, F)}
    project = {"name": "n", "slugs": ["s"], "users": users}
    result = ts.create_project(project)
    result["users"]["bob"]["member"] = False
    result["slugs"].append("x")
    assert project == {"name": "n", "slugs": ["s"], "users": {"bob": perms(T, F, F)}}
    slug = ["odd", "slug"]
    updated = ts.update_project({}, slug)
    updated["slugs"][0].append("changed")
    assert slug == ["odd", "slug"]
    uuid = {"odd": ["uuid"]}
    ts.get_times({"uuid": uuid})[0]["uuid"]["odd"].append(1)
    assert uuid == {"odd": ["uuid"]}


# --- local errors, in the same order as network mode --------------------------------------------------


def E(text: str) -> dict[str, str]:
    return {"pymesync error": text}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "Missing username, password, auth_type; please add to method call"),
        (("u",), "Missing password, auth_type; please add to method call"),
        (("", "p", ""), "Missing username, auth_type; please add to method call"),
        (("u", "p", None), "Missing auth_type; please add to method call"),
        (("u", {1, 2}, "password"), "login: password is not JSON serializable"),
        ((b"u", "p", {1}), "login: username is not JSON serializable"),
        (("u", "p", float("nan")), "login: auth_type is not JSON serializable"),
    ],
)
def test_authenticate_errors(args: tuple[object, ...], expected: str) -> None:
    ts = pymesync.TimeSync("http://x/v1", token="before", test=True)
    assert ts.authenticate(*args) == E(expected)
    assert (ts.token, ts.user, ts.auth_type) == ("before", None, None)


UNAUTHENTICATED_CALLS = [
    ("token_expiration_time", ()),
    ("project_users", ()),
    ("create_time", (None,)),
    ("update_time", (None, None)),
    ("create_project", ("junk",)),
    ("update_project", ({"bogus": 1}, "")),
    ("create_activity", ()),
    ("update_activity", ()),
    ("create_user", ({"site_admin": 1},)),
    ("update_user", ()),
    ("delete_time", ()),
    ("delete_project", ()),
    ("delete_activity", ()),
    ("delete_user", ()),
]


@pytest.mark.parametrize("token", [None, "", 0, False, []])
@pytest.mark.parametrize(("method", "args"), UNAUTHENTICATED_CALLS)
def test_auth_check_runs_first(method: str, args: tuple[object, ...], token: object) -> None:
    ts = pymesync.TimeSync("http://x/v1", token=token, test=True)
    assert getattr(ts, method)(*args) == NOT_AUTH


@pytest.mark.parametrize("method", ["get_times", "get_projects", "get_activities", "get_users"])
def test_auth_check_runs_first_for_lists(method: str) -> None:
    ts = pymesync.TimeSync("http://x/v1", test=True)
    assert getattr(ts, method)("not a dict") == [NOT_AUTH]


@pytest.mark.parametrize(
    ("method", "args", "expected"),
    [
        ("create_time", (), "time object: must be python dictionary"),
        ("create_time", ([],), "time object: must be python dictionary"),
        ("update_time", ({"duration": "junk"},), "missing uuid; please add to method call"),
        ("update_time", ("not a dict", ""), "missing uuid; please add to method call"),
        ("update_time", ("not a dict", "u"), "time object: must be python dictionary"),
        ("create_time", ({"duration": 1, "bogus": 1, "zzz": 2},), "time object: invalid field: bogus"),
        ("create_time", ({"junk": 1, "duration": "junk"},), "time object: invalid field: junk"),
        (
            "create_time",
            ({"user": "u", "date_worked": "d"},),
            "time object: missing required field(s): duration, project",
        ),
        (
            "create_time",
            ({"duration": "1h", "project": "p", "user": "u"},),
            "time object: missing required field(s): date_worked",
        ),
        ("create_time", ({**SEED_TIME, "duration": "junktime"},), "time object: invalid duration string"),
        ("create_time", ({**SEED_TIME, "duration": -1},), "time object: duration cannot be negative"),
        ("create_time", ({**SEED_TIME, "duration": 1.5},), "time object: invalid duration string"),
        ("create_time", ({**SEED_TIME, "duration": True},), "time object: invalid duration string"),
        (
            "create_time",
            ({**SEED_TIME, "notes": {1}, "duration": "x"},),
            "time object: invalid duration string",
        ),
        (
            "create_time",
            ({**SEED_TIME, "notes": {1}, "issue_uri": {2}},),
            "time object: notes is not JSON serializable",
        ),
        ("update_time", ({"duration": None}, "u"), "time object: invalid duration string"),
        ("create_project", ({"name": "n"},), "project object: missing required field(s): slugs"),
        (
            "create_project",
            ({"name": "n", "slugs": ["s"], "owner": "o"},),
            "project object: invalid field: owner",
        ),
        ("update_project", ({"user": "x"}, "s"), "project object: invalid field: user"),
        ("update_project", ({}, None), "missing slug; please add to method call"),
        ("create_activity", ({"slug": "s"},), "activity object: missing required field(s): name"),
        (
            "create_activity",
            ({"name": "n", "slug": "s", "slugs": []},),
            "activity object: invalid field: slugs",
        ),
        ("update_activity", ({}, ""), "missing slug; please add to method call"),
        ("update_activity", (5, "s"), "activity object: must be python dictionary"),
        ("create_user", ({"username": "u"},), "user object: missing required field(s): password"),
        (
            "create_user",
            ({"username": "u", "password": "p", "active": 1, "site_admin": "no"},),
            "user object: site_admin must be True or False",
        ),
        (
            "create_user",
            ({"username": "u", "password": "p", "active": 1},),
            "user object: active must be True or False",
        ),
        (
            "create_user",
            ({"username": "u", "password": None, "site_manager": 0},),
            "user object: site_manager must be True or False",
        ),
        ("create_user", ({"username": "u", "password": None},), "user object: password must be a string"),
        (
            "create_user",
            ({"username": "u", "password": "a\x00"},),
            "user object: password cannot contain NUL characters",
        ),
        (
            "create_user",
            ({"username": {1}, "password": ""},),
            "user object: username is not JSON serializable",
        ),
        ("update_user", ({"password": 12}, "u"), "user object: password must be a string"),
        (
            "update_user",
            ({"site_spectator": "true"}, "u"),
            "user object: site_spectator must be True or False",
        ),
        ("update_user", ({}, ""), "missing username; please add to method call"),
        ("delete_time", ("",), "missing uuid; please add to method call"),
        ("delete_project", (None,), "missing slug; please add to method call"),
        ("delete_activity", (0,), "missing slug; please add to method call"),
        ("delete_user", ([],), "missing username; please add to method call"),
    ],
)
def test_local_errors(ts: pymesync.TimeSync, method: str, args: tuple[object, ...], expected: str) -> None:
    result = getattr(ts, method)(*args)
    assert result == E(expected)
    assert type(result) is dict


@pytest.mark.parametrize(
    ("method", "args", "expected"),
    [
        ("get_times", ("not a dict",), "query parameters: must be python dictionary"),
        ("get_times", ([("user", "u")],), "query parameters: must be python dictionary"),
        ("get_times", ({"user": "u", "bogus": 1},), "invalid query: bogus"),
        ("get_times", ({"uuid": "u", "limit": 5},), "invalid query: limit"),
        ("get_projects", (7,), "query parameters: must be python dictionary"),
        (
            "get_projects",
            ({"slug": "gwm", "include_deleted": False},),
            "invalid combination: slug and include_deleted",
        ),
        (
            "get_activities",
            ({"include_deleted": True, "slug": "x"},),
            "invalid combination: slug and include_deleted",
        ),
        ("get_activities", ({"a"},), "query parameters: must be python dictionary"),
    ],
)
def test_local_list_errors(
    ts: pymesync.TimeSync, method: str, args: tuple[object, ...], expected: str
) -> None:
    assert getattr(ts, method)(*args) == [E(expected)]


@pytest.mark.parametrize("falsy", [None, {}, "", [], 0])
def test_falsy_query_parameters_mean_no_filter(ts: pymesync.TimeSync, falsy: object) -> None:
    assert ts.get_times(falsy) == [T1, T2, T3]
    assert ts.get_projects(falsy) == [P1, P2, P3]


def test_constructor_attributes() -> None:
    ts = pymesync.TimeSync(baseurl="http://x/v1//", token="secret-token", test=True)
    assert ts.baseurl == "http://x/v1/"
    assert pymesync.TimeSync("http://x/v1/").baseurl == "http://x/v1"
    assert pymesync.TimeSync(None).baseurl is None
    assert ts.error == pymesync.TimeSync.error == "pymesync error"
    assert (ts.user, ts.auth_type, ts.test, ts.timeout) == (None, None, True, (5, 60))
    assert "secret-token" not in repr(ts)
    assert "secret-token" not in str(ts)
    ts.authenticate("u", "hunter2", "password")
    assert not hasattr(ts, "password")
    assert "hunter2" not in repr(vars(ts))


@pytest.mark.parametrize(
    "timeout",
    [None, True, 0, -1, float("nan"), float("inf"), (1,), (1, 0), (1, None), (True, 1), "5", (1, 2, 3)],
)
def test_bad_timeout_is_the_only_constructor_error(timeout: object) -> None:
    with pytest.raises(ValueError):
        pymesync.TimeSync("http://x/v1", timeout=timeout)  # type: ignore[arg-type]


def test_good_timeouts() -> None:
    assert pymesync.TimeSync("http://x/v1", timeout=2.5).timeout == (2.5, 2.5)
    assert pymesync.TimeSync("http://x/v1", timeout=(1, 0.5)).timeout == (1, 0.5)
    assert pymesync.TimeSync("http://x/v1", timeout=[3, 4]).timeout == (3, 4)  # type: ignore[arg-type]


def test_positional_constructor_and_signature_errors() -> None:
    ts = pymesync.TimeSync("http://x/v1", "tok", True)
    assert (ts.token, ts.test) == ("tok", True)
    with pytest.raises(TypeError):
        ts.authenticate(user="u", password="p", auth_type="password")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        ts.get_users("a", "b")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        pymesync.TimeSync("http://x/v1", "tok", True, 5)  # type: ignore[misc]


def test_context_manager_and_close() -> None:
    with pymesync.TimeSync("http://x/v1", token="t", test=True) as ts:
        assert ts.get_users() == [U1, U2, U3, U4]
    assert ts.close() is None
    assert ts.get_activities() == [A1, A2, A3]


class Unpredictable:
    """A token that breaks the auth check itself: only the last-resort guard can answer."""

    def __bool__(self) -> bool:
        raise RuntimeError("secret-token inside")


@pytest.mark.parametrize(("method", "args"), UNAUTHENTICATED_CALLS)
def test_last_resort_guard(method: str, args: tuple[object, ...]) -> None:
    ts = pymesync.TimeSync("http://x/v1", token=Unpredictable(), test=True)
    assert getattr(ts, method)(*args) == E("unexpected error: RuntimeError")


def test_last_resort_guard_for_lists() -> None:
    ts = pymesync.TimeSync("http://x/v1", token=Unpredictable(), test=True)
    assert ts.get_times() == [E("unexpected error: RuntimeError")]
