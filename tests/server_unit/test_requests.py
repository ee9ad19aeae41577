"""Request parsing (API doc §1.2) and robustness: malformed input gets a 4xx, never a 500."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.responses import Response

from pymesync.server import context, errors
from pymesync.server.context import MAX_BODY_BYTES, MAX_JSON_DEPTH, parse_body, parse_query
from pymesync.server.errors import ApiError
from pymesync.server.testing import RunningServer, serve


def test_query_keeps_blank_values_and_malformed_escapes() -> None:
    query = parse_query(b"include_revisions&user=a&user=b%7Cc&user=wh4t3v3n.isTh%s&token=a+b")
    assert query == {
        "include_revisions": [""],
        "user": ["a", "b|c", "wh4t3v3n.isTh%s"],
        "token": ["a b"],
    }


def test_each_parse_of_a_query_is_the_callers_own() -> None:
    first = parse_query(b"user=a&user=b")
    first["user"].append("c")
    first["extra"] = ["x"]
    assert parse_query(b"user=a&user=b") == {"user": ["a", "b"]}


@given(st.binary(max_size=60))
def test_a_remembered_parse_is_the_parse(raw: bytes) -> None:
    assert parse_query(raw) == parse_query(raw) == context._parse_query(raw)


_RESPONSE_HEADERS = [
    None,
    {},
    {"ETag": '"3"'},
    {"Allow": "GET", "Retry-After": "1"},
    {"Content-Type": "text/x"},
    {"content-length": "0", "X-A": "b"},
]


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3),
        max_leaves=8,
    ),
    st.sampled_from([100, 200, 201, 204, 304, 400, 404, 500]),
    st.sampled_from(_RESPONSE_HEADERS),
)
def test_json_responses_are_what_starlette_would_send(
    value: Any, status: int, headers: dict[str, str] | None
) -> None:
    ours = context.json_response(value, status, headers)
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    theirs = Response(body, status, headers, media_type="application/json")
    assert (ours.status_code, ours.body, ours.raw_headers) == (
        theirs.status_code,
        theirs.body,
        theirs.raw_headers,
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b'"just a string"',
        b"12",
        b"NaN",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": "\\u0000"}',
        b'{"a": "\\ud800"}',
        b'{"\\ud800": 1}',
        b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
        b"[" * 100_000,
        b'{"a": 1' + b"0" * 5000 + b"}",
        b"\xff\xfe",
    ],
)
def test_bad_bodies_are_bad_objects(raw: bytes) -> None:
    with pytest.raises(ApiError) as caught:
        parse_body(raw)
    assert caught.value.body() == errors.unparsable_body().body()


def test_acceptable_bodies() -> None:
    assert parse_body(b"") == {}
    assert parse_body(b"[]") == []
    assert parse_body('{"name": "ünï 💥"}'.encode()) == {"name": "ünï 💥"}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve() as running:
        yield running


def _request(
    server: RunningServer, method: str, path: str, body: bytes | None = None
) -> tuple[int, Any, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else None, dict(response.getheaders())
    finally:
        connection.close()


def _token(server: RunningServer) -> str:
    auth = {"type": "password", "username": "admin", "password": "adminpass"}
    _, body, _ = _request(server, "POST", "/v1/login", json.dumps({"auth": auth}).encode())
    return str(body["token"])


def test_oversized_body_is_refused(server: RunningServer) -> None:
    status, body, _ = _request(server, "POST", "/v1/times", b" " * (MAX_BODY_BYTES + 1))
    assert status == 413 and set(body) == {"status", "error", "text"}


@pytest.mark.parametrize("query", ["limit=%C2%B2", "skip=%D9%A3", "limit=-1", "skip=1e3"])
def test_non_ascii_digits_in_counts(server: RunningServer, query: str) -> None:
    token = _token(server)
    status, body, _ = _request(server, "GET", f"/v1/users?{query}&token={quote(token)}")
    assert status == 400 and body["error"] == "Bad query value"


def test_odd_content_length(server: RunningServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest("POST", "/v1/times")
        connection.putheader("Content-Length", "\u00b2")
        connection.endheaders()
        assert connection.getresponse().status < 500
    finally:
        connection.close()


def test_unknown_method_and_path(server: RunningServer) -> None:
    status, body, _ = _request(server, "PATCH", "/v1/times")
    assert status == 404 and "Cannot PATCH /v1/times" in body["text"]
    status, body, _ = _request(server, "GET", "/v2/times/")
    assert status == 404 and "Cannot GET /v2/times/" in body["text"]


def test_preflight_without_an_allowed_origin_allows_nothing(server: RunningServer) -> None:
    status, body, headers = _request(server, "OPTIONS", "/v1/times")
    assert status == 204 and body is None
    assert not any(name.startswith("access-control-") for name in headers)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
resources = st.sampled_from(["/times", "/projects", "/activities", "/users"])
field_names = st.sampled_from(
    ["duration", "user", "project", "activities", "date_worked", "issue_uri", "notes", "name",
     "slugs", "slug", "uri", "users", "default_activity", "username", "password", "email",
     "site_admin", "meta", "active", "created_at"]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    resource=resources,
    target=st.sampled_from(["", "/p1", "/00000000-0000-0000-0000-000000000000", "/admin", "/%00"]),
    obj=st.dictionaries(field_names, json_values, max_size=6) | json_values,
)
def test_malformed_objects_never_cause_a_server_error(
    server: RunningServer, resource: str, target: str, obj: Any
) -> None:
    token = _token(server)
    body = json.dumps({"auth": {"type": "token", "token": token}, "object": obj}).encode()
    status, answer, _ = _request(server, "POST", f"/v1{resource}{target}", body)
    assert status < 500, answer
    if status >= 400:
        assert answer["status"] == status and {"error", "text"} <= set(answer)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    resource=resources,
    query=st.lists(
        st.tuples(
            st.sampled_from(["user", "project", "activity", "start", "end", "include_deleted",
                             "include_revisions", "limit", "skip", "token"]),
            st.text(max_size=20),
        ),
        max_size=5,
    ),
)  # fmt: skip
def test_odd_query_strings_never_cause_a_server_error(
    server: RunningServer, resource: str, query: list[tuple[str, str]]
) -> None:
    token = _token(server)
    parts = [f"{quote(k)}={quote(v)}" for k, v in query] + [f"token={quote(token)}"]
    status, answer, _ = _request(server, "GET", f"/v1{resource}?{'&'.join(parts)}")
    assert status < 500, answer


def test_access_log_never_shows_tokens() -> None:
    import logging

    from pymesync.server.app import RedactSecrets

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s"',
        ("1.2.3.4", "GET", "/v1/times?a=1&token=abc+d==&b=2"),
        None,
    )
    assert RedactSecrets().filter(record)
    assert record.getMessage() == '1.2.3.4 - "GET /v1/times?a=1&token=[redacted]&b=2"'
