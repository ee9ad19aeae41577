"""Hostile and odd input (API doc 7.5, 12; docs/server.md "Limits and safety").

Every test ends by checking that the server still answers a normal request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .helpers import (
    BAD_JSON,
    BAD_TOKEN,
    World,
    assert_client_error,
    assert_no_server_error,
    q,
    today,
    unique,
)


@pytest.fixture(autouse=True)
def _still_alive(request: pytest.FixtureRequest) -> Iterator[None]:
    world = request.getfixturevalue("world" if "world" in request.fixturenames else "shared_world")
    yield
    resp = world.api.get("/users/admin", world.api.admin_token())
    assert resp.status == 200, "the server stopped answering normal requests"
    assert resp.json["username"] == "admin"


POST_PATHS = [
    "/login",
    "/times",
    "/projects",
    "/activities",
    "/users",
    "/projects/gwm",
    "/activities/dev",
    "/users/member",
]


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"a": 1',
        b"{}x",
        b"{'a': 1}",
        b'{"a": NaN}',
        b'{"a": "\xff\xfe"}',
        b"\xef\xbb\xbf{}",
        b"[1,]",
        b'{"a": 1}{"b": 2}',
        b"nul",
        b"\x00",
    ],
)
def test_unparsable_bodies(shared_world: World, body: bytes) -> None:
    world = shared_world
    for path in POST_PATHS:
        resp = world.api.post_raw(path, body)
        assert_client_error(resp)
        if body not in (b'{"a": NaN}', b"\xef\xbb\xbf{}"):  # lenient parsers may accept these two
            assert resp.json == BAD_JSON, (path, resp.json)


@pytest.mark.parametrize("body", [b"", b"   "])
def test_empty_body(shared_world: World, body: bytes) -> None:
    world = shared_world
    for path in POST_PATHS:
        assert_client_error(world.api.post_raw(path, body))


def test_empty_object_without_content_type(shared_world: World) -> None:
    world = shared_world
    resp = world.api.raw("POST", "/v1/times", b"{}", headers={"Content-Type": "text/plain"})
    assert_client_error(resp)


BAD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    1e308,
    2**64,
    -(2**63),
    "",
    "x",
    "0",
    [],
    {},
    [None],
    [[]],
    {"a": []},
    ["dev", 5],
    "x" * 300,
]

SWEEP = {
    "time-create": (
        "/times",
        ["duration", "user", "project", "activities", "date_worked", "issue_uri", "notes"],
    ),
    "time-update": (
        "/times/{m1}",
        ["duration", "user", "project", "activities", "date_worked", "issue_uri", "notes"],
    ),
    "project-create": ("/projects", ["name", "slugs", "uri", "default_activity", "users"]),
    "project-update": ("/projects/gwm", ["name", "slugs", "uri", "default_activity", "users"]),
    "activity-create": ("/activities", ["name", "slug"]),
    "activity-update": ("/activities/docs", ["name", "slug"]),
    "user-create": (
        "/users",
        [
            "username",
            "password",
            "display_name",
            "email",
            "site_spectator",
            "site_manager",
            "site_admin",
            "active",
            "meta",
        ],
    ),
    "user-update": (
        "/users/loner",
        [
            "password",
            "display_name",
            "email",
            "site_spectator",
            "site_manager",
            "site_admin",
            "active",
            "meta",
            "username",
        ],
    ),
}

GOOD = {
    "time-create": {"duration": 5, "user": "member", "project": "gwm", "date_worked": "2015-04-19"},
    "project-create": {"name": "Sweep", "slugs": ["sweep"]},
    "activity-create": {"name": "Sweep", "slug": "sweep"},
    "user-create": {"username": "sweep", "password": "pw"},
}


@pytest.mark.parametrize("kind", list(SWEEP))
def test_wrong_types_for_every_field(world: World, kind: str) -> None:
    """Each field gets each odd JSON value, alone and inside an otherwise valid object: never a 5xx."""
    path, fields = SWEEP[kind]
    path = path.format(m1=world.times["m1"]["uuid"])
    token = world.token("member") if kind.startswith("time") else world.token("admin")
    base = GOOD.get(kind, {})
    for field in fields:
        for value in BAD_VALUES:
            obj = {**base, field: value}
            if kind == "user-create" and field != "username":
                obj["username"] = unique("sweep")
            if kind == "project-create" and field != "slugs":
                obj["slugs"] = [unique("sweep")]
            if kind == "project-create" and field != "name":
                obj["name"] = unique("Sweep ")
            if kind == "activity-create" and field != "slug":
                obj["slug"] = unique("sweep")
            if kind == "activity-create" and field != "name":
                obj["name"] = unique("Sweep ")
            resp = world.api.post(path, obj, token)
            assert_no_server_error(resp)
            if resp.status == 200:
                assert isinstance(resp.json, dict) and "error" not in resp.json, (field, value, resp.json)


@pytest.mark.parametrize("size", [1024 * 1024 + 1, 5 * 1024 * 1024])
def test_huge_body_is_refused(shared_world: World, size: int) -> None:
    world = shared_world
    notes = "n" * size
    body = json.dumps(
        {
            "auth": {"type": "token", "token": world.token("member")},
            "object": {
                "duration": 1,
                "user": "member",
                "project": "gwm",
                "date_worked": "2015-04-19",
                "notes": notes,
            },
        }
    ).encode()
    start = time.perf_counter()
    resp = world.api.post_raw("/times", body, timeout=30)
    assert_client_error(resp)
    assert time.perf_counter() - start < 5


def test_huge_chunked_body_is_refused(shared_world: World) -> None:
    world = shared_world
    import http.client

    conn = http.client.HTTPConnection(world.api.host, world.api.port, timeout=30)
    chunks = (b'{"object": {"notes": "' if i == 0 else b"x" * 65536 for i in range(40))
    try:
        conn.request(
            "POST",
            "/v1/times",
            body=chunks,
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        resp = conn.getresponse()
        data = resp.read()
    except (BrokenPipeError, ConnectionResetError):
        return  # the server may close the connection on an oversized body
    finally:
        conn.close()
    assert 400 <= resp.status < 500
    body = json.loads(data)
    assert body["status"] == resp.status


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"a":' * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"auth": {"type": "token"}, "object": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
)
def test_deeply_nested_json(shared_world: World, body: bytes) -> None:
    world = shared_world
    for path in ["/times", "/login", "/users/member"]:
        start = time.perf_counter()
        resp = world.api.post_raw(path, body)
        assert time.perf_counter() - start < 2
        assert_client_error(resp)


def test_nesting_beyond_the_limit_inside_a_valid_request(shared_world: World) -> None:
    world = shared_world
    nested: Any = "x"
    for _ in range(40):
        nested = {"k": nested}
    resp = world.api.post("/users/member", {"meta": nested}, world.token("member"))
    assert resp.status == 400
    assert resp.json["error"] == "Bad object"


@pytest.mark.parametrize("raw", ['"\\ud800"', '"a\\udfffb"', '"\\u0000"', '"nul\\u0000inside"'])
def test_lone_surrogates_and_nul_in_string_fields(shared_world: World, raw: str) -> None:
    world = shared_world
    token = json.dumps(world.token("admin"))
    bodies = {
        "/times": '{"duration": 1, "user": "admin", "project": "pgd", "activities": ["qa"], '
        '"date_worked": "2015-04-19", "notes": RAW}',
        "/users/member": '{"display_name": RAW}',
        "/projects": '{"name": RAW, "slugs": ["odd-unicode"]}',
        "/activities": '{"name": RAW, "slug": "odd-unicode"}',
        "/users": '{"username": "oddunicode", "password": RAW}',
    }
    for path, template in bodies.items():
        obj = template.replace("RAW", raw)
        body = f'{{"auth": {{"type": "token", "token": {token}}}, "object": {obj}}}'
        resp = world.api.post_raw(path, body.encode())
        assert resp.status == 400, (path, resp.status, resp.body[:200])
        assert resp.json["error"] == "Bad object"
    # the login username and password too
    resp = world.api.post_raw(
        "/login", f'{{"auth": {{"type": "password", "username": {raw}, "password": "x"}}}}'.encode()
    )
    assert_client_error(resp)


ODD_STRINGS = [
    "emoji 😀🎉👩‍💻",
    "RTL \u202eevil\u202c עברית العربية",
    "combining e\u0301 \u0300",
    "zero\u200bwidth \ufeff bom",
    "Robert'); DROP TABLE users;--",
    "' OR '1'='1",
    '"; DELETE FROM times; --',
    "back\\slash %s %d {0} ${x}",
    "<script>alert(1)</script>",
    "line\nbreak\ttab\r",
]


@pytest.mark.parametrize("text", ODD_STRINGS)
def test_odd_strings_round_trip_in_every_free_text_field(world: World, text: str) -> None:
    api = world.api
    admin = api.admin_token()
    made = api.create_time(world.token("member"), "member", "gwm", notes=text)
    assert api.get(f"/times/{made['uuid']}", admin).json["notes"] == text
    slug = unique("odd")
    assert api.post("/projects", {"name": f"{text} {slug}", "slugs": [slug]}, admin).status == 200
    assert api.get(f"/projects/{slug}", admin).json["name"] == f"{text} {slug}"
    assert api.post("/activities", {"name": f"{text} {slug}", "slug": slug}, admin).status == 200
    assert api.get(f"/activities/{slug}", admin).json["name"] == f"{text} {slug}"
    resp = api.post("/users/member", {"display_name": text, "meta": text}, world.token("member"))
    assert resp.status == 200
    got = api.get("/users/member", admin).json
    assert (got["display_name"], got["meta"]) == (text, text)
    # the password may hold anything, too
    name = unique("odd")
    assert api.post("/users", {"username": name, "password": text}, admin).status == 200
    assert api.login(name, text).status == 200
    # nothing else was touched
    assert [u["username"] for u in api.get("/users", admin).json][:3] == ["admin", "siteadmin", "sitemgr"]
    assert len(api.get("/times", admin).json) == 6


SQL = ["' OR '1'='1", "'; DROP TABLE users; --", '" OR ""="', "1; SELECT 1", "%' --", "\\'; --"]


@pytest.mark.parametrize("text", SQL)
def test_sql_metacharacters_in_paths_and_queries(shared_world: World, text: str) -> None:
    world = shared_world
    api = world.api
    admin = api.admin_token()
    enc = q(text)
    assert api.get(f"/users/{enc}", admin).json["error"] == "The provided identifier was invalid"
    assert api.post(f"/users/{enc}", {"display_name": "x"}, admin).status in (400, 404)
    assert api.delete(f"/users/{enc}", admin).json["error"] == "The provided identifier was invalid"
    assert api.get(f"/projects/{enc}", admin).json["error"] == "The provided identifier was invalid"
    assert api.post(f"/projects/{enc}", {"name": "x"}, admin).json["text"] == "Nonexistent project"
    assert api.delete(f"/projects/{enc}", admin).json["error"] == "The provided identifier was invalid"
    assert api.get(f"/activities/{enc}", admin).json["error"] == "The provided identifier was invalid"
    assert (
        api.post(f"/activities/{enc}", {"name": "x y"}, admin).json["error"]
        == "The provided identifier was invalid"
    )
    assert api.delete(f"/activities/{enc}", admin).json["error"] == "The provided identifier was invalid"
    assert api.get(f"/times/{enc}", admin).json["error"] == "The provided identifier was invalid"
    assert api.delete(f"/times/{enc}", admin).json["error"] == "The provided identifier was invalid"
    for key in ["user", "project", "activity", "start", "end"]:
        resp = api.get("/times", admin, **{key: text})
        assert resp.status == 400, (key, resp.json)
        assert resp.json["error"] == "Bad query value"
    assert api.get("/projects", admin, user=text).status == 400
    for key in ["include_deleted", "include_revisions", "limit", "skip"]:
        assert_no_server_error(api.get("/times", admin, **{key: text}))
        assert_no_server_error(api.get("/projects", admin, **{key: text}))
        assert_no_server_error(api.get("/users", admin, **{key: text}))
    resp = api.login(text, text)
    assert resp.json["text"] == "Incorrect username or password"
    assert len(api.get("/users", admin).json) == 9
    assert len(api.get("/times", admin).json) == 5


@pytest.mark.parametrize(
    "path",
    [
        "/users/%00",
        "/projects/%00",
        "/activities/%00",
        "/times/%00",
        "/users/%FF%FE",
        "/projects/" + "a" * 8000,
        "/users/" + "%C3%28",
    ],
)
def test_odd_path_parameters(shared_world: World, path: str) -> None:
    world = shared_world
    admin = world.api.admin_token()
    for method in ["GET", "DELETE"]:
        assert_client_error(world.api.request(method, path, token=admin))
    assert_no_server_error(world.api.post(path, {"name": "x"}, admin))


def test_odd_query_strings(shared_world: World) -> None:
    world = shared_world
    api = world.api
    token = q(api.admin_token())
    for raw in [
        "user=%00",
        "user=%FF",
        "start=%00",
        "project=" + "a" * 50_000,
        "user=a&user=" + "b" * 50_000,
        "&&&=&=",
        "include_deleted=%ZZ",
        "limit=-1",
        "limit=99999999999999999999",
        "skip=-5",
        "limit=abc",
    ]:
        start = time.perf_counter()
        resp = api.raw("GET", f"/v1/times?{raw}&token={token}")
        assert time.perf_counter() - start < 2, raw
        assert_no_server_error(resp)


def test_100kb_token_is_refused_quickly(shared_world: World) -> None:
    world = shared_world
    token = "a" * 50_000 + "." + "b" * 50_000 + ".c"
    start = time.perf_counter()
    resp = world.api.post("/times", {"duration": 1}, token)
    assert resp.json == BAD_TOKEN
    resp = world.api.raw("GET", "/v1/times?token=" + "x" * 20_000)
    assert resp.status in (400, 401, 414, 431)
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize("field", ["notes", "issue_uri"])
def test_long_time_strings_do_not_crash(world: World, field: str) -> None:
    value = "https://example.com/" + "a" * 100_000 if field == "issue_uri" else "n" * 100_000
    start = time.perf_counter()
    obj = {"duration": 1, "user": "member", "project": "gwm", "date_worked": "2015-04-19", field: value}
    resp = world.api.post("/times", obj, world.token("member"))
    assert time.perf_counter() - start < 2
    assert_no_server_error(resp)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/users/member", "display_name"),
        ("/users/member", "meta"),
        ("/projects/gwm", "name"),
        ("/projects/gwm", "uri"),
        ("/activities/docs", "name"),
        ("/users/member", "password"),
    ],
)
def test_long_strings_get_4xx_not_5xx(world: World, path: str, field: str) -> None:
    value = "a" * 100_000 if field != "uri" else "https://example.com/" + "a" * 100_000
    start = time.perf_counter()
    resp = world.api.post(path, {field: value}, world.token("admin"))
    assert time.perf_counter() - start < 2
    assert_no_server_error(resp)


def test_concurrent_requests(world: World) -> None:
    from concurrent.futures import ThreadPoolExecutor

    api = world.api
    member = world.token("member")

    def work(i: int) -> int:
        made = api.create_time(member, "member", "gwm", duration=i)
        assert api.post(f"/times/{made['uuid']}", {"notes": str(i)}, member).status == 200
        return api.get("/times", member).status

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(work, range(40))) == {200}
    mine = api.get("/times", member, user="member").json
    assert len(mine) == 43
    assert all(t["created_at"] == today() for t in mine)
