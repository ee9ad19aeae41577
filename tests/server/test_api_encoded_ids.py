"""Path ids with percent-encoded reserved characters reach the ``/:id`` handlers (API doc 1.2).

Express matches routes on the raw path, so ``/projects/a%2Fb`` is the project ``a/b`` (then 400 or
404 as each endpoint's checks say), never the ``Cannot GET`` page of an unknown path.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from .helpers import Api, error, invalid_id, not_found

ENCODED = ["a%2Fb", "a%3Fb", "a%23b", "a%25b", "a%20b", "a+b", "%2F", "a%2F%2Fb"]
KINDS = {"users": "username", "projects": "slug", "activities": "slug", "times": "UUID"}


def _decoded(raw: str) -> str:
    """How the server decodes a path segment: percent escapes only, ``+`` stays ``+``."""
    return unquote(raw)


@pytest.mark.parametrize("resource", sorted(KINDS))
@pytest.mark.parametrize("raw", ENCODED)
def test_get_reaches_the_handler(shared_api: Api, resource: str, raw: str) -> None:
    resp = shared_api.get(f"/{resource}/{raw}", shared_api.admin_token())
    assert resp.status == 400, resp.json
    assert resp.json == invalid_id(KINDS[resource], _decoded(raw))


@pytest.mark.parametrize("resource", sorted(KINDS))
@pytest.mark.parametrize("raw", ENCODED)
def test_delete_reaches_the_handler(shared_api: Api, resource: str, raw: str) -> None:
    resp = shared_api.delete(f"/{resource}/{raw}", shared_api.admin_token())
    kind = "uuid" if resource == "times" else KINDS[resource]
    assert resp.status == 400, resp.json
    assert resp.json == invalid_id(kind, _decoded(raw))


@pytest.mark.parametrize("raw", ENCODED)
def test_update_reaches_the_handler(shared_api: Api, raw: str) -> None:
    token = shared_api.admin_token()
    decoded = _decoded(raw)
    # projects: the slug is not format-checked on update (5.2.4), so it is simply unknown
    resp = shared_api.post(f"/projects/{raw}", {"name": "renamed"}, token)
    assert (resp.status, resp.json) == (404, not_found("project"))
    resp = shared_api.post(f"/activities/{raw}", {"name": "renamed"}, token)
    assert (resp.status, resp.json) == (400, invalid_id("slug", decoded))
    resp = shared_api.post(f"/times/{raw}", {"duration": 5}, token)
    assert (resp.status, resp.json) == (400, invalid_id("UUID", decoded))
    resp = shared_api.post(f"/users/{raw}", {"display_name": "Renamed"}, token)
    assert resp.status in (400, 404), resp.json
    assert resp.json in (invalid_id("username", decoded), not_found("user"))


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_v0_routes_the_same(shared_api: Api, method: str) -> None:
    v0 = shared_api.with_version("v0")
    token = shared_api.admin_token()
    if method == "POST":
        resp = v0.post("/activities/a%2Fb", {"name": "renamed"}, token)
    else:
        resp = v0.request(method, "/activities/a%2Fb", token=token)
    assert (resp.status, resp.json) == (400, invalid_id("slug", "a/b"))


def test_encoded_letters_find_the_object(shared_api: Api) -> None:
    resp = shared_api.get("/users/%61dmin", shared_api.admin_token())
    assert resp.status == 200, resp.json
    assert resp.json["username"] == "admin"


def test_trailing_slash_after_an_encoded_id(shared_api: Api) -> None:
    resp = shared_api.get("/projects/a%2Fb/", shared_api.admin_token())
    assert (resp.status, resp.json) == (400, invalid_id("slug", "a/b"))


def test_extra_real_segments_are_still_unknown_paths(shared_api: Api) -> None:
    resp = shared_api.get("/projects/a/b", shared_api.admin_token())
    assert resp.status == 404
    assert resp.json == error(404, "Not found", "Cannot GET /v1/projects/a/b")
