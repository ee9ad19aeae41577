"""/activities: list, single, create, update, delete (API doc 3.4, 5.3)."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import (
    ACTIVITY_KEYS,
    Api,
    World,
    authz,
    bad_object,
    error,
    first_revision,
    invalid_id,
    not_found,
    today,
    unique,
)

METHOD_NOT_ALLOWED = error(
    405, "Method not allowed", "The method specified is not allowed for the activity identified"
)


def _act(world: World, slug: str, **changes: Any) -> dict[str, Any]:
    made = world.activities[slug]
    return {
        "name": made["name"],
        "slug": slug,
        **first_revision(made["uuid"]),
        **changes,
    }


def test_list_and_single(shared_world: World) -> None:
    world = shared_world
    resp = world.api.get("/activities", world.token("loner"))
    assert resp.status == 200
    seeded = {a["uuid"] for a in world.activities.values()}
    assert [a for a in resp.json if a["uuid"] in seeded] == [_act(world, s) for s in ["dev", "docs", "qa"]]
    assert all(set(a) == ACTIVITY_KEYS for a in resp.json)
    assert world.api.get("/activities/docs", world.token("loner")).json == {
        "name": "Documentation",
        "slug": "docs",
        **first_revision(world.activities["docs"]["uuid"]),
    }


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("Not_A_Slug", not_found("activity")),
        ("nope", not_found("activity")),
        ("DEV", not_found("activity")),
        ("bad%20slug", invalid_id("slug", "bad slug")),
        ("%24dev", invalid_id("slug", "$dev")),
    ],
)
def test_single_errors(shared_world: World, path: str, expected: dict) -> None:
    world = shared_world
    assert world.api.get(f"/activities/{path}", world.token("loner")).json == expected
    assert world.api.get(f"/activities/{path}", world.token("loner"), include_revisions="").json == expected


def test_create_echo(shared_world: World) -> None:
    world = shared_world
    slug = unique("echo")
    resp = world.api.post("/activities", {"name": f"Echo {slug}", "slug": slug}, world.token("sitemgr"))
    assert resp.status == 200
    assert resp.json == {
        "name": f"Echo {slug}",
        "slug": slug,
        **first_revision(resp.json["uuid"]),
    }
    assert world.api.get(f"/activities/{slug}", world.token("loner")).json == resp.json


def _af(field: str, expected: str, received: str) -> dict[str, Any]:
    return bad_object(f"Field {field} of activity should be {expected} but was sent as {received}")


SLUG_EXISTS = error(409, "The slug provided already exists", "slug dev already exists", ["dev"])
NAME_EXISTS = _af("name", "unique name", "name which already exists")

CREATE_ERRORS = [
    (
        "unknown-key",
        {"name": "A", "slug": "a-new", "foo": 1},
        bad_object("activity does not have a foo field"),
    ),
    ("no-name", {"slug": "a-new"}, bad_object("The activity is missing a name")),
    ("empty-name", {"name": "", "slug": "a-new"}, bad_object("The activity is missing a name")),
    ("no-slug", {"name": "A new"}, bad_object("The activity is missing a slug")),
    ("empty-slug", {"name": "A new", "slug": ""}, bad_object("The activity is missing a slug")),
    ("name-before-slug", {}, bad_object("The activity is missing a name")),
    ("name-number", {"name": 5, "slug": "a-new"}, _af("name", "string", "number")),
    ("slug-array", {"name": "A new", "slug": ["a"]}, _af("slug", "string", "array")),
    ("slug-bad", {"name": "A new", "slug": "Not A Slug"}, _af("slug", "slug", "non-slug string")),
    ("slug-digits", {"name": "A new", "slug": "123"}, _af("slug", "slug", "non-slug string")),
    ("slug-taken", {"name": "A new", "slug": "dev"}, SLUG_EXISTS),
    ("name-taken", {"name": "Development", "slug": "a-new"}, NAME_EXISTS),
    ("slug-before-name", {"name": "Development", "slug": "dev"}, SLUG_EXISTS),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in CREATE_ERRORS], ids=[c[0] for c in CREATE_ERRORS]
)
def test_create_errors(shared_world: World, obj: dict, expected: dict) -> None:
    world = shared_world
    resp = world.api.post("/activities", obj, world.token("sitemgr"))
    assert resp.status == expected["status"]
    assert resp.json == expected
    assert world.api.get("/activities/a-new", world.token("admin")).status == 404


def test_create_authorization_first(shared_world: World) -> None:
    resp = shared_world.api.post("/activities", {"foo": 1}, shared_world.token("pm"))
    assert resp.json == authz("pm", "create activities")


def test_update_answers_with_get_form(world: World) -> None:
    api = world.api
    resp = api.post("/activities/docs", {"name": "Docs & Manuals"}, world.token("sitemgr"))
    expected = _act(world, "docs", name="Docs & Manuals", revision=2, updated_at=today())
    assert resp.status == 200
    # The reference answers without `deleted_at` (5.3.4); the GET form (checklist 10) is fine too.
    assert resp.json in (expected, {k: v for k, v in expected.items() if k != "deleted_at"})
    assert api.get("/activities/docs", world.token("loner")).json == expected
    resp = api.get("/activities/docs", world.token("loner"), include_revisions="true")
    assert resp.json["parents"] == [_act(world, "docs")]
    listed = {
        a["uuid"]: a for a in api.get("/activities", world.token("loner"), include_revisions="true").json
    }
    assert listed[expected["uuid"]]["parents"] == [_act(world, "docs")]
    assert listed[world.activities["qa"]["uuid"]]["parents"] == []


def test_slug_rename_keeps_times_and_filters_working(world: World) -> None:
    """Activities are resolved by uuid, so old times show the current slug (12)."""
    api = world.api
    admin = api.admin_token()
    resp = api.post("/activities/dev", {"slug": "development"}, admin)
    assert resp.status == 200
    assert resp.json["slug"] == "development"
    assert api.get("/activities/dev", admin).json == not_found("activity")
    assert world.get_time("m1")["activities"] == ["development"]
    assert world.get_time("m2")["activities"] == ["development", "docs"]
    found = [t["uuid"] for t in api.get("/times", admin, activity="development").json]
    assert found == [world.times[n]["uuid"] for n in ["m1", "m2", "m2b", "a1"]]
    assert api.get("/projects/gwm", admin).json["default_activity"] == "development"
    listed = [p for p in api.get("/projects", admin).json if p["uuid"] == world.projects["gwm"]["uuid"]]
    assert len(listed) == 1
    assert listed[0]["default_activity"] == "development"
    # the default activity still works for new times
    made = api.create_time(world.token("member"), "member", "gwm")
    assert api.get(f"/times/{made['uuid']}", admin).json["activities"] == ["development"]


UPDATE_ERRORS = [
    ("unknown-key", "dev", {"foo": 1}, bad_object("activity does not have a foo field")),
    ("name-number", "dev", {"name": 5}, _af("name", "string", "number")),
    ("slug-bool", "dev", {"slug": False}, _af("slug", "string", "boolean")),
    ("name-empty", "dev", {"name": ""}, _af("name", "string", "empty string")),
    ("slug-empty", "dev", {"slug": ""}, _af("slug", "slug", "empty string")),
    ("target-bad", "Not_A_Slug", {"name": "X y z"}, invalid_id("slug", "Not_A_Slug")),
    ("slug-invalid", "dev", {"slug": "Bad Slug"}, _af("slug", "valid slug", "invalid slug Bad Slug")),
    (
        "slug-taken",
        "dev",
        {"slug": "docs"},
        error(409, "The slug provided already exists", "slug docs already exists", ["docs"]),
    ),
    ("name-taken", "dev", {"name": "Documentation"}, NAME_EXISTS),
    ("unknown", "nope", {"name": "X y z"}, not_found("activity")),
]


@pytest.mark.parametrize(
    ("slug", "obj", "expected"), [c[1:] for c in UPDATE_ERRORS], ids=[c[0] for c in UPDATE_ERRORS]
)
def test_update_errors(shared_world: World, slug: str, obj: dict, expected: dict) -> None:
    world = shared_world
    resp = world.api.post(f"/activities/{slug}", obj, world.token("sitemgr"))
    assert resp.status == expected["status"]
    assert resp.json == expected
    assert world.api.get("/activities/dev", world.token("admin")).json == _act(world, "dev")


def test_failed_update_of_unknown_activity_leaves_no_lock(world: World) -> None:
    api = world.api
    admin = api.admin_token()
    assert api.post("/activities/nope", {"name": "Nope"}, admin).json == not_found("activity")
    assert api.get("/activities/docs", admin).json == _act(world, "docs")
    assert api.post("/activities", {"name": "After 404", "slug": "after"}, admin).status == 200
    assert api.post("/activities/after", {"name": "After 404 again"}, admin).status == 200


def test_update_authorization_first(shared_world: World) -> None:
    resp = shared_world.api.post("/activities/nope", {"foo": 1}, shared_world.token("member"))
    assert resp.json == authz("member", "update activities")


def test_delete(world: World) -> None:
    api = world.api
    admin = api.admin_token()
    made = api.create_activity("spare", "Spare")
    resp = api.delete("/activities/spare", world.token("sitemgr"))
    assert (resp.status, resp.body) == (200, b"")
    assert api.get("/activities/spare", admin).json == not_found("activity")
    assert api.get("/activities/spare", admin, include_deleted="true").json == not_found("activity")
    assert made["uuid"] not in [a["uuid"] for a in api.get("/activities", admin).json]
    deleted = [
        a for a in api.get("/activities", admin, include_deleted="true").json if a["uuid"] == made["uuid"]
    ]
    assert deleted == [{**made, "slug": None, "deleted_at": today()}]
    assert api.delete("/activities/spare", admin).json == not_found("slug")


def test_delete_blocked_only_by_current_times(world: World) -> None:
    api = world.api
    admin = api.admin_token()
    resp = api.delete("/activities/qa", admin)
    assert resp.status == 405
    assert resp.json == METHOD_NOT_ALLOWED
    assert resp.header("Allow") == "GET, POST"
    assert api.delete(f"/times/{world.times['m3']['uuid']}", admin).status == 200
    assert api.delete("/activities/qa", admin).status == 200


@pytest.mark.parametrize(
    ("who", "slug", "expected"),
    [
        ("pm", "Not_A_Slug", authz("pm", "delete activities")),
        ("loner", "docs", authz("loner", "delete activities")),
        ("sitespec", "docs", authz("sitespec", "delete activities")),
        ("admin", "Not_A_Slug", invalid_id("slug", "Not_A_Slug")),
        ("admin", "nope", not_found("slug")),
        ("admin", "dev", METHOD_NOT_ALLOWED),
    ],
)
def test_delete_errors(shared_world: World, who: str, slug: str, expected: dict) -> None:
    world = shared_world
    resp = world.api.delete(f"/activities/{slug}", world.token(who))
    assert resp.status == expected["status"]
    assert resp.json == expected
    assert world.api.get("/activities/docs", world.token("admin")).status == 200


@pytest.mark.parametrize(
    ("value", "included"),
    [("true", True), ("", True), ("1", True), ("0", False), ("false", False), (None, False)],
)
def test_include_deleted_parsing(api: Api, value: str | None, included: bool) -> None:
    admin = api.admin_token()
    made = api.create_activity("gone")
    assert api.delete("/activities/gone", admin).status == 200
    query = {} if value is None else {"include_deleted": value}
    listed = [a["uuid"] for a in api.get("/activities", admin, **query).json]
    assert (made["uuid"] in listed) is included
