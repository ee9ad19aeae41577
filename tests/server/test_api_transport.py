"""Transport-level behaviour: versions, unknown routes, trailing slashes, decoding, headers (API doc 1)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from .helpers import BAD_JSON, MISSING_CREDENTIALS, Api, World, q


@pytest.mark.parametrize("version", ["v0", "v1"])
def test_base_url_is_a_404_page_naming_the_request(start_server: Callable[..., Api], version: str) -> None:
    """As the reference answers it; with our extensions on, ``GET /v1/`` describes them (test_api_sync)."""
    api = start_server(sync_extensions=False)
    resp = api.raw("GET", f"/{version}/")
    assert resp.status == 404
    assert f"Cannot GET /{version}/".encode() in resp.body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/foo"),
        ("POST", "/v0/nothing/here"),
        ("PUT", "/v1/times"),
        ("PATCH", "/v0/projects"),
        ("DELETE", "/v1/times"),
        ("GET", "/v2/times"),
        ("GET", "/timesheets"),
    ],
)
def test_unknown_routes_and_methods_get_the_cannot_page(shared_api: Api, method: str, path: str) -> None:
    api = shared_api
    body = b"{}" if method in {"POST", "PUT", "PATCH"} else None
    resp = api.raw(method, path, body)
    assert resp.status == 404
    assert f"Cannot {method} {path}".encode() in resp.body


def test_unversioned_resource_paths_are_the_cannot_page_without_the_web_page(
    start_server: Callable[..., Api],
) -> None:
    """As the reference answers them; with the web page on (the default), ``/times`` is its Times page."""
    api = start_server(web=False)
    for path in ("/times", "/projects", "/"):
        resp = api.raw("GET", path)
        assert resp.status == 404
        assert f"Cannot GET {path}".encode() in resp.body


def test_both_versions_serve_the_same_data(shared_world: World) -> None:
    world = shared_world
    api = world.api
    token = api.admin_token()
    v0 = api.with_version("v0")
    for path in ["/times", "/projects", "/activities", "/users", "/projects/gwm", "/users/member"]:
        a, b = v0.get(path, token), api.get(path, token)
        assert a.status == b.status == 200
        assert a.json == b.json


def test_token_from_one_version_works_on_the_other(api: Api) -> None:
    v0 = api.with_version("v0")
    token = v0.login("admin", "adminpass").json["token"]
    assert api.get("/users/admin", token).status == 200
    obj = {"name": "Made Under V0", "slug": "made-v0"}
    assert v0.post("/activities", obj, token).status == 200
    assert api.get("/activities/made-v0", token).json["name"] == "Made Under V0"


@pytest.mark.parametrize("version", ["v0", "v1"])
def test_trailing_slash_post_is_answered_without_redirect(world: World, version: str) -> None:
    api = world.api.with_version(version)
    member = world.token("member")
    obj = {"duration": 10, "user": "member", "project": "gwm", "date_worked": "2015-04-19"}
    resp = api.post("/times/", obj, member)
    assert resp.status == 200, resp
    assert resp.json["duration"] == 10
    admin = api.admin_token()
    resp = api.post("/projects/", {"name": f"Slash {version}", "slugs": [f"slash-{version}"]}, admin)
    assert resp.status == 200
    resp = api.post("/activities/", {"name": f"Slash act {version}", "slug": f"slash-act-{version}"}, admin)
    assert resp.status == 200
    resp = api.post(f"/projects/slash-{version}/", {"uri": "http://example.com/x"}, admin)
    assert resp.status == 200
    assert resp.json["uri"] == "http://example.com/x"


@pytest.mark.parametrize(
    "path",
    [
        "/times/",
        "/projects/",
        "/activities/",
        "/users/",
        "/users/member/",
        "/projects/gwm/",
        "/activities/dev/",
    ],
)
def test_trailing_slash_get_is_answered_without_redirect(shared_world: World, path: str) -> None:
    world = shared_world
    api = world.api
    resp = api.get(path, api.admin_token(), include_revisions=True)
    assert resp.status == 200
    no_slash = api.get(path.rstrip("/"), api.admin_token(), include_revisions=True)
    assert resp.json == no_slash.json


def test_trailing_slash_delete_is_answered_without_redirect(world: World) -> None:
    api = world.api
    uuid = world.times["m1"]["uuid"]
    resp = api.delete(f"/times/{uuid}/", world.token("member"))
    assert (resp.status, resp.body) == (200, b"")
    assert api.get(f"/times/{uuid}", api.admin_token()).status == 404


def test_path_parameters_are_percent_decoded(shared_world: World) -> None:
    world = shared_world
    api = world.api
    token = api.admin_token()
    resp = api.get("/users/%6Dember", token)  # %6D is "m"
    assert resp.status == 200
    assert resp.json["username"] == "member"
    resp = api.get("/projects/%67wm", token)
    assert resp.json["slugs"] == ["ganeti-webmgr", "gwm"]
    uuid = world.times["m1"]["uuid"]
    resp = api.get("/times/" + "".join(f"%{ord(c):02X}" for c in uuid), token)
    assert resp.status == 200
    assert resp.json["uuid"] == uuid


def test_query_values_are_percent_decoded_and_repeated(shared_world: World) -> None:
    world = shared_world
    api = world.api
    token = q(api.admin_token())
    resp = api.raw("GET", f"/v1/times?user=%6Dember&user=member2&token={token}")
    assert resp.status == 200
    assert sorted({t["user"] for t in resp.json}) == ["member", "member2"]


def test_malformed_percent_escape_in_query_is_kept_verbatim(shared_world: World) -> None:
    world = shared_world
    token = q(world.api.admin_token())
    resp = world.api.raw("GET", f"/v1/times?user=wh4t3v3n.isTh%s&token={token}")
    assert resp.json == {
        "status": 400,
        "error": "Bad query value",
        "text": "Parameter user contained invalid value wh4t3v3n.isTh%s",
    }


def test_blank_query_parameter_counts_as_present(shared_world: World) -> None:
    world = shared_world
    api = world.api
    token = q(api.admin_token())
    resp = api.raw("GET", f"/v1/times?include_revisions&token={token}")
    assert resp.status == 200
    assert all(t["parents"] == [] for t in resp.json)


def test_unknown_query_parameters_are_ignored(shared_world: World) -> None:
    world = shared_world
    api = world.api
    token = api.admin_token()
    assert (
        api.get("/projects", token, f="b", project="nope", slug="x").json == api.get("/projects", token).json
    )
    assert api.get("/times", token, f="b").json == api.get("/times", token).json


def test_success_responses_are_json(world: World) -> None:
    api = world.api
    token = api.admin_token()
    responses = [
        api.login("admin", "adminpass"),
        api.get("/times", token),
        api.get("/projects/gwm", token),
        api.post("/activities", {"name": "Json Type", "slug": "json-type"}, token),
        api.post("/projects/gwm", {"uri": "http://example.com/j"}, token),
    ]
    for resp in responses:
        assert resp.status == 200
        assert (resp.header("Content-Type") or "").startswith("application/json"), resp.headers


def test_error_status_equals_body_status_and_is_json(shared_api: Api) -> None:
    api = shared_api
    resp = api.get("/times")
    assert resp.status == 401
    assert resp.json == MISSING_CREDENTIALS
    assert (resp.header("Content-Type") or "").startswith("application/json")


def test_no_cors_header_without_an_allow_list(shared_world: World) -> None:
    world = shared_world
    origin = {"Origin": "https://elsewhere.example"}
    resp = world.api.request("GET", "/activities", token=world.api.admin_token(), headers=origin)
    assert resp.status == 200 and resp.header("Access-Control-Allow-Origin") is None


@pytest.mark.parametrize("path", ["/login", "/times", "/projects", "/activities", "/users", "/nope/nothing"])
def test_unparsable_json_is_rejected_before_routing_and_auth(shared_api: Api, path: str) -> None:
    api = shared_api
    resp = api.post_raw(path, b'{"auth": {"type": ')
    assert resp.status == 400
    assert resp.json == BAD_JSON


@pytest.mark.parametrize("body", [b"42", b'"a string"', b"true", b"null"])
def test_json_scalar_body_is_rejected(shared_api: Api, body: bytes) -> None:
    api = shared_api
    resp = api.post_raw("/times", body)
    assert resp.status == 400
    assert resp.json == BAD_JSON


def test_json_array_body_is_an_error_not_a_crash(shared_world: World) -> None:
    world = shared_world
    for path in ["/login", "/times", "/projects/gwm", "/users"]:
        resp = world.api.post_raw(path, json.dumps([{"auth": {"type": "token"}}]).encode())
        assert resp.status in (400, 401), (path, resp)
        assert set(resp.json) >= {"status", "error", "text"}
        assert resp.json["status"] == resp.status


def test_form_encoded_body_is_not_a_server_error(shared_world: World) -> None:
    world = shared_world
    token = q(world.api.admin_token())
    body = f"auth[type]=token&auth[token]={token}&object[name]=Form&object[slug]=form".encode()
    resp = world.api.post_raw("/activities", body, "application/x-www-form-urlencoded")
    assert resp.status < 500
