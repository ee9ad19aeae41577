"""Transport failures (contract §2.7) from small servers that misbehave on purpose over real sockets.

Every failure comes back in the method's shape with a fixed cause, and no message ever contains the
token (raw or percent-encoded) or an HTTP library's exception text.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from legacy_servers import RawServer, RecordingServer, reset

import pymesync
from pymesync._transport import _connect_failure
from raw_http import read_request

SECRET = "s3cret+tok/en=="
RawServerFactory = Callable[[Callable[[socket.socket], None]], RawServer]


def failed(baseurl: object, cause: str) -> dict[str, str]:
    return {"pymesync error": f"connection to TimeSync failed at baseurl {baseurl} - {cause}"}


def assert_no_secret(result: object) -> None:
    text = repr(result)
    assert SECRET not in text
    assert quote(SECRET, safe="") not in text
    assert "token=" not in text


def every_network_call(ts: pymesync.TimeSync) -> list[tuple[str, Any]]:
    """One call of each network method, with the result it gave."""
    time_obj = {"duration": 60, "project": "p", "user": "u", "date_worked": "2016-01-01"}
    calls: list[tuple[str, Callable[[], Any]]] = [
        ("authenticate", lambda: ts.authenticate("u", "p", "password")),
        ("project_users", lambda: ts.project_users("p")),
        ("create_time", lambda: ts.create_time(time_obj)),
        ("update_project", lambda: ts.update_project({"name": "n"}, "p")),
        ("get_times", lambda: ts.get_times({"user": "u"})),
        ("get_projects", lambda: ts.get_projects()),
        ("get_activities", lambda: ts.get_activities({"slug": "a"})),
        ("get_users", lambda: ts.get_users("u")),
        ("delete_time", lambda: ts.delete_time("t")),
    ]
    return [(name, call()) for name, call in calls]


def assert_failed_everywhere(ts: pymesync.TimeSync, cause: str) -> None:
    expected = failed(ts.baseurl, cause)
    for name, result in every_network_call(ts):
        assert result == ([expected] if name.startswith("get_") else expected), name
        assert_no_secret(result)
        if name == "authenticate":
            ts.token = SECRET


def test_connection_refused(closed_port: int) -> None:
    ts = pymesync.TimeSync(f"http://127.0.0.1:{closed_port}/v1", token=SECRET)
    assert_failed_everywhere(ts, "connection refused")
    assert ts.token == SECRET


@pytest.mark.parametrize(
    "baseurl", [None, 42, "", "not a url", "ftp://127.0.0.1/v1", "http:///v1", b"http://x/v1"]
)
def test_unusable_baseurl(baseurl: object) -> None:
    ts = pymesync.TimeSync(baseurl, token=SECRET)
    assert_failed_everywhere(ts, "invalid URL")


def test_server_that_never_answers_times_out(raw_server: RawServerFactory) -> None:
    release = threading.Event()
    server = raw_server(lambda conn: (read_request(conn), release.wait(5)))
    ts = pymesync.TimeSync(server.base_url, token=SECRET, timeout=(1, 0.5))
    try:
        for call in (ts.get_times, lambda: ts.create_activity({"name": "n", "slug": "s"})):
            started = time.monotonic()
            result = call()
            assert time.monotonic() - started < 2
            expected = failed(server.base_url, "read timed out")
            assert result in (expected, [expected])
            assert_no_secret(result)
    finally:
        release.set()


def test_connect_timeout(raw_server: RawServerFactory) -> None:
    """A listener whose backlog is full drops new SYNs, so connecting never completes."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(8):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(listener.getsockname())
            fillers.append(filler)
        time.sleep(0.05)
        base = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        ts = pymesync.TimeSync(base, token=SECRET, timeout=(0.3, 5))
        started = time.monotonic()
        result = ts.get_users()
        assert time.monotonic() - started < 2
        assert result == [failed(base, "connection timed out")]
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_reset_mid_response(raw_server: RawServerFactory) -> None:
    def partial_then_reset(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"to')
        time.sleep(0.05)
        reset(conn)

    server = raw_server(partial_then_reset)
    ts = pymesync.TimeSync(server.base_url, token=SECRET)
    assert ts.create_activity({"name": "n", "slug": "s"}) == failed(server.base_url, "connection reset")
    assert server.connections == 1, "a POST is never retried"
    result = ts.get_times()
    assert result == [failed(server.base_url, "connection reset")]
    assert_no_secret(result)


def test_reset_before_any_reply(raw_server: RawServerFactory) -> None:
    server = raw_server(lambda conn: (read_request(conn), reset(conn)))
    ts = pymesync.TimeSync(server.base_url, token=SECRET)
    assert ts.delete_user("bob") == failed(server.base_url, "connection reset")
    assert ts.authenticate("u", "hunter2", "password") == failed(server.base_url, "connection reset")


def test_close_before_any_reply(raw_server: RawServerFactory) -> None:
    server = raw_server(lambda conn: (read_request(conn), conn.close()))
    ts = pymesync.TimeSync(server.base_url, token=SECRET)
    assert ts.get_projects() == [failed(server.base_url, "connection reset")]


def test_garbage_byte_stream(raw_server: RawServerFactory) -> None:
    def garbage(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"\x00\xff\xfe garbage that is not HTTP at all\r\n\r\n" * 20)
        conn.close()

    server = raw_server(garbage)
    ts = pymesync.TimeSync(server.base_url, token=SECRET)
    result = ts.project_users("p")
    assert result == failed(server.base_url, "connection reset")
    assert_no_secret(result)


def test_tls_to_a_plain_http_server(recording_server: RecordingServer) -> None:
    base = recording_server.base_url.replace("http://", "https://")
    ts = pymesync.TimeSync(base, token=SECRET, timeout=(1, 1))
    result = ts.get_times()
    assert result == [failed(base, "SSL error")]
    assert_no_secret(result)


@pytest.mark.parametrize(
    ("raw_reply", "as_dict"),
    [
        (
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 22\r\n\r\n"
            b"<html>502 error</html>",
            502,
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", {"status": 200}),
        (b"HTTP/1.1 204 No Content\r\n\r\n", {"status": 204}),
        (b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/x\r\nContent-Length: 0\r\n\r\n", 302),
        (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n[1,2,3]", 200),
        (b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"a": 1}', {"a": 1}),
    ],
)
def test_odd_answers_over_raw_sockets(
    raw_server: RawServerFactory, raw_reply: bytes, as_dict: object
) -> None:
    def answer(conn: socket.socket) -> None:
        while read_request(conn):
            conn.sendall(raw_reply)
            if b"Connection: close" in raw_reply:
                conn.close()
                return

    server = raw_server(answer)
    ts = pymesync.TimeSync(server.base_url, token=SECRET)
    result = ts.update_activity({"name": "n"}, "s")
    if isinstance(as_dict, int):
        assert result == failed(server.base_url, f"response status was {as_dict}")
    else:
        assert result == as_dict
    assert_no_secret(result)


def test_stale_pooled_connection_is_retried_for_get(raw_server: RawServerFactory) -> None:
    """The server answers once per connection and then closes it: a kept GET retries on a new one."""

    def answer_once(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]")
        time.sleep(0.05)
        conn.close()

    server = raw_server(answer_once)
    ts = pymesync.TimeSync(server.base_url, token=SECRET)
    assert ts.get_times() == []
    time.sleep(0.1)
    assert ts.get_times() == []
    assert server.connections == 2


@pytest.mark.parametrize(
    ("failure", "cause"),
    [
        (socket.gaierror(-2, "Name or service not known"), "host not found"),
        (ConnectionRefusedError(111, "refused"), "connection refused"),
        (TimeoutError("timed out"), "connection timed out"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "SSL error"),
        (ConnectionResetError(104, "reset"), "connection reset"),
        (OSError(f"boom with token={SECRET}"), "request failed (OSError)"),
    ],
)
def test_connect_phase_causes(failure: OSError, cause: str) -> None:
    """Causes that loopback cannot produce (no DNS is queried from tests) are pinned on the mapping."""
    mapped = _connect_failure(failure)
    assert mapped.cause == cause
    assert SECRET not in str(mapped)
