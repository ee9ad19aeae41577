"""What goes over the wire (contract §2.5, §3, §5–§8) and how answers come back (§2.6).

A real HTTP/1.1 server on loopback records each request exactly as it arrived: the raw target with
its query string, the headers and the body.
"""

from __future__ import annotations

import base64
import datetime
import json

import bcrypt
import pytest
from legacy_servers import TOKEN, RecordingServer, Reply

import pymesync

ERROR_404 = {"status": 404, "error": "Object not found", "text": "Nonexistent time"}
ERROR_401 = {"status": 401, "error": "Authentication failure", "text": "Bad API token"}


@pytest.fixture
def ts(recording_server: RecordingServer) -> pymesync.TimeSync:
    return pymesync.TimeSync(recording_server.base_url + "/", token=TOKEN)


def E(text: str) -> dict[str, str]:
    return {"pymesync error": text}


# --- authenticate -------------------------------------------------------------------------------------


def test_login_request_and_success(recording_server: RecordingServer) -> None:
    ts = pymesync.TimeSync(recording_server.base_url)
    recording_server.reply(Reply.json(200, {"token": "NEWTOKEN"}))
    assert ts.authenticate("user", "pass word", "password") == {"token": "NEWTOKEN"}
    request = recording_server.last
    assert (request.method, request.target) == ("POST", "/v1/login")
    assert request.json == {"auth": {"type": "password", "username": "user", "password": "pass word"}}
    assert request.headers["Content-Type"] == "application/json"
    assert "Authorization" not in request.headers
    assert "Cookie" not in request.headers
    assert (ts.token, ts.user, ts.auth_type) == ("NEWTOKEN", "user", "password")


@pytest.mark.parametrize(
    "reply",
    [
        Reply.json(
            401, {"status": 401, "error": "Authentication failure", "text": "Incorrect username or password"}
        ),
        Reply.json(200, {"token": ""}),
        Reply.json(200, {"token": 5}),
        Reply.json(200, {"token": "x", "error": "odd"}),
        Reply.json(200, {"nothing": "here"}),
        Reply(200, b"", None),
        Reply(502, b"<html>bad gateway</html>", "text/html"),
    ],
)
def test_failed_login_keeps_the_previous_state(recording_server: RecordingServer, reply: Reply) -> None:
    ts = pymesync.TimeSync(recording_server.base_url, token="constructor-token")
    recording_server.reply(reply)
    result = ts.authenticate("user", "pass", "password")
    assert type(result) is dict
    assert (ts.token, ts.user, ts.auth_type) == ("constructor-token", None, None)
    if reply.body.startswith(b"{"):
        assert result == json.loads(reply.body)


# --- list requests ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "target"),
    [
        (None, "/v1/times?token=TOK"),
        ({"user": "bob"}, "/v1/times?user=bob&token=TOK"),
        (
            {
                "user": ["a", "b"],
                "project": ["p"],
                "activity": ["x", "y"],
                "start": ["2015-01-01"],
                "end": "2015-02-01",
                "include_deleted": True,
                "include_revisions": 0,
            },
            "/v1/times?activity=x&activity=y&end=2015-02-01&include_deleted=true&include_revisions=false"
            "&project=p&start=2015-01-01&user=a&user=b&token=TOK",
        ),
        (
            {"start": datetime.date(2016, 4, 1), "project": "my proj&co"},
            "/v1/times?project=my%20proj%26co&start=2016-04-01&token=TOK",
        ),
        ({"end": datetime.datetime(2016, 4, 2, 23, 59), "user": None}, "/v1/times?end=2016-04-02&token=TOK"),
        (
            {"uuid": "U1", "user": ["a"], "include_revisions": True},
            "/v1/times/U1?include_revisions=true&token=TOK",
        ),
        (
            {"uuid": "s", "include_revisions": True, "include_deleted": True},
            "/v1/times/s?include_deleted=true&include_revisions=true&token=TOK",
        ),
        ({"uuid": "", "user": "u"}, "/v1/times?user=u&token=TOK"),
        ({"uuid": "a+b/c d"}, "/v1/times/a%2Bb%2Fc%20d?token=TOK"),
    ],
)
def test_get_times_requests(
    ts: pymesync.TimeSync, recording_server: RecordingServer, query: object, target: str
) -> None:
    recording_server.reply(Reply.json(200, []))
    assert ts.get_times(query) == []
    request = recording_server.last
    assert (request.method, request.target, request.body) == ("GET", target, b"")


@pytest.mark.parametrize(
    ("method", "query", "target"),
    [
        (
            "get_projects",
            {"slug": "gwm", "include_revisions": True},
            "/v1/projects/gwm?include_revisions=true&token=TOK",
        ),
        (
            "get_projects",
            {"user": ["u1", "u2"], "include_deleted": True, "include_revisions": False},
            "/v1/projects?user=u1&user=u2&include_deleted=true&include_revisions=false&token=TOK",
        ),
        ("get_projects", {"foo": "bar", "zzz": None}, "/v1/projects?foo=true&zzz=false&token=TOK"),
        ("get_projects", None, "/v1/projects?token=TOK"),
        ("get_projects", {"slug": "", "user": "u"}, "/v1/projects?user=u&token=TOK"),
        ("get_activities", {"slug": "code"}, "/v1/activities/code?token=TOK"),
        ("get_activities", {"include_revisions": "false"}, "/v1/activities?include_revisions=true&token=TOK"),
    ],
)
def test_slug_list_requests(
    ts: pymesync.TimeSync, recording_server: RecordingServer, method: str, query: object, target: str
) -> None:
    recording_server.reply(Reply.json(200, []))
    assert getattr(ts, method)(query) == []
    assert recording_server.last.target == target


def test_get_users_and_encoded_token(recording_server: RecordingServer) -> None:
    ts = pymesync.TimeSync(recording_server.base_url, token="ab+c/d==")
    recording_server.reply(Reply.json(200, []), Reply.json(200, []))
    ts.get_users()
    ts.get_users("a+b/c")
    assert [r.target for r in recording_server.requests] == [
        "/v1/users?token=ab%2Bc%2Fd%3D%3D",
        "/v1/users/a%2Bb%2Fc?token=ab%2Bc%2Fd%3D%3D",
    ]


# --- create, update, delete ---------------------------------------------------------------------------


def test_create_time_body(ts: pymesync.TimeSync, recording_server: RecordingServer) -> None:
    time = {
        "duration": "1h",
        "user": "user",
        "project": "hp",
        "activities": ["dev"],
        "date_worked": "2016-04-01",
    }
    created = {**time, "duration": 3600, "uuid": "u-1", "revision": 1}
    recording_server.reply(Reply.json(200, created))
    assert ts.create_time(time) == created
    request = recording_server.last
    assert (request.method, request.target) == ("POST", "/v1/times")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "auth": {"type": "token", "token": TOKEN},
        "object": {
            "duration": 3600,
            "user": "user",
            "project": "hp",
            "activities": ["dev"],
            "date_worked": "2016-04-01",
        },
    }
    assert list(request.json["object"]) == list(time)
    assert time["duration"] == "1h"


@pytest.mark.parametrize(
    ("method", "args", "target", "sent"),
    [
        ("update_time", ({"duration": 60}, "a/b"), "/v1/times/a%2Fb", {"duration": 60}),
        ("update_project", ({}, "my slug"), "/v1/projects/my%20slug", {}),
        ("create_project", ({"name": "n", "slugs": ["s"]},), "/v1/projects", {"name": "n", "slugs": ["s"]}),
        ("create_activity", ({"name": "n", "slug": "s"},), "/v1/activities", {"name": "n", "slug": "s"}),
        ("update_activity", ({"name": "n"}, "s&t"), "/v1/activities/s%26t", {"name": "n"}),
        ("update_user", ({"email": "e@x"}, "bob"), "/v1/users/bob", {"email": "e@x"}),
    ],
)
def test_post_targets_and_bodies(
    ts: pymesync.TimeSync,
    recording_server: RecordingServer,
    method: str,
    args: tuple,
    target: str,
    sent: dict,
) -> None:
    recording_server.reply(Reply.json(200, {"ok": True}))
    assert getattr(ts, method)(*args) == {"ok": True}
    request = recording_server.last
    assert (request.method, request.target) == ("POST", target)
    assert request.json == {"auth": {"type": "token", "token": TOKEN}, "object": sent}


def test_update_with_empty_identifier_never_posts(
    ts: pymesync.TimeSync, recording_server: RecordingServer
) -> None:
    assert ts.update_time({"duration": 1}, "") == E("missing uuid; please add to method call")
    assert ts.update_user({}, None) == E("missing username; please add to method call")
    assert recording_server.requests == []


def test_create_user_sends_a_bcrypt_hash(ts: pymesync.TimeSync, recording_server: RecordingServer) -> None:
    long_password = "é" * 40  # 80 bytes in UTF-8: only the first 72 count, as at login
    user = {"username": "bob", "password": long_password, "site_admin": False}
    ts.create_user(user)
    ts.update_user({"password": b"raw-bytes"}, "bob")
    created, updated = (r.json["object"] for r in recording_server.requests)
    assert user == {"username": "bob", "password": long_password, "site_admin": False}
    for sent, plain in (
        (created["password"], long_password.encode()[:72]),
        (updated["password"], b"raw-bytes"),
    ):
        assert isinstance(sent, str)
        assert len(sent) == 60
        assert sent.startswith(("$2a$10$", "$2b$10$"))
        assert bcrypt.checkpw(plain, sent.encode())
    assert created["username"] == "bob"
    assert list(created) == ["username", "password", "site_admin"]


@pytest.mark.parametrize(
    ("method", "ident", "target"),
    [
        ("delete_time", "u 1", "/v1/times/u%201?token=TOK"),
        ("delete_project", "p?x", "/v1/projects/p%3Fx?token=TOK"),
        ("delete_activity", "a#b", "/v1/activities/a%23b?token=TOK"),
        ("delete_user", "b=c%", "/v1/users/b%3Dc%25?token=TOK"),
    ],
)
def test_delete_requests(
    ts: pymesync.TimeSync, recording_server: RecordingServer, method: str, ident: str, target: str
) -> None:
    recording_server.reply(Reply(200, b"", None))
    result = getattr(ts, method)(ident)
    assert result == {"status": 200}
    assert type(result) is dict
    request = recording_server.last
    assert (request.method, request.target, request.body) == ("DELETE", target, b"")


# --- project_users and token_expiration_time ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "users": {
                    "admin": {"member": True, "spectator": True, "manager": True},
                    "user": {"member": True},
                }
            },
            {"admin": ["member", "spectator", "manager"], "user": ["member"]},
        ),
        (
            {"users": {"a": {"manager": True, "member": 1, "spectator": "yes"}, "b": "junk"}},
            {"a": ["manager"], "b": []},
        ),
        ({"users": ["not", "a", "dict"]}, {}),
        ({"name": "no users"}, {}),
    ],
)
def test_project_users(
    ts: pymesync.TimeSync, recording_server: RecordingServer, body: object, expected: dict
) -> None:
    recording_server.reply(Reply.json(200, body))
    assert ts.project_users("my proj") == expected
    assert recording_server.last.target == "/v1/projects/my%20proj?token=TOK"


def test_project_users_returns_failures_as_they_are(
    ts: pymesync.TimeSync, recording_server: RecordingServer
) -> None:
    error = {"status": 404, "error": "Object not found", "text": "Nonexistent project"}
    recording_server.reply(Reply.json(404, error), Reply(500, b"oops", "text/plain"))
    assert ts.project_users("nope") == error
    assert ts.project_users("nope") == E(
        f"connection to TimeSync failed at baseurl {recording_server.base_url} - response status was 500"
    )


def test_token_expiration_time_sends_nothing(recording_server: RecordingServer) -> None:
    payload = base64.b64encode(json.dumps({"exp": 1452714334087}).encode()).decode()
    ts = pymesync.TimeSync(recording_server.base_url, token=f"h.{payload}.s")
    assert ts.token_expiration_time() == datetime.datetime.fromtimestamp(1452714334.087)
    ts.token = "not-a-token"
    assert ts.token_expiration_time() == E("improperly encoded token")
    assert recording_server.requests == []
    assert ts._transport is None


# --- response conversion (§2.6) -----------------------------------------------------------------------


def status_error(server: RecordingServer, status: int) -> dict[str, str]:
    return E(f"connection to TimeSync failed at baseurl {server.base_url} - response status was {status}")


CONVERSIONS = [
    (Reply.json(200, {"token": "x"}), {"token": "x"}, [{"token": "x"}]),
    (Reply.json(404, ERROR_404), ERROR_404, [ERROR_404]),
    (Reply.json(401, ERROR_401), ERROR_401, [ERROR_401]),
    (Reply.json(200, [{"a": 1}]), 200, [{"a": 1}]),
    (Reply.json(200, []), 200, []),
    (Reply(200, b"", None), {"status": 200}, [{"status": 200}]),
    (Reply(204, b"", None), {"status": 204}, [{"status": 204}]),
    (Reply(201, b"", None), {"status": 201}, [{"status": 201}]),
    (Reply(404, b"", None), 404, 404),
    (Reply(502, b"<html><body>Bad Gateway</body></html>", "text/html"), 502, 502),
    (Reply(200, b"<html>ok</html>", "text/html"), 200, 200),
    (Reply(200, b"42", "application/json"), 200, 200),
    (Reply(200, b'"text"', "application/json"), 200, 200),
    (Reply(200, b"null", "application/json"), 200, 200),
    (Reply(200, b'{"a": NaN}', "application/json"), 200, 200),
    (Reply(200, b"\xff\xfe\xfa", "application/json"), 200, 200),
    (
        Reply(400, b'{"status": 400, "error": "Bad object"}', "text/html"),
        {"status": 400, "error": "Bad object"},
        None,
    ),
    (Reply(200, b'\xef\xbb\xbf{"bom": true}', "application/json"), {"bom": True}, None),
    (Reply(200, '{"é": "ü"}'.encode("latin-1"), "application/json; charset=latin-1"), {"é": "ü"}, None),
]


@pytest.mark.parametrize(("reply", "as_dict", "as_list"), CONVERSIONS)
def test_response_conversion(
    ts: pymesync.TimeSync, recording_server: RecordingServer, reply: Reply, as_dict: object, as_list: object
) -> None:
    recording_server.reply(reply, reply)
    expected_dict = status_error(recording_server, as_dict) if isinstance(as_dict, int) else as_dict
    result = ts.create_activity({"name": "n", "slug": "s"})
    assert result == expected_dict
    assert type(result) is dict
    listed = ts.get_activities()
    if as_list is None:
        as_list = [as_dict]
    expected_list = [status_error(recording_server, as_list)] if isinstance(as_list, int) else as_list
    assert listed == expected_list
    assert type(listed) is list


def test_redirects_are_not_followed(ts: pymesync.TimeSync, recording_server: RecordingServer) -> None:
    elsewhere = {"Location": "http://127.0.0.1:9/steal"}
    recording_server.reply(
        Reply(302, b"", None, elsewhere),
        Reply(301, b"moved", "text/plain", elsewhere),
        Reply(307, b"", None, elsewhere),
    )
    assert ts.get_times() == [status_error(recording_server, 302)]
    assert ts.delete_time("x") == status_error(recording_server, 301)
    assert ts.create_activity({"name": "n", "slug": "s"}) == status_error(recording_server, 307)
    assert len(recording_server.requests) == 3


# --- connections --------------------------------------------------------------------------------------


def test_keep_alive_reuses_one_connection(ts: pymesync.TimeSync, recording_server: RecordingServer) -> None:
    recording_server.default = Reply.json(200, {"ok": True})
    ts.get_times()
    ts.create_time({"duration": 1, "project": "p", "user": "u", "date_worked": "2016-01-01"})
    ts.get_users("bob")
    ts.delete_time("x")
    ts.project_users("p")
    assert len(recording_server.requests) == 5
    assert recording_server.connections == 1
    ts.close()
    ts.get_times()
    assert recording_server.connections == 2


def test_context_manager_closes_the_pool(recording_server: RecordingServer) -> None:
    with pymesync.TimeSync(recording_server.base_url, token=TOKEN) as ts:
        ts.get_times()
        assert ts._transport is not None
    assert ts._transport is None


def test_baseurl_and_token_are_read_at_call_time(recording_server: RecordingServer) -> None:
    ts = pymesync.TimeSync("http://127.0.0.1:9/v1", token="first")
    ts.baseurl = recording_server.base_url
    ts.token = "second"
    recording_server.reply(Reply.json(200, []))
    ts.get_users()
    assert recording_server.last.target == "/v1/users?token=second"
