"""Each resource's whole life under /v0 and /v1 (create, read, update, list, delete), and headers (1.3)."""

from __future__ import annotations

import datetime as dt

import pytest

from .helpers import Api, World, first_revision, not_found, roles, today


@pytest.fixture(params=["v0", "v1"])
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_activity_lifecycle(world: World, version: str) -> None:
    api = world.api.with_version(version)
    admin = api.admin_token()
    made = api.post("/activities", {"name": "Life", "slug": "life"}, admin).json
    assert made == {
        "name": "Life",
        "slug": "life",
        **first_revision(made["uuid"]),
    }
    assert api.get("/activities/life", admin).json == made
    updated = api.post("/activities/life", {"slug": "lived"}, admin).json
    assert (updated["slug"], updated["revision"], updated["updated_at"]) == ("lived", 2, today())
    assert updated["uuid"] == made["uuid"]
    assert api.get("/activities/lived", admin).json == {
        **made,
        "slug": "lived",
        "revision": 2,
        "updated_at": today(),
    }
    assert api.get("/activities", admin).json[-1]["slug"] == "lived"
    resp = api.delete("/activities/lived", admin)
    assert (resp.status, resp.body) == (200, b"")
    assert api.get("/activities/lived", admin).json == not_found("activity")
    # the freed slug can be used again by a new activity
    assert api.post("/activities", {"name": "Life again", "slug": "lived"}, admin).status == 200


def test_project_lifecycle(world: World, version: str) -> None:
    api = world.api.with_version(version)
    pm = world.token("pm")
    admin = api.admin_token()
    obj = {"name": "Life Project", "slugs": ["lp"], "users": {"pm": roles(manager=True)}}
    made = api.post("/projects", obj, world.token("sitemgr")).json
    expected = {
        **obj,
        "uri": None,
        "default_activity": None,
        **first_revision(made["uuid"]),
    }
    assert api.get("/projects/lp", pm).json == expected
    updated = api.post("/projects/lp", {"slugs": ["lp", "life-project"], "default_activity": "qa"}, pm).json
    assert updated == {
        **expected,
        "slugs": ["life-project", "lp"],
        "default_activity": "qa",
        "revision": 2,
        "updated_at": today(),
    }
    assert api.get("/projects", pm, user="pm").json[-1] == updated
    assert api.delete("/projects/life-project", pm).status == 200
    assert api.get("/projects/lp", admin).json == not_found("project")


def test_time_lifecycle(world: World, version: str) -> None:
    api = world.api.with_version(version)
    member = world.token("member")
    obj = {
        "duration": 90,
        "user": "member",
        "project": "pgd",
        "activities": ["qa"],
        "date_worked": "2016-02-29",
    }
    made = api.post("/times", obj, member).json
    assert made == {
        **obj,
        **first_revision(made["uuid"]),
    }
    uuid = made["uuid"]
    got = api.get(f"/times/{uuid}", member).json
    assert got == {**made, "project": ["pgd"], "notes": None, "issue_uri": None}
    updated = api.post(f"/times/{uuid}", {"notes": "leap day"}, member).json
    assert updated == {**got, "notes": "leap day", "revision": 2, "updated_at": today()}
    assert api.get("/times", member, start="2016-02-29", end="2016-02-29").json == [updated]
    assert api.delete(f"/times/{uuid}", member).status == 200
    assert api.get("/times", member, start="2016-02-29").json == []
    assert api.get(f"/times/{uuid}", member, include_deleted="true").json == {
        **updated,
        "deleted_at": today(),
    }


def test_user_lifecycle(world: World, version: str) -> None:
    api = world.api.with_version(version)
    admin = api.admin_token()
    made = api.post(
        "/users", {"username": "lifer", "password": "lifepass", "email": "life.er@example.com"}, admin
    ).json
    assert (
        dt.datetime.fromtimestamp(made.pop("created_at") / 1000, dt.timezone.utc).date().isoformat()
        == today()
    )
    assert made == {
        "username": "lifer",
        "display_name": None,
        "email": "life.er@example.com",
        "meta": None,
        "site_spectator": False,
        "site_manager": False,
        "site_admin": False,
        "active": True,
        "updated_at": None,
        "deleted_at": None,
    }
    token = api.login("lifer", "lifepass").json["token"]
    updated = api.post("/users/lifer", {"display_name": "Lifer", "password": "newpass"}, token).json
    assert updated == {**made, "display_name": "Lifer", "created_at": today(), "updated_at": today()}
    assert api.login("lifer", "newpass").status == 200
    assert api.get("/users", admin).json[-1] == updated
    assert api.delete("/users/lifer", admin).status == 200
    assert api.get("/users/lifer", admin).json == not_found("user")
    assert api.login("lifer", "newpass").status == 401


@pytest.mark.parametrize(
    ("value", "included"),
    [("true", True), ("", True), ("no", True), ("false", False), ("0", False), (None, False)],
)
def test_users_include_deleted_parsing(world: World, value: str | None, included: bool) -> None:
    api = world.api
    assert api.delete("/users/loner", api.admin_token()).status == 200
    query = {} if value is None else {"include_deleted": value}
    listed = [u["username"] for u in api.get("/users", api.admin_token(), **query).json]
    assert ("loner" in listed) is included
    single = api.get("/users/loner", api.admin_token(), **query)
    assert single.status == (200 if included else 404)


def test_headers(shared_api: Api) -> None:
    api = shared_api
    resp = api.get("/users", api.admin_token())
    assert resp.header("Access-Control-Allow-Origin") is None  # no CORS unless configured
    assert resp.header("Cache-Control") == "no-store, no-cache, must-revalidate, proxy-revalidate"
    assert resp.header("Pragma") == "no-cache"
    assert (
        resp.header("Content-Security-Policy") == "default-src 'none'; script-src 'self'; connect-src 'self'"
    )
    login = api.login("admin", "adminpass")
    assert login.header("Cache-Control") == "no-cache, no-store, must-revalidate, max-age=0"
    assert login.header("Expires") == "Thu, 01 Jan 1970 00:00:01 GMT"
    preflight = api.raw(
        "OPTIONS",
        "/v1/times",
        headers={"Origin": "http://example.com", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 204
    assert preflight.header("Access-Control-Allow-Methods") is None
