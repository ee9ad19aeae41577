"""Property test: random JSON objects posted to every POST endpoint never get a 5xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import World, assert_client_error

FIELDS = [
    "duration",
    "user",
    "project",
    "activities",
    "date_worked",
    "issue_uri",
    "notes",
    "name",
    "slugs",
    "slug",
    "uri",
    "default_activity",
    "users",
    "username",
    "password",
    "display_name",
    "email",
    "site_spectator",
    "site_manager",
    "site_admin",
    "active",
    "meta",
    "created_at",
    "uuid",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "gwm",
            "pgd",
            "dev",
            "docs",
            "member",
            "admin",
            "2015-04-19",
            "http://example.com/x",
            "a.b@example.com",
            "",
            "Not A Slug",
            "2015-02-30",
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
objects = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=12), json_values, max_size=8)

ENDPOINTS = [
    "/times",
    "/times/{m1}",
    "/projects",
    "/projects/gwm",
    "/activities",
    "/activities/docs",
    "/users",
    "/users/loner",
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_random_objects_never_give_5xx(shared_world: World, endpoint: str) -> None:
    world = shared_world
    path = endpoint.format(m1=world.times["m1"]["uuid"])
    token = world.token("admin")

    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(obj=objects)
    def check(obj: dict[str, Any]) -> None:
        resp = world.api.post(path, obj, token)
        assert resp.status < 500, (obj, resp.status, resp.body[:300])
        if resp.status >= 400:
            assert_client_error(resp)
        else:
            assert isinstance(resp.json, dict)

    check()
    assert world.api.get("/users/admin", token).status == 200


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(body=json_values)
def test_random_login_bodies_never_give_5xx(shared_world: World, body: Any) -> None:
    resp = shared_world.api.post_raw("/login", json.dumps({"auth": body}).encode())
    assert resp.status in (200, 400, 401), (body, resp.status)
    if resp.status != 200:
        assert_client_error(resp)
