"""Transport failures and non-TimeSync answers, from small real servers that misbehave on purpose.

Each case runs against both colours and must raise the same class with the same fixed cause, and never show
the token or the password.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

import pytest

from pymesync import (
    AuthenticationError,
    ConnectionFailed,
    RequestTimeout,
    ServerError,
    TimeSyncError,
    UnexpectedResponse,
)
from raw_http import read_request

from .conftest import ClientFactory, RawServer

TOKEN = "SECRET.TOKEN.VALUE"
Handler = Callable[[socket.socket], None]


def stall(connection: socket.socket) -> None:
    read_request(connection)
    threading.Event().wait(5)


def reset(connection: socket.socket) -> None:
    read_request(connection)
    connection.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"tok')
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def garbage(connection: socket.socket) -> None:
    read_request(connection)
    connection.sendall(b"\x00\x01garbage that is not HTTP at all\r\n\r\n")
    connection.close()


def reply(status: int, content_type: str, body: bytes) -> Handler:
    def handler(connection: socket.socket) -> None:
        while read_request(connection):
            head = (
                f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            connection.sendall(head.encode() + body)

    return handler


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


CASES: list[tuple[str, Handler | None, type[TimeSyncError], str | None]] = [
    ("stall", stall, RequestTimeout, "read timed out"),
    ("reset", reset, ConnectionFailed, "connection reset"),
    ("garbage", garbage, ConnectionFailed, "connection reset"),
    ("refused", None, ConnectionFailed, "connection refused"),
    ("html 502", reply(502, "text/html", b"<html>Bad Gateway</html>"), ServerError, None),
    ("html 200", reply(200, "text/html", b"<html>hello</html>"), UnexpectedResponse, None),
    ("html 404", reply(404, "text/html", b"<pre>Cannot GET /v1/x</pre>"), UnexpectedResponse, None),
    ("bad json", reply(200, "application/json", b'{"token": '), UnexpectedResponse, None),
]


@pytest.mark.parametrize(("name", "handler", "expected", "cause"), CASES, ids=[case[0] for case in CASES])
@pytest.mark.parametrize("call", ["get", "create"])
def test_failures_map_to_the_same_exceptions(
    make_client: ClientFactory,
    raw_server: Callable[[Handler], RawServer],
    name: str,
    handler: Handler | None,
    expected: type[TimeSyncError],
    cause: str | None,
    call: str,
) -> None:
    baseurl = closed_port() if handler is None else raw_server(handler).base_url
    client = make_client(baseurl, token=TOKEN, timeout=(1.0, 0.5))
    with pytest.raises(expected) as info:
        if call == "get":
            client.projects.get("gwm")
        else:
            client.activities.create(name="Docs", slug="docs")
    error: Any = info.value
    if cause is not None:
        assert error.cause == cause
    for shown in (str(error), repr(error)):
        assert TOKEN not in shown and "SECRET" not in shown


def test_login_failure_hides_the_password(make_client: ClientFactory, server: Any) -> None:
    client = make_client(server.base_url, username="admin", password="wrong-secret")
    with pytest.raises(AuthenticationError) as info:
        client.users.get("admin")
    assert info.value.status == 401
    assert info.value.text == "Incorrect username or password"
    assert "wrong-secret" not in str(info.value) and "wrong-secret" not in repr(client)


def test_an_error_status_without_error_body_keeps_the_status(
    make_client: ClientFactory, raw_server: Callable[[Handler], RawServer]
) -> None:
    client = make_client(raw_server(reply(503, "text/plain", b"busy")).base_url, token=TOKEN)
    with pytest.raises(ServerError) as info:
        client.users.list()
    assert info.value.status == 503


def test_server_error_object_is_mapped(
    make_client: ClientFactory, raw_server: Callable[[Handler], RawServer]
) -> None:
    body = b'{"status":500,"error":"Server error","text":"Unexpected server error."}'
    client = make_client(raw_server(reply(500, "application/json", body)).base_url, token=TOKEN)
    with pytest.raises(ServerError) as info:
        client.times.list()
    assert (info.value.status, info.value.error, info.value.text) == (
        500,
        "Server error",
        "Unexpected server error.",
    )
