"""/times: listing, filters, visibility, create, update, delete (API doc 3.2, 4, 5.1)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .helpers import (
    TIME_KEYS,
    Api,
    World,
    authz,
    bad_object,
    bad_query,
    error,
    first_revision,
    fk,
    invalid_id,
    not_found,
    today,
    unique,
)

ZERO = "00000000-0000-0000-0000-000000000000"
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def _uuids(resp: Any) -> list[str]:
    assert resp.status == 200, resp
    return [t["uuid"] for t in resp.json]


def _names(world: World, *names: str) -> list[str]:
    return [world.times[n]["uuid"] for n in names]


def _seeded(world: World, resp: Any) -> list[str]:
    """The seeded times in a list response, in response order.

    Tests on the module's shared world ignore times that other tests created there.
    """
    seeded = set(_names(world, *world.times))
    return [u for u in _uuids(resp) if u in seeded]


# -- GET /times ------------------------------------------------------------------------------------


def test_list_shape_and_insertion_order(world: World) -> None:
    resp = world.api.get("/times", world.token("admin"))
    assert _uuids(resp) == _names(world, "m1", "m2", "m3", "m2b", "a1")
    for item in resp.json:
        assert set(item) == TIME_KEYS
    m1 = resp.json[0]
    assert m1 == {
        "duration": 1200,
        "user": "member",
        "project": ["ganeti-webmgr", "gwm"],
        "activities": ["dev"],
        "notes": "first",
        "issue_uri": "https://github.com/osuosl/gwm/issues/1",
        "date_worked": "2015-04-18",
        **first_revision(world.times["m1"]["uuid"]),
    }
    m2 = resp.json[1]
    assert m2["activities"] == ["dev", "docs"]  # sorted, whatever the input order
    assert m2["notes"] is None
    assert m2["issue_uri"] is None
    assert resp.json[2]["project"] == ["pgd"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"user": "member"}, ["m1", "m2", "m3"]),
        ({"user": ["member", "member2"]}, ["m1", "m2", "m3", "m2b"]),
        ({"user": ["member2", "nobody"]}, ["m2b"]),
        ({"user": "loner"}, []),
        ({"project": "gwm"}, ["m1", "m2", "m2b"]),
        ({"project": "ganeti-webmgr"}, ["m1", "m2", "m2b"]),
        ({"project": ["pgd", "gwm"]}, ["m1", "m2", "m3", "m2b", "a1"]),
        ({"project": ["pgd", "nope"]}, ["m3", "a1"]),
        ({"activity": "dev"}, ["m1", "m2", "m2b", "a1"]),
        ({"activity": "qa"}, ["m3"]),
        ({"activity": ["qa", "docs"]}, ["m2", "m3"]),
        ({"activity": ["qa", "nope"]}, ["m3"]),
        ({"start": "2015-04-19", "end": "2015-04-20"}, ["m2", "m2b"]),
        ({"start": "2015-04-22"}, ["m3", "a1"]),
        ({"end": "2015-04-18"}, ["m1"]),
        ({"start": "2015-04-18", "end": "2015-04-18"}, ["m1"]),
        ({"start": "2015-04-19", "end": "2015-04-19"}, ["m2b"]),
        ({"user": "member", "activity": "dev"}, ["m1", "m2"]),
        ({"user": "member", "project": "gwm", "start": "2015-04-19"}, ["m2"]),
        ({"project": "gwm", "activity": "docs", "end": "2015-04-30"}, ["m2"]),
        # start/end values with a date pattern that does not parse are ignored (5.1.1)
        ({"start": "2015-13-45"}, ["m1", "m2", "m3", "m2b", "a1"]),
        ({"end": "2015-02-31"}, ["m1", "m2", "m3", "m2b", "a1"]),
        ({"start": ""}, ["m1", "m2", "m3", "m2b", "a1"]),
        ({"end": ""}, ["m1", "m2", "m3", "m2b", "a1"]),
    ],
)
def test_filters(shared_world: World, query: dict, expected: list[str]) -> None:
    world = shared_world
    resp = world.api.get("/times", world.token("admin"), **query)
    assert _seeded(world, resp) == _names(world, *expected)


def test_start_with_trailing_garbage_is_lenient(shared_world: World) -> None:
    """``start=2015-04-21end=2015-04-25`` (a missing ``&``) must not be a 400 (5.1.1)."""
    world = shared_world
    resp = world.api.get("/times", world.token("admin"), start="2015-04-21end=2015-04-25")
    assert _seeded(world, resp) in (_names(world, "m1", "m2", "m3", "m2b", "a1"), _names(world, "m3", "a1"))


@pytest.mark.parametrize(
    ("query", "key", "value"),
    [
        ({"user": "nobody"}, "user", "nobody"),
        ({"user": ["nobody", "nobody2"]}, "user", "nobody,nobody2"),
        ({"user": "Member"}, "user", "Member"),
        ({"user": "' OR 1=1 --"}, "user", "' OR 1=1 --"),
        ({"project": "nope"}, "project", "nope"),
        ({"project": "not@slug!"}, "project", "not@slug!"),
        ({"project": ["nope", "nope2"]}, "project", "nope,nope2"),
        ({"activity": "nope"}, "activity", "nope"),
        ({"activity": ["nope", "Bad Slug"]}, "activity", "nope,Bad Slug"),
        ({"start": "baaaaaaaad"}, "start", "baaaaaaaad"),
        ({"end": "April 29, 1995"}, "end", "April 29, 1995"),
        ({"start": "2999-01-01"}, "start", "2999-01-01"),
    ],
)
def test_filter_errors(shared_world: World, query: dict, key: str, value: str) -> None:
    resp = shared_world.api.get("/times", shared_world.token("admin"), **query)
    assert resp.status == 400
    assert resp.json == bad_query(key, value)


def test_start_after_end_is_rejected(shared_world: World) -> None:
    resp = shared_world.api.get("/times", shared_world.token("admin"), start="2015-04-22", end="2015-04-20")
    assert resp.status == 400
    assert resp.json in (bad_query("start", "2015-04-22"), bad_query("end", "2015-04-20"))


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("admin", ["m1", "m2", "m3", "m2b", "a1"]),
        ("siteadmin", ["m1", "m2", "m3", "m2b", "a1"]),
        ("sitespec", ["m1", "m2", "m3", "m2b", "a1"]),
        ("sitemgr", []),  # a site manager without site_spectator sees only own times (5.1.1)
        ("pm", []),  # a project manager without spectator sees only own times
        ("spec", ["m1", "m2", "m2b"]),  # spectator of gwm
        ("member", ["m1", "m2", "m3"]),  # own times only
        ("member2", ["m2b"]),
        ("loner", []),
    ],
)
def test_visibility_of_lists(shared_world: World, who: str, expected: list[str]) -> None:
    world = shared_world
    resp = world.api.get("/times", world.token(who))
    assert _seeded(world, resp) == _names(world, *expected)
    # filters apply inside the visible set: filtering by another user is [] rather than an error
    resp = world.api.get("/times", world.token(who), user="member", project="gwm")
    assert _seeded(world, resp) == [u for u in _names(world, *expected) if u in _names(world, "m1", "m2")]


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("admin", True),
        ("siteadmin", True),
        ("sitespec", True),
        ("sitemgr", False),
        ("pm", False),
        ("spec", True),
        ("member", True),
        ("member2", False),
        ("loner", False),
    ],
)
def test_visibility_of_single_time(shared_world: World, who: str, visible: bool) -> None:
    world = shared_world
    resp = world.api.get(f"/times/{world.times['m1']['uuid']}", world.token(who))
    if visible:
        assert resp.status == 200
        assert resp.json["uuid"] == world.times["m1"]["uuid"]
    else:
        assert resp.json == not_found("time")


def test_no_default_truncation_and_explicit_limit_skip(api: Api) -> None:
    admin = api.admin_token()
    api.create_project(["big"], default_activity=None, users={"admin": {"member": True}})
    api.create_activity("work")
    made = [
        api.create_time(admin, "admin", "big", duration=i, activities=["work"])["uuid"] for i in range(60)
    ]
    assert _uuids(api.get("/times", admin)) == made
    assert _uuids(api.get("/times", admin, limit=10)) == made[:10]
    assert _uuids(api.get("/times", admin, skip=50)) == made[50:]
    assert _uuids(api.get("/times", admin, skip=5, limit=5)) == made[5:10]


# -- include_deleted / include_revisions -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "included"),
    [(None, False), ("false", False), ("0", False), ("true", True), ("", True), ("yes", True), ("1", True)],
)
def test_include_deleted_parsing(world: World, value: str | None, included: bool) -> None:
    api = world.api
    uuid = world.times["m1"]["uuid"]
    assert api.delete(f"/times/{uuid}", world.token("member")).status == 200
    query = {} if value is None else {"include_deleted": value}
    listed = _uuids(api.get("/times", api.admin_token(), **query))
    single = api.get(f"/times/{uuid}", api.admin_token(), **query)
    if included:
        assert uuid in listed
        assert single.status == 200
        assert single.json["deleted_at"] == today()
    else:
        assert uuid not in listed
        assert single.json == not_found("time")
    assert len(listed) == (5 if included else 4)


def test_include_revisions_on_list_newest_first(world: World) -> None:
    api = world.api
    admin = api.admin_token()
    uuid = world.times["m1"]["uuid"]
    rev1 = world.get_time("m1")
    rev2 = api.ok(api.post(f"/times/{uuid}", {"duration": 1300}, world.token("member")))
    rev3 = api.ok(api.post(f"/times/{uuid}", {"notes": "third"}, world.token("member")))
    assert (rev2["revision"], rev3["revision"]) == (2, 3)
    plain = api.get("/times", admin)
    assert all("parents" not in t for t in plain.json)
    assert all("parents" not in t for t in api.get("/times", admin, include_revisions="false").json)
    resp = api.get("/times", admin, include_revisions="true")
    # lists follow the id of the current row (1.3): the updated time now comes last
    assert _uuids(resp) == _names(world, "m2", "m3", "m2b", "a1", "m1")
    m1 = resp.json[-1]
    assert {k: v for k, v in m1.items() if k != "parents"} == rev3
    assert m1["parents"] == [rev2, rev1]
    for parent in m1["parents"]:
        assert set(parent) == TIME_KEYS
    assert all(t["parents"] == [] for t in resp.json[:-1])


def test_include_revisions_single_never_updated_gives_empty_parents(shared_world: World) -> None:
    """The reference crashes here (5.1.2); we answer ``parents: []``."""
    world = shared_world
    uuid = world.times["m3"]["uuid"]
    resp = world.api.get(f"/times/{uuid}", world.token("member"), include_revisions="true")
    assert resp.status == 200
    assert resp.json["parents"] == []
    assert {k: v for k, v in resp.json.items() if k != "parents"} == world.get_time("m3")
    assert world.api.get(f"/times/{uuid}", world.token("member")).status == 200  # still alive


def test_include_revisions_single_updated(world: World) -> None:
    api = world.api
    uuid = world.times["m2"]["uuid"]
    rev1 = world.get_time("m2")
    rev2 = api.ok(api.post(f"/times/{uuid}", {"duration": 1}, world.token("member")))
    rev3 = api.ok(api.post(f"/times/{uuid}", {"duration": 2}, world.token("member")))
    resp = api.get(f"/times/{uuid}", world.token("member"), include_revisions="true")
    assert resp.status == 200
    assert {k: v for k, v in resp.json.items() if k != "parents"} == rev3
    # GET /times/:uuid lists parents oldest first in the reference (API doc 4); kept.
    assert resp.json["parents"] == [rev1, rev2]
    assert "parents" not in api.get(f"/times/{uuid}", world.token("member")).json


# -- GET /times/:uuid -------------------------------------------------------------------------------


def test_get_single_time(shared_world: World) -> None:
    world = shared_world
    resp = world.api.get(f"/times/{world.times['m2']['uuid']}", world.token("member"))
    assert resp.status == 200
    assert resp.json == {
        "duration": 1800,
        "user": "member",
        "project": ["ganeti-webmgr", "gwm"],
        "activities": ["dev", "docs"],
        "notes": None,
        "issue_uri": None,
        "date_worked": "2015-04-20",
        **first_revision(world.times["m2"]["uuid"]),
    }


@pytest.mark.parametrize("bad", ["notauuid", "1234", "00000000-0000-0000-0000-00000000000g", "a" * 36])
def test_get_single_time_invalid_uuid(shared_world: World, bad: str) -> None:
    resp = shared_world.api.get(f"/times/{bad}", shared_world.token("admin"))
    assert resp.json == invalid_id("UUID", bad)


@pytest.mark.parametrize("uuid", [ZERO, "66666666-6666-6666-6666-666666666666"])
def test_get_single_time_unknown(shared_world: World, uuid: str) -> None:
    assert shared_world.api.get(f"/times/{uuid}", shared_world.token("admin")).json == not_found("time")


def test_get_single_time_uppercase_uuid_is_well_formed(shared_world: World) -> None:
    world = shared_world
    resp = world.api.get(f"/times/{world.times['m1']['uuid'].upper()}", world.token("admin"))
    assert resp.status in (200, 404)
    assert resp.json.get("error") != "The provided identifier was invalid"


# -- POST /times ------------------------------------------------------------------------------------


def test_create_echoes_the_request(shared_world: World) -> None:
    world = shared_world
    obj = {
        "duration": 12,
        "user": "member",
        "project": "ganeti-webmgr",
        "activities": ["docs", "dev"],
        "notes": "",
        "issue_uri": "https://github.com/osuosl/gwm/issues/56",
        "date_worked": "2015-04-19",
    }
    resp = world.api.post("/times", obj, world.token("member"))
    assert resp.status == 200
    uuid = resp.json["uuid"]
    assert UUID4.fullmatch(uuid)
    assert resp.json == {
        **obj,
        **first_revision(uuid),
    }
    got = world.api.get(f"/times/{uuid}", world.token("member")).json
    assert got == {
        **obj,
        "project": ["ganeti-webmgr", "gwm"],
        "activities": ["dev", "docs"],
        **first_revision(uuid),
    }


def test_create_with_default_activity_and_no_optional_fields(shared_world: World) -> None:
    world = shared_world
    obj = {"duration": 0, "user": "member", "project": "gwm", "date_worked": "2015-07-30"}
    resp = world.api.post("/times", obj, world.token("member"))
    assert resp.status == 200
    uuid = resp.json["uuid"]
    assert resp.json == {
        **obj,
        **first_revision(uuid),
    }
    got = world.api.get(f"/times/{uuid}", world.token("member")).json
    assert got["activities"] == ["dev"]
    assert got["issue_uri"] is None
    assert got["notes"] is None
    assert got["duration"] == 0


def test_create_empty_activities_uses_default(shared_world: World) -> None:
    world = shared_world
    obj = {"duration": 5, "user": "member", "project": "gwm", "date_worked": "2015-07-30", "activities": []}
    resp = world.api.post("/times", obj, world.token("member"))
    assert resp.status == 200
    got = world.api.get(f"/times/{resp.json['uuid']}", world.token("member")).json
    assert got["activities"] == ["dev"]
    obj["project"] = "pgd"
    assert world.api.post("/times", obj, world.token("member")).json == bad_object(
        "The time is missing a activities"
    )
    # nothing was stored without an activity
    day = {"start": "2015-07-30", "end": "2015-07-30"}
    assert world.api.get("/times", world.token("member"), user="member", project="pgd", **day).json == []


def test_create_date_with_time_part_and_empty_issue_uri(shared_world: World) -> None:
    world = shared_world
    obj = {
        "duration": 5,
        "user": "member",
        "project": "gwm",
        "date_worked": "2015-07-30T10:00:00Z",
        "issue_uri": "",
    }
    resp = world.api.post("/times", obj, world.token("member"))
    assert resp.status == 200
    got = world.api.get(f"/times/{resp.json['uuid']}", world.token("member")).json
    assert got["date_worked"] == "2015-07-30"
    assert got["issue_uri"] == ""


def test_admin_may_log_time_in_a_project_without_membership(shared_world: World) -> None:
    world = shared_world
    for who in ["admin", "siteadmin"]:
        obj = {
            "duration": 5,
            "user": who,
            "project": "pgd",
            "date_worked": "2015-07-30",
            "activities": ["qa"],
        }
        assert world.api.post("/times", obj, world.token(who)).status == 200


GOOD_TIME = {
    "duration": 12,
    "user": "member",
    "project": "gwm",
    "activities": ["dev"],
    "date_worked": "2015-04-19",
    "issue_uri": "https://example.com/1",
    "notes": "n",
}


def _time(**changes: Any) -> dict[str, Any]:
    obj = {**GOOD_TIME, **changes}
    return {k: v for k, v in obj.items() if v is not _DROP}


_DROP = object()


def _f(field: str, expected: str, received: str) -> dict[str, Any]:
    return bad_object(f"Field {field} of time should be {expected} but was sent as {received}")


CREATE_ERRORS = [
    # 1. presence and types, in the order duration, project, user, issue_uri, activities, date_worked
    ("no-duration", _time(duration=_DROP), bad_object("The time is missing a duration")),
    ("no-project", _time(project=_DROP), bad_object("The time is missing a project")),
    ("no-user", _time(user=_DROP), bad_object("The time is missing a user")),
    ("no-date", _time(date_worked=_DROP), bad_object("The time is missing a date_worked")),
    ("duration-string", _time(duration="12"), _f("duration", "number", "string")),
    ("duration-null", _time(duration=None), _f("duration", "number", "null")),
    ("duration-array", _time(duration=[1]), _f("duration", "number", "array")),
    ("project-number", _time(project=5), _f("project", "string", "number")),
    ("project-array", _time(project=["gwm"]), _f("project", "string", "array")),
    ("user-boolean", _time(user=True), _f("user", "string", "boolean")),
    ("user-object", _time(user={"a": 1}), _f("user", "string", "object")),
    ("issue-null", _time(issue_uri=None), _f("issue_uri", "string", "null")),
    ("issue-number", _time(issue_uri=7), _f("issue_uri", "string", "number")),
    ("activities-string", _time(activities="dev"), _f("activities", "array", "string")),
    ("activities-null", _time(activities=None), _f("activities", "array", "null")),
    ("date-number", _time(date_worked=1234), _f("date_worked", "string", "number")),
    (
        "duration-before-project",
        _time(duration=_DROP, project=5),
        bad_object("The time is missing a duration"),
    ),
    ("project-before-user", _time(project=5, user=5), _f("project", "string", "number")),
    ("user-before-issue", _time(user=5, issue_uri=5), _f("user", "string", "number")),
    ("issue-before-activities", _time(issue_uri=5, activities=5), _f("issue_uri", "string", "number")),
    ("activities-before-date", _time(activities=5, date_worked=5), _f("activities", "array", "number")),
    ("types-before-negative", _time(duration=-1, date_worked=5), _f("date_worked", "string", "number")),
    # 2. negative duration
    ("negative", _time(duration=-1), _f("duration", "positive number", "negative number")),
    (
        "negative-before-slug",
        _time(duration=-1, project="Bad Slug"),
        _f("duration", "positive number", "negative number"),
    ),
    # 3. project slug
    ("project-bad-slug", _time(project="Bad Slug"), _f("project", "slug", "invalid slug Bad Slug")),
    ("project-digits", _time(project="123"), _f("project", "slug", "invalid slug 123")),
    (
        "project-before-activities",
        _time(project="a--b", activities=["A"]),
        _f("project", "slug", "invalid slug a--b"),
    ),
    # 4. activity elements
    (
        "activity-number",
        _time(activities=[1]),
        _f("activities", "slugs", "array containing at least 1 number"),
    ),
    (
        "activity-mixed",
        _time(activities=["dev", None]),
        _f("activities", "slugs", "array containing at least 1 null"),
    ),
    (
        "activity-bad-slug",
        _time(activities=["dev", "Not Slug"]),
        _f("activities", "slugs", "array containing at least 1 invalid slug"),
    ),
    (
        "activities-before-issue",
        _time(activities=["-a"], issue_uri="nope"),
        _f("activities", "slugs", "array containing at least 1 invalid slug"),
    ),
    # 5. issue_uri
    ("issue-not-uri", _time(issue_uri="not a uri"), _f("issue_uri", "URI", "invalid URI not a uri")),
    (
        "issue-ftp",
        _time(issue_uri="ftp://example.com/x"),
        _f("issue_uri", "URI", "invalid URI ftp://example.com/x"),
    ),
    ("issue-no-scheme", _time(issue_uri="example.com"), _f("issue_uri", "URI", "invalid URI example.com")),
    (
        "issue-before-date",
        _time(issue_uri="git@github.com:osuosl", date_worked="bad"),
        _f("issue_uri", "URI", "invalid URI git@github.com:osuosl"),
    ),
    # 6. date_worked
    ("date-bad", _time(date_worked="baaaaaaaad"), _f("date_worked", "ISO-8601 date", "baaaaaaaad")),
    ("date-words", _time(date_worked="April 29, 1995"), _f("date_worked", "ISO-8601 date", "April 29, 1995")),
    ("date-month-13", _time(date_worked="2015-13-01"), _f("date_worked", "ISO-8601 date", "2015-13-01")),
    ("date-impossible", _time(date_worked="2015-02-30"), _f("date_worked", "ISO-8601 date", "2015-02-30")),
    ("date-empty", _time(date_worked=""), _f("date_worked", "ISO-8601 date", "")),
    ("date-before-user", _time(date_worked="bad", user="member2"), _f("date_worked", "ISO-8601 date", "bad")),
    # 7. the time must be for the caller
    ("other-user", _time(user="member2"), authz("member", "create time entries for member2")),
    ("unknown-user", _time(user="nobody"), authz("member", "create time entries for nobody")),
    (
        "user-before-project",
        _time(user="member2", project="nope"),
        authz("member", "create time entries for member2"),
    ),
    # 8. project
    ("unknown-project", _time(project="nope"), fk("time", "project")),
    ("project-before-activity", _time(project="nope", activities=["nope"]), fk("time", "project")),
    # 9. activities
    ("unknown-activity", _time(activities=["dev", "nope"]), fk("time", "activities")),
    (
        "no-activities-no-default",
        _time(project="pgd", activities=_DROP),
        bad_object("The time is missing a activities"),
    ),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in CREATE_ERRORS], ids=[c[0] for c in CREATE_ERRORS]
)
def test_create_errors(shared_world: World, obj: dict, expected: dict) -> None:
    world = shared_world
    before = len(world.api.get("/times", world.token("admin")).json)
    resp = world.api.post("/times", obj, world.token("member"))
    assert resp.status == expected["status"]
    assert resp.json == expected
    assert len(world.api.get("/times", world.token("admin")).json) == before


@pytest.mark.parametrize(
    ("who", "obj", "expected"),
    [
        ("admin", _time(user="member"), authz("admin", "create time entries for member")),
        ("loner", _time(user="loner"), authz("loner", "create time entries for project gwm.")),
        (
            "loner",
            _time(user="loner", project="ganeti-webmgr"),
            authz("loner", "create time entries for project ganeti-webmgr."),
        ),
        ("sitemgr", _time(user="sitemgr"), authz("sitemgr", "create time entries for project gwm.")),
        ("pm", _time(user="pm"), authz("pm", "create time entries for project gwm.")),
        ("spec", _time(user="spec"), authz("spec", "create time entries for project gwm.")),
        (
            "member2",
            _time(user="member2", project="pgd", activities=["qa"]),
            authz("member2", "create time entries for project pgd."),
        ),
        # a foreign-key error is found before the membership check (5.1.3 steps 8-10)
        ("loner", _time(user="loner", activities=["nope"]), fk("time", "activities")),
        (
            "loner",
            _time(user="loner", project="pgd", activities=_DROP),
            bad_object("The time is missing a activities"),
        ),
    ],
)
def test_create_permission_errors(shared_world: World, who: str, obj: dict, expected: dict) -> None:
    resp = shared_world.api.post("/times", obj, shared_world.token(who))
    assert resp.status == expected["status"]
    assert resp.json == expected


@pytest.mark.parametrize("obj", [None, "x", 5, [GOOD_TIME], True])
def test_create_with_missing_or_non_object_object(shared_world: World, obj: Any) -> None:
    world = shared_world
    if obj is None:
        resp = world.api.post("/times", token=world.token("member"))
    else:
        resp = world.api.post("/times", obj, world.token("member"))
    assert resp.status == 400
    assert resp.json["error"] == "Bad object"
    assert resp.json["status"] == 400


def test_create_notes_must_be_a_string(shared_world: World) -> None:
    world = shared_world
    resp = world.api.post("/times", _time(notes=5), world.token("member"))
    assert resp.status == 400
    assert resp.json["error"] == "Bad object"
    assert world.api.post("/times", _time(notes=None), world.token("member")).status == 200


# -- POST /times/:uuid -------------------------------------------------------------------------------


def test_update_by_admin_answers_with_the_get_form(world: World) -> None:
    api = world.api
    uuid = world.times["m1"]["uuid"]
    obj = {
        "duration": 4000,
        "project": "pgd",
        "activities": ["qa", "docs"],
        "notes": "moved",
        "issue_uri": "http://example.com/i/2",
        "date_worked": "2015-05-01",
    }
    resp = api.post(f"/times/{uuid}", obj, api.admin_token())
    assert resp.status == 200
    expected = {
        **obj,
        "user": "member",
        "project": ["pgd"],
        "activities": ["docs", "qa"],
        "uuid": uuid,
        "revision": 2,
        "created_at": today(),
        "updated_at": today(),
        "deleted_at": None,
    }
    assert resp.json == expected
    assert api.get(f"/times/{uuid}", api.admin_token()).json == expected
    # membership is not rechecked on update: member is a member of pgd anyway, admin is not
    assert uuid in _uuids(api.get("/times", world.token("member"), project="pgd"))


def test_update_partial_keeps_the_rest(world: World) -> None:
    api = world.api
    uuid = world.times["m2"]["uuid"]
    before = world.get_time("m2")
    resp = api.post(f"/times/{uuid}", {"duration": 99}, world.token("member"))
    assert resp.json == {**before, "duration": 99, "revision": 2, "updated_at": today()}


def test_update_applies_falsy_values(world: World) -> None:
    """Rec (5.1.4): a present value is applied, ``0`` and ``""`` included."""
    api = world.api
    uuid = world.times["m1"]["uuid"]
    resp = api.post(f"/times/{uuid}", {"duration": 0, "notes": ""}, world.token("member"))
    assert resp.status == 200
    assert (resp.json["duration"], resp.json["notes"]) == (0, "")
    assert world.get_time("m1")["duration"] == 0


def test_update_reassigns_user(world: World) -> None:
    api = world.api
    uuid = world.times["m1"]["uuid"]
    resp = api.post(f"/times/{uuid}", {"user": "member2"}, api.admin_token())
    assert resp.status == 200
    assert resp.json["user"] == "member2"
    assert uuid in _uuids(api.get("/times", world.token("member2")))
    assert uuid not in _uuids(api.get("/times", world.token("member")))


def test_update_never_undeletes_implicitly(world: World) -> None:
    """Issue 13, finding 5: the owner cannot undo an admin's delete by posting to the time."""
    api = world.api
    uuid = world.times["m1"]["uuid"]
    assert api.delete(f"/times/{uuid}", api.admin_token()).status == 200
    before = world.api.get(f"/times/{uuid}", api.admin_token(), include_deleted="true").json
    attempts = [
        ("member", {}),
        ("member", {"notes": "back"}),
        ("member", {"deleted_at": None}),
        ("admin", {"notes": "back"}),
    ]
    for who, obj in attempts:
        assert api.post(f"/times/{uuid}", obj, world.token(who)).json == not_found("time"), (who, obj)
    assert world.api.get(f"/times/{uuid}", api.admin_token(), include_deleted="true").json == before
    assert uuid not in _uuids(api.get("/times", world.token("member")))


def test_site_admin_restores_a_time_by_sending_deleted_at_null(world: World) -> None:
    api = world.api
    uuid = world.times["m1"]["uuid"]
    assert api.delete(f"/times/{uuid}", world.token("member")).status == 200
    assert api.post(f"/times/{uuid}", {"deleted_at": "2015-01-01"}, api.admin_token()).json == bad_object(
        "time does not have a deleted_at field"
    )
    resp = api.post(f"/times/{uuid}", {"deleted_at": None, "notes": "back"}, api.admin_token())
    assert resp.status == 200
    assert (resp.json["deleted_at"], resp.json["revision"], resp.json["notes"]) == (None, 2, "back")
    assert uuid in _uuids(api.get("/times", world.token("member")))
    # a later update keeps it restored; deleted_at: null on a live time changes nothing else
    again = api.post(f"/times/{uuid}", {"deleted_at": None}, world.token("member"))
    assert (again.json["deleted_at"], again.json["revision"]) == (None, 3)


@pytest.mark.parametrize("who", ["loner", "member2", "sitemgr", "pm"])
def test_update_of_a_time_the_caller_cannot_see_reveals_nothing(shared_world: World, who: str) -> None:
    """Issue 13, finding 5: the answer is the one for a time that does not exist, as GET gives."""
    world = shared_world
    uuid = world.times["m1"]["uuid"]
    before = world.get_time("m1")
    assert world.api.get(f"/times/{uuid}", world.token(who)).json == not_found("time")
    for obj in ({"duration": 1}, {"user": who}, {}):
        resp = world.api.post(f"/times/{uuid}", obj, world.token(who))
        assert resp.json == world.api.post(f"/times/{ZERO}", obj, world.token(who)).json == not_found("time")
        assert b"member" not in resp.body
    assert world.get_time("m1") == before


def test_refused_update_of_a_visible_time_does_not_name_the_owner(shared_world: World) -> None:
    world = shared_world
    uuid = world.times["m1"]["uuid"]
    resp = world.api.post(f"/times/{uuid}", {"duration": 1}, world.token("spec"))
    assert resp.json == authz("spec", f"update time {uuid}")


def test_update_empty_activities(world: World) -> None:
    api = world.api
    uuid = world.times["m2"]["uuid"]
    resp = api.post(f"/times/{uuid}", {"activities": []}, world.token("member"))
    if resp.status == 400:
        assert resp.json == _f("activities", "array of slugs", "empty array")
    else:
        assert resp.status == 200
        assert resp.json["activities"] == ["dev", "docs"]
    assert world.get_time("m2")["activities"] == ["dev", "docs"]
    assert uuid in _uuids(api.get("/times", world.token("member")))


UPDATE_ERRORS = [
    ("duration-object", {"duration": {"a": 1}}, _f("duration", "number", "object")),
    ("duration-object-wins", {"duration": {}, "foo": 1, "project": 5}, _f("duration", "number", "object")),
    ("unknown-key", {"foo": 1}, bad_object("time does not have a foo field")),
    ("unknown-before-project", {"project": ["gwm"], "foo": 1}, bad_object("time does not have a foo field")),
    ("uuid-key", {"uuid": "x"}, bad_object("time does not have a uuid field")),
    ("project-number", {"project": 5}, _f("project", "string", "number")),
    ("project-before-activities", {"activities": 5, "project": 5}, _f("project", "string", "number")),
    ("activities-string", {"activities": "dev"}, _f("activities", "array", "string")),
    ("activities-before-user", {"user": 5, "activities": 5}, _f("activities", "array", "number")),
    ("user-number", {"user": 5}, _f("user", "string", "number")),
    ("issue-number", {"issue_uri": 5}, _f("issue_uri", "string", "number")),
    ("date-number", {"date_worked": 5}, _f("date_worked", "string", "number")),
    ("notes-number", {"notes": 5}, _f("notes", "string", "number")),
    ("date-before-notes", {"notes": 5, "date_worked": 5}, _f("date_worked", "string", "number")),
    ("negative", {"duration": -5}, _f("duration", "positive integer", "negative integer")),
    ("activity-number", {"activities": [1]}, _f("activities", "slugs", "array containing at least 1 number")),
    (
        "activity-bad",
        {"activities": ["BAD"]},
        _f("activities", "slugs", "array containing at least 1 invalid slug"),
    ),
    ("issue-empty", {"issue_uri": ""}, _f("issue_uri", "URI", "invalid URI ")),
    ("issue-bad", {"issue_uri": "nope"}, _f("issue_uri", "URI", "invalid URI nope")),
    ("date-bad", {"date_worked": "baaaaaaaad"}, _f("date_worked", "ISO-8601 date", "baaaaaaaad")),
    ("unknown-user", {"user": "nobody"}, fk("time", "user")),
    ("unknown-project", {"project": "nope"}, fk("time", "project")),
    ("malformed-project", {"project": "Not A Slug"}, fk("time", "project")),
    ("unknown-activity", {"activities": ["dev", "nope"]}, fk("time", "activities")),
    ("user-before-project", {"user": "nobody", "project": "nope"}, fk("time", "user")),
    ("project-before-activity", {"project": "nope", "activities": ["nope"]}, fk("time", "project")),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in UPDATE_ERRORS], ids=[c[0] for c in UPDATE_ERRORS]
)
def test_update_errors(shared_world: World, obj: dict, expected: dict) -> None:
    world = shared_world
    uuid = world.times["m1"]["uuid"]
    before = world.get_time("m1")
    resp = world.api.post(f"/times/{uuid}", obj, world.token("member"))
    assert resp.status == expected["status"]
    assert resp.json == expected
    assert world.get_time("m1") == before


@pytest.mark.parametrize(
    ("who", "target", "obj", "expected"),
    [
        ("admin", "bad-uuid", {"duration": 1}, invalid_id("UUID", "bad-uuid")),
        ("admin", ZERO, {"duration": 1}, not_found("time")),
        ("loner", ZERO, {"duration": 1}, not_found("time")),  # 404 before the permission check
        # a caller who may not see the time gets GET's 404 (issue 13); a spectator a 401
        ("loner", "m1", {"duration": 1}, not_found("time")),
        ("member2", "m1", {"duration": 1}, not_found("time")),
        ("sitemgr", "m1", {"duration": 1}, not_found("time")),
        ("spec", "m1", {"duration": 1}, "authz"),
        ("loner", "m1", {"user": "nobody"}, not_found("time")),
        ("loner", "m1", {"foo": 1}, bad_object("time does not have a foo field")),  # validation first
    ],
)
def test_update_target_and_permission_errors(
    shared_world: World, who: str, target: str, obj: dict, expected: Any
) -> None:
    world = shared_world
    uuid = world.times[target]["uuid"] if target in world.times else target
    if expected == "authz":
        expected = authz(who, f"update time {uuid}")
    resp = world.api.post(f"/times/{uuid}", obj, world.token(who))
    assert resp.status == expected["status"]
    assert resp.json == expected


# -- DELETE /times/:uuid ---------------------------------------------------------------------------


def test_delete_own_time(world: World) -> None:
    api = world.api
    uuid = world.times["m1"]["uuid"]
    resp = api.delete(f"/times/{uuid}", world.token("member"))
    assert (resp.status, resp.body) == (200, b"")
    assert api.get(f"/times/{uuid}", world.token("member")).json == not_found("time")
    got = api.get(f"/times/{uuid}", world.token("member"), include_deleted="true").json
    assert got["deleted_at"] == today()
    assert got["revision"] == 1
    again = api.delete(f"/times/{uuid}", world.token("member"))
    assert (again.status, again.body) == (200, b"")


@pytest.mark.parametrize(
    ("who", "target", "expected"),
    [
        ("admin", "bad-uuid", invalid_id("uuid", "bad-uuid")),
        ("admin", ZERO, not_found("uuid")),
        # a caller who may not see the time gets the 404 of an unknown one (issue 13)
        ("loner", "m1", not_found("uuid")),
        ("spec", "m1", "authz"),
        ("pm", "m1", not_found("uuid")),
        ("member2", "m1", not_found("uuid")),
    ],
)
def test_delete_errors(shared_world: World, who: str, target: str, expected: Any) -> None:
    world = shared_world
    uuid = world.times[target]["uuid"] if target in world.times else target
    if expected == "authz":
        expected = authz(who, f"delete time {uuid}")
    resp = world.api.delete(f"/times/{uuid}", world.token(who))
    assert resp.status == expected["status"]
    assert resp.json == expected
    assert world.get_time("m1")["deleted_at"] is None


def test_delete_by_site_manager_and_site_admin(world: World) -> None:
    api = world.api
    for who, name in [("sitemgr", "m1"), ("siteadmin", "m2")]:
        resp = api.delete(f"/times/{world.times[name]['uuid']}", world.token(who))
        assert (resp.status, resp.body) == (200, b""), who
    assert _uuids(api.get("/times", api.admin_token())) == _names(world, "m3", "m2b", "a1")


def test_many_fields_with_unicode_round_trip(world: World) -> None:
    api = world.api
    notes = "Ünïcödé — עברית ‮RTL‬ 😀 \u0627\u0644\u0639\u0631\u0628\u064a\u0629 ' \" ; -- \\"
    made = api.create_time(world.token("member"), "member", "gwm", notes=notes)
    assert api.get(f"/times/{made['uuid']}", world.token("member")).json["notes"] == notes
    name = unique("uni")
    assert api.post(f"/times/{made['uuid']}", {"notes": name}, world.token("member")).json["notes"] == name


def test_error_body_shape_has_values_only_where_documented(shared_world: World) -> None:
    resp = shared_world.api.get("/times/zzz", shared_world.token("admin"))
    assert resp.json == error(
        400, "The provided identifier was invalid", "Expected UUID but received zzz", ["zzz"]
    )


# -- decisions documented in docs/server.md --------------------------------------------------------


def test_owner_may_not_reassign_or_move_a_time_without_rights(shared_world: World) -> None:
    """docs/server.md: reassigning ``user`` needs site_admin; a move needs membership in the target."""
    world = shared_world
    m1, m2b = world.times["m1"]["uuid"], world.times["m2b"]["uuid"]
    resp = world.api.post(f"/times/{m1}", {"user": "member2"}, world.token("member"))
    assert resp.json == authz("member", "create time entries for member2")
    resp = world.api.post(f"/times/{m2b}", {"project": "pgd"}, world.token("member2"))
    assert resp.json == authz("member2", "create time entries for project pgd.")
    assert world.get_time("m1")["revision"] == 1
    assert world.get_time("m2b")["project"] == ["ganeti-webmgr", "gwm"]


def test_update_null_clears_notes_and_issue_uri(world: World) -> None:
    uuid = world.times["m1"]["uuid"]
    resp = world.api.post(f"/times/{uuid}", {"notes": None, "issue_uri": None}, world.token("member"))
    assert resp.status == 200
    assert (resp.json["notes"], resp.json["issue_uri"]) == (None, None)
    assert world.get_time("m1")["notes"] is None


@pytest.mark.parametrize("value", ["45", True, None])
def test_update_duration_must_be_a_number(shared_world: World, value: Any) -> None:
    world = shared_world
    kind = {"45": "string", True: "boolean", None: "null"}[value]
    resp = world.api.post(f"/times/{world.times['m1']['uuid']}", {"duration": value}, world.token("member"))
    assert resp.json == _f("duration", "number", kind)


def test_limit_zero_means_all(shared_world: World) -> None:
    world = shared_world
    admin = world.token("admin")
    assert _uuids(world.api.get("/times", admin, limit=0)) == _uuids(world.api.get("/times", admin))


@pytest.mark.parametrize(
    ("value", "on"), [("true", True), ("", True), ("1", True), ("yes", True), ("false", False), ("0", False)]
)
def test_include_revisions_parsing(shared_world: World, value: str, on: bool) -> None:
    """Rec 4: absent, ``false`` or ``0`` is off; anything else is on."""
    world = shared_world
    admin = world.token("admin")
    listed = world.api.get("/times", admin, include_revisions=value).json
    single = world.api.get(f"/times/{world.times['m3']['uuid']}", admin, include_revisions=value).json
    assert all(("parents" in t) is on for t in listed)
    assert ("parents" in single) is on


def test_duplicate_activities_are_stored_once(shared_world: World) -> None:
    world = shared_world
    made = world.api.create_time(world.token("member"), "member", "gwm", activities=["docs", "docs", "dev"])
    assert made["activities"] == ["docs", "docs", "dev"]  # the create echo is the request
    got = world.api.get(f"/times/{made['uuid']}", world.token("member")).json
    assert got["activities"] == ["dev", "docs"]


def test_times_of_a_deleted_project_disappear(world: World) -> None:
    """5.1.1 edge: a time whose project has no slugs left is in no listing."""
    api = world.api
    admin = api.admin_token()
    api.create_project(["brief"], users={"member": {"member": True}})
    made = api.create_time(world.token("member"), "member", "brief", activities=["qa"])
    assert api.delete(f"/times/{made['uuid']}", admin).status == 200
    assert api.delete("/projects/brief", admin).status == 200
    assert made["uuid"] not in _uuids(api.get("/times", admin, include_deleted="true"))
    assert _uuids(api.get("/times", admin, include_deleted="true")) == _names(
        world, "m1", "m2", "m3", "m2b", "a1"
    )
