"""/projects: list, single, create echo, update, delete (API doc 3.3, 5.2)."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import (
    PROJECT_KEYS,
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
    roles,
    today,
    unique,
)

METHOD_NOT_ALLOWED = error(
    405, "Method not allowed", "The method specified is not allowed for the project identified"
)


def _gwm(world: World, **changes: Any) -> dict[str, Any]:
    return {
        "name": "Ganeti Web Manager",
        "uri": "https://code.osuosl.org/projects/ganeti-webmgr",
        "uuid": world.projects["gwm"]["uuid"],
        "default_activity": "dev",
        "revision": 1,
        "slugs": ["ganeti-webmgr", "gwm"],
        "created_at": today(),
        "updated_at": None,
        "deleted_at": None,
        "users": {
            "pm": roles(manager=True),
            "member": roles(member=True),
            "member2": roles(member=True),
            "spec": roles(spectator=True),
            "admin": roles(member=True, spectator=True, manager=True),
        },
        **changes,
    }


def _pgd(world: World) -> dict[str, Any]:
    return {
        "name": "Protein Geometry Database",
        "uri": None,
        "uuid": world.projects["pgd"]["uuid"],
        "default_activity": None,
        "revision": 1,
        "slugs": ["pgd"],
        "created_at": today(),
        "updated_at": None,
        "deleted_at": None,
        "users": {"member": roles(member=True)},
    }


def _seeded(world: World, items: list[dict]) -> list[dict]:
    seeded = {p["uuid"] for p in world.projects.values()}
    return [p for p in items if p["uuid"] in seeded]


# -- GET ------------------------------------------------------------------------------------------


def test_list_as_any_user(shared_world: World) -> None:
    world = shared_world
    resp = world.api.get("/projects", world.token("loner"))
    assert resp.status == 200
    assert _seeded(world, resp.json) == [_gwm(world), _pgd(world)]


def test_project_without_members_has_no_users_key(shared_world: World) -> None:
    world = shared_world
    made = world.api.create_project()
    got = world.api.get(f"/projects/{made['slugs'][0]}", world.token("loner")).json
    assert "users" not in got
    assert set(got) == PROJECT_KEYS


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("member", ["gwm", "pgd"]),
        ("pm", ["gwm"]),
        (["pm", "nobody"], ["gwm"]),
        (["spec", "member"], ["gwm", "pgd"]),
        ("loner", []),
    ],
)
def test_list_filtered_by_user(shared_world: World, user: Any, expected: list[str]) -> None:
    world = shared_world
    resp = world.api.get("/projects", world.token("loner"), user=user)
    assert resp.status == 200
    full = {"gwm": _gwm(world), "pgd": _pgd(world)}
    assert resp.json == [full[name] for name in expected]


def test_filter_by_user_includes_all_false_membership(shared_world: World) -> None:
    world = shared_world
    name = unique("flagless")
    user = world.api.create_user(name)
    made = world.api.create_project(users={user.username: roles()})
    resp = world.api.get("/projects", world.token("loner"), user=name)
    assert [p["uuid"] for p in resp.json] == [made["uuid"]]
    assert resp.json[0]["users"] == {name: roles()}


@pytest.mark.parametrize(("user", "text"), [("nobody", "nobody"), (["nobody", "nobody2"], "nobody,nobody2")])
def test_list_filter_unknown_user(shared_world: World, user: Any, text: str) -> None:
    resp = shared_world.api.get("/projects", shared_world.token("loner"), user=user)
    assert resp.json == bad_query("user", text)


def test_list_no_truncation(api: Api) -> None:
    made = [api.create_project([f"p{i}x"])["uuid"] for i in range(60)]
    listed = [p["uuid"] for p in api.get("/projects", api.admin_token()).json]
    assert listed == made


@pytest.mark.parametrize("slug", ["gwm", "ganeti-webmgr"])
def test_get_single_by_any_slug(shared_world: World, slug: str) -> None:
    resp = shared_world.api.get(f"/projects/{slug}", shared_world.token("loner"))
    assert resp.json == _gwm(shared_world)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("Not_A_Slug", not_found("project")),
        ("nope", not_found("project")),
        ("GWM", not_found("project")),
        ("bad%20slug!", invalid_id("slug", "bad slug!")),
        ("%21nope", invalid_id("slug", "!nope")),
        ("a.b", invalid_id("slug", "a.b")),
    ],
)
def test_get_single_errors(shared_world: World, path: str, expected: dict) -> None:
    world = shared_world
    assert world.api.get(f"/projects/{path}", world.token("loner")).json == expected
    # include_revisions does not turn the 404 into an empty 200 (Rec 8.19)
    assert world.api.get(f"/projects/{path}", world.token("loner"), include_revisions="true").json == expected


def test_revisions(world: World) -> None:
    api = world.api
    admin = api.admin_token()
    rev2 = api.ok(api.post("/projects/gwm", {"name": "GWM 2"}, admin))
    rev3 = api.ok(api.post("/projects/gwm", {"uri": "http://example.com/gwm3"}, admin))
    assert (rev2["revision"], rev3["revision"]) == (2, 3)
    assert rev3 == _gwm(world, name="GWM 2", uri="http://example.com/gwm3", revision=3, updated_at=today())
    parent_keys = PROJECT_KEYS - {"slugs"}

    def parent(full: dict) -> dict:
        return {k: v for k, v in full.items() if k in parent_keys}

    single = api.get("/projects/gwm", admin, include_revisions="true").json
    assert {k: v for k, v in single.items() if k != "parents"} == rev3
    assert single["parents"] == [parent(rev2), parent(_gwm(world))]
    listed = api.get("/projects", admin, include_revisions="true").json
    by_uuid = {p["uuid"]: p for p in listed}
    assert by_uuid[rev3["uuid"]]["parents"] == single["parents"]
    assert by_uuid[world.projects["pgd"]["uuid"]]["parents"] == []
    assert "parents" not in api.get("/projects/gwm", admin).json
    assert all("parents" not in p for p in api.get("/projects", admin, include_revisions="false").json)
    assert api.get("/projects/pgd", admin, include_revisions="true").json["parents"] == []


# -- POST /projects --------------------------------------------------------------------------------


def test_create_minimal_echo(shared_world: World) -> None:
    world = shared_world
    obj = {"name": unique("Minimal "), "slugs": [unique("min"), unique("min")]}
    resp = world.api.post("/projects", obj, world.token("sitemgr"))
    assert resp.status == 200
    uuid = resp.json["uuid"]
    assert resp.json == {
        **obj,
        **first_revision(uuid),
    }
    got = world.api.get(f"/projects/{obj['slugs'][0]}", world.token("loner")).json
    assert got == {
        **obj,
        "slugs": sorted(obj["slugs"]),
        "uri": None,
        "default_activity": None,
        **first_revision(uuid),
    }


def test_create_full_echo_drops_unknown_users(shared_world: World) -> None:
    world = shared_world
    slug = unique("full")
    obj = {
        "name": unique("Full "),
        "slugs": [slug],
        "uri": "https://example.com/full",
        "default_activity": "docs",
        "users": {"member": {"member": True}, "nobody": roles(member=True), "pm": roles(manager=True)},
    }
    resp = world.api.post("/projects", obj, world.token("admin"))
    assert resp.status == 200
    uuid = resp.json["uuid"]
    echoed_users = {"member": {"member": True}, "pm": roles(manager=True)}
    assert resp.json == {
        **obj,
        "users": echoed_users,
        **first_revision(uuid),
    }
    got = world.api.get(f"/projects/{slug}", world.token("loner")).json
    assert got["users"] == {"member": roles(member=True), "pm": roles(manager=True)}
    assert got["default_activity"] == "docs"


def test_create_with_null_default_activity(shared_world: World) -> None:
    world = shared_world
    slug = unique("nulldef")
    resp = world.api.post(
        "/projects", {"name": unique("N "), "slugs": [slug], "default_activity": None}, world.token("admin")
    )
    assert resp.status == 200
    assert world.api.get(f"/projects/{slug}", world.token("admin")).json["default_activity"] is None


def _pf(field: str, expected: str, received: str) -> dict[str, Any]:
    return bad_object(f"Field {field} of project should be {expected} but was sent as {received}")


def _p(**changes: Any) -> dict[str, Any]:
    obj = {"name": "Fresh Project", "slugs": ["fresh"], **changes}
    return {k: v for k, v in obj.items() if v is not None or k == "default_activity"}


CREATE_ERRORS = [
    ("unknown-key", _p(foo=1), bad_object("project does not have a foo field")),
    ("unknown-before-types", _p(foo=1, name=5), bad_object("project does not have a foo field")),
    ("no-name", {"slugs": ["fresh"]}, bad_object("The project is missing a name")),
    ("no-slugs", {"name": "Fresh"}, bad_object("The project is missing a slugs")),
    ("name-number", _p(name=5), _pf("name", "string", "number")),
    ("uri-number", _p(uri=5), _pf("uri", "string", "number")),
    ("slugs-string", _p(slugs="fresh"), _pf("slugs", "array", "string")),
    ("users-array", _p(users=[]), _pf("users", "object", "array")),
    ("default-number", _p(default_activity=5), _pf("default_activity", "string", "number")),
    ("uri-bad", _p(uri="not a uri"), _pf("uri", "uri", "non-uri string")),
    ("uri-ftp", _p(uri="ftp://example.com"), _pf("uri", "uri", "non-uri string")),
    ("slug-bad", _p(slugs=["fresh", "Not-Slug"]), _pf("slugs", "slugs", "non-slug strings")),
    ("slug-number", _p(slugs=[5]), _pf("slugs", "slugs", "non-slug strings")),
    ("slugs-empty", _p(slugs=[]), bad_object("The project is missing a slugs")),
    (
        "slug-taken",
        _p(slugs=["fresh", "gwm"]),
        error(409, "The slug provided already exists", "slug gwm already exists", ["gwm"]),
    ),
    (
        "slugs-taken",
        _p(slugs=["pgd", "fresh", "gwm"]),
        error(409, "The slug provided already exists", "slugs gwm, pgd already exist", ["gwm", "pgd"]),
    ),
    ("default-unknown", _p(default_activity="nope"), fk("project", "activity")),
    ("name-taken", _p(name="Ganeti Web Manager"), _pf("name", "unique name", "name which already exists")),
    (
        "slug-before-default",
        _p(slugs=["gwm"], default_activity="nope"),
        error(409, "The slug provided already exists", "slug gwm already exists", ["gwm"]),
    ),
    (
        "default-before-name",
        _p(name="Ganeti Web Manager", default_activity="nope"),
        fk("project", "activity"),
    ),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in CREATE_ERRORS], ids=[c[0] for c in CREATE_ERRORS]
)
def test_create_errors(shared_world: World, obj: dict, expected: dict) -> None:
    world = shared_world
    resp = world.api.post("/projects", obj, world.token("sitemgr"))
    assert resp.status == expected["status"]
    assert resp.json == expected
    assert world.api.get("/projects/fresh", world.token("admin")).status == 404


def test_create_authorization_comes_first(shared_world: World) -> None:
    resp = shared_world.api.post("/projects", {"foo": 1}, shared_world.token("pm"))
    assert resp.json == authz("pm", "create projects")


# -- POST /projects/:slug --------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "sitemgr", "pm"])
def test_update_answers_with_get_form(world: World, who: str) -> None:
    api = world.api
    obj = {
        "name": "Renamed",
        "slugs": ["gwm", "gwm2"],
        "uri": "http://example.com/r",
        "default_activity": "docs",
    }
    resp = api.post("/projects/ganeti-webmgr", obj, world.token(who))
    assert resp.status == 200
    expected = _gwm(world, **obj, revision=2, updated_at=today())
    assert resp.json == expected
    assert api.get("/projects/gwm2", world.token("loner")).json == expected
    # the replaced slug is gone and free for reuse
    assert api.get("/projects/ganeti-webmgr", world.token("loner")).json == not_found("project")
    assert (
        api.post("/projects", {"name": "Reuse", "slugs": ["ganeti-webmgr"]}, api.admin_token()).status == 200
    )


def test_update_resending_own_name_and_slugs_is_a_new_revision(world: World) -> None:
    api = world.api
    obj = {"name": "Ganeti Web Manager", "slugs": ["gwm", "ganeti-webmgr"]}
    resp = api.post("/projects/gwm", obj, api.admin_token())
    assert resp.json == _gwm(world, revision=2, updated_at=today())


def test_update_users_replaces_membership(world: World) -> None:
    api = world.api
    resp = api.post(
        "/projects/gwm",
        {"users": {"loner": {"member": True}, "ghost": roles(member=True)}},
        world.token("pm"),
    )
    assert resp.status == 200
    assert resp.json["users"] == {"loner": roles(member=True)}
    assert api.get("/projects/gwm", api.admin_token()).json["users"] == {"loner": roles(member=True)}
    # the new membership takes effect at once
    assert api.create_time(world.token("loner"), "loner", "gwm")["user"] == "loner"
    resp = api.post(
        "/times",
        {"duration": 1, "user": "member", "project": "gwm", "date_worked": "2015-01-02"},
        world.token("member"),
    )
    assert resp.json == authz("member", "create time entries for project gwm.")
    # pm is no longer a manager of gwm
    assert api.post("/projects/gwm", {"uri": "http://example.com/pm"}, world.token("pm")).json == authz(
        "pm", "make changes to Ganeti Web Manager"
    )


def test_update_clears_default_activity_with_null(world: World) -> None:
    api = world.api
    resp = api.post("/projects/gwm", {"default_activity": None}, api.admin_token())
    assert resp.status == 200
    assert resp.json["default_activity"] is None
    assert api.get("/projects/gwm", api.admin_token()).json["default_activity"] is None
    resp = api.post(
        "/times",
        {"duration": 1, "user": "member", "project": "gwm", "date_worked": "2015-01-02"},
        world.token("member"),
    )
    assert resp.json == bad_object("The time is missing a activities")


def test_update_keeps_unsent_fields_and_undeleted(world: World) -> None:
    api = world.api
    resp = api.post("/projects/pgd", {"uri": "https://pgd.example.com/"}, api.admin_token())
    assert resp.json == {
        **_pgd(world),
        "uri": "https://pgd.example.com/",
        "revision": 2,
        "updated_at": today(),
    }


UPDATE_ERRORS = [
    ("unknown-key", {"foo": 1}, bad_object("project does not have a foo field")),
    ("uuid-key", {"uuid": "x"}, bad_object("project does not have a uuid field")),
    ("name-number", {"name": 5}, _pf("name", "string", "number")),
    ("uri-number", {"uri": 5}, _pf("uri", "string", "number")),
    ("slugs-object", {"slugs": {}}, _pf("slugs", "array", "object")),
    ("users-string", {"users": "x"}, _pf("users", "object", "string")),
    ("default-bool", {"default_activity": True}, _pf("default_activity", "string", "boolean")),
    ("uri-bad", {"uri": "nope nope"}, _pf("uri", "uri", "string")),
    ("slugs-empty", {"slugs": []}, _pf("slugs", "array of slugs", "empty array")),
    ("slugs-bad", {"slugs": ["gwm", "BAD"]}, _pf("slugs", "slugs", "non-slug strings")),
    ("default-unknown", {"default_activity": "nope"}, fk("project", "activity")),
    (
        "name-taken",
        {"name": "Protein Geometry Database"},
        _pf("name", "unique name", "name which already exists"),
    ),
    (
        "slug-taken",
        {"slugs": ["gwm", "pgd"]},
        error(409, "The slug provided already exists", "slug pgd already exists", ["pgd"]),
    ),
    (
        "default-before-name",
        {"name": "Protein Geometry Database", "default_activity": "nope"},
        fk("project", "activity"),
    ),
    (
        "name-before-slugs",
        {"name": "Protein Geometry Database", "slugs": ["pgd"]},
        _pf("name", "unique name", "name which already exists"),
    ),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [c[1:] for c in UPDATE_ERRORS], ids=[c[0] for c in UPDATE_ERRORS]
)
def test_update_errors(shared_world: World, obj: dict, expected: dict) -> None:
    world = shared_world
    resp = world.api.post("/projects/gwm", obj, world.token("pm"))
    assert resp.status == expected["status"]
    assert resp.json == expected
    assert world.api.get("/projects/gwm", world.token("admin")).json == _gwm(world)


@pytest.mark.parametrize(
    ("who", "slug", "obj", "expected"),
    [
        ("admin", "nope", {"name": "X"}, not_found("project")),
        ("loner", "nope", {"name": "X"}, not_found("project")),  # 404 before authorization
        ("admin", "Not_A_Slug", {"name": "X"}, not_found("project")),  # no URL check on this route
        ("loner", "gwm", {"name": "X"}, authz("loner", "make changes to Ganeti Web Manager")),
        ("member", "gwm", {"name": "X"}, authz("member", "make changes to Ganeti Web Manager")),
        ("spec", "ganeti-webmgr", {"name": "X"}, authz("spec", "make changes to Ganeti Web Manager")),
        ("sitespec", "gwm", {"name": "X"}, authz("sitespec", "make changes to Ganeti Web Manager")),
        ("pm", "pgd", {"name": "X"}, authz("pm", "make changes to Protein Geometry Database")),
        ("loner", "gwm", {"foo": 1}, bad_object("project does not have a foo field")),  # validation first
    ],
)
def test_update_target_and_permission_errors(
    shared_world: World, who: str, slug: str, obj: dict, expected: dict
) -> None:
    world = shared_world
    resp = world.api.post(f"/projects/{slug}", obj, world.token(who))
    assert resp.status == expected["status"]
    assert resp.json == expected
    assert world.api.get("/projects/gwm", world.token("admin")).json == _gwm(world)


# -- DELETE /projects/:slug ------------------------------------------------------------------------


def test_delete_frees_slugs_and_removes_memberships(world: World) -> None:
    api = world.api
    admin = api.admin_token()
    made = api.create_project(["doomed", "doomed-too"], "Doomed", users={"member": roles(member=True)})
    resp = api.delete("/projects/doomed-too", admin)
    assert (resp.status, resp.body) == (200, b"")
    assert api.get("/projects/doomed", admin).json == not_found("project")
    assert api.get("/projects/doomed", admin, include_deleted="true").json == not_found("project")
    assert made["uuid"] not in [p["uuid"] for p in api.get("/projects", admin).json]
    deleted = [
        p for p in api.get("/projects", admin, include_deleted="true").json if p["uuid"] == made["uuid"]
    ]
    assert deleted == [
        {
            "name": "Doomed",
            "uri": None,
            "uuid": made["uuid"],
            "default_activity": None,
            "revision": 1,
            "slugs": [],
            "created_at": today(),
            "updated_at": None,
            "deleted_at": today(),
        }
    ]
    assert [p["uuid"] for p in api.get("/projects", admin, user="member").json] == [
        world.projects["gwm"]["uuid"],
        world.projects["pgd"]["uuid"],
    ]
    assert api.delete("/projects/doomed", admin).json == not_found("slug")
    assert api.post("/projects", {"name": "Reborn", "slugs": ["doomed"]}, admin).status == 200


def test_delete_blocked_by_current_times(world: World) -> None:
    api = world.api
    admin = api.admin_token()
    resp = api.delete("/projects/pgd", admin)
    assert resp.status == 405
    assert resp.json == METHOD_NOT_ALLOWED
    assert resp.header("Allow") == "GET, POST"
    assert api.get("/projects/pgd", admin).status == 200
    # deleted times do not block
    for name in ["m3", "a1"]:
        assert api.delete(f"/times/{world.times[name]['uuid']}", admin).status == 200
    assert api.delete("/projects/pgd", admin).status == 200


def test_project_manager_may_delete_their_project(world: World) -> None:
    api = world.api
    api.create_project(["pm-owned"], "PM owned", users={"pm": roles(manager=True)})
    assert api.delete("/projects/pm-owned", world.token("pm")).status == 200


@pytest.mark.parametrize(
    ("who", "slug", "expected"),
    [
        ("loner", "BAD_slug", authz("loner", "delete project BAD_slug")),  # authorization first
        ("loner", "spare", authz("loner", "delete project spare")),
        ("member", "spare", authz("member", "delete project spare")),
        ("spec", "spare", authz("spec", "delete project spare")),
        ("sitespec", "spare", authz("sitespec", "delete project spare")),
        ("pm", "pgd", authz("pm", "delete project pgd")),
        ("admin", "Not_A_Slug", invalid_id("slug", "Not_A_Slug")),
        ("admin", "a--b", invalid_id("slug", "a--b")),
        ("admin", "nope", not_found("slug")),
        ("admin", "gwm", METHOD_NOT_ALLOWED),
    ],
)
def test_delete_errors(shared_world: World, who: str, slug: str, expected: dict) -> None:
    world = shared_world
    if world.api.get("/projects/spare", world.token("admin")).status == 404:
        world.api.create_project(
            ["spare"], "Spare", users={"member": roles(member=True), "spec": roles(spectator=True)}
        )
    resp = world.api.delete(f"/projects/{slug}", world.token(who))
    assert resp.status == expected["status"]
    assert resp.json == expected
    assert world.api.get("/projects/spare", world.token("admin")).status == 200


@pytest.mark.parametrize("value", ["", None])
def test_update_uri_empty_or_null_clears_it(world: World, value: Any) -> None:
    """docs/server.md (the spec): ``uri: ""`` or ``null`` clears the URI."""
    resp = world.api.post("/projects/gwm", {"uri": value}, world.token("pm"))
    assert resp.status == 200
    assert resp.json["uri"] is None
    assert world.api.get("/projects/gwm", world.token("pm")).json["uri"] is None


@pytest.mark.parametrize("path", ["/projects", "/activities", "/users"])
def test_limit_and_skip_on_other_lists(shared_world: World, path: str) -> None:
    """Spec pagination, applied only when asked for (Rec 4; docs/server.md "Lists")."""
    world = shared_world
    admin = world.token("admin")
    world.api.create_project()  # at least three items in every list
    full = world.api.get(path, admin).json
    assert len(full) >= 3
    assert world.api.get(path, admin, limit=2).json == full[:2]
    assert world.api.get(path, admin, skip=1).json == full[1:]
    assert world.api.get(path, admin, skip=1, limit=1).json == full[1:2]
    assert world.api.get(path, admin, limit=0).json == full


def test_slugs_are_sorted_and_deduplicated(shared_world: World) -> None:
    world = shared_world
    slugs = ["b-dup", "a-dup", "a-dup"]
    resp = world.api.post("/projects", {"name": "Duplicated slugs", "slugs": slugs}, world.token("admin"))
    assert resp.status == 200
    assert resp.json["slugs"] == slugs  # the create echo is the request
    assert world.api.get("/projects/b-dup", world.token("loner")).json["slugs"] == ["a-dup", "b-dup"]


@pytest.mark.parametrize(
    ("value", "included"),
    [("true", True), ("", True), ("no", True), ("false", False), ("0", False), (None, False)],
)
def test_include_deleted_parsing(api: Api, value: str | None, included: bool) -> None:
    admin = api.admin_token()
    made = api.create_project(["gone"])
    assert api.delete("/projects/gone", admin).status == 200
    query = {} if value is None else {"include_deleted": value}
    listed = [p["uuid"] for p in api.get("/projects", admin, **query).json]
    assert (made["uuid"] in listed) is included
