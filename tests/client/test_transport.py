"""The HTTP/1.1 framing of the sync transport, against small real servers that answer in each way HTTP
allows (chunks, a body ended by the close, HTTP/1.0, interim answers, TLS) or breaks it."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymesync import ConnectionFailed
from pymesync._transport import SyncTransport, _has_controls, _split_any, _split_plain
from raw_http import read_request

from .conftest import RawServer

Handler = Callable[[socket.socket], None]
StartServer = Callable[[Handler], RawServer]


@pytest.fixture
def transport() -> Iterator[SyncTransport]:
    opened = SyncTransport((2.0, 2.0))
    yield opened
    opened.close()


def answering(*answers: bytes, close: bool = False) -> Handler:
    """Reply to each request on a connection with the next answer; close after the last if asked."""

    def handler(connection: socket.socket) -> None:
        for answer in answers:
            if not read_request(connection):
                return
            connection.sendall(answer)
        if close:
            connection.shutdown(socket.SHUT_WR)
        while read_request(connection):
            connection.sendall(answers[-1])

    return handler


def get(transport: SyncTransport, server: RawServer, path: str = "/x") -> tuple[int, bytes]:
    response = transport.send("GET", server.base_url + path, None, {})
    return response.status, response.body


def test_a_kept_alive_connection_carries_the_next_request(
    raw_server: StartServer, transport: SyncTransport
) -> None:
    server = raw_server(answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    assert get(transport, server) == (200, b"ok")
    assert get(transport, server) == (200, b"ok")
    assert len(server.connections) == 1


def test_a_chunked_body_is_joined(raw_server: StartServer, transport: SyncTransport) -> None:
    body = b"4;name=value\r\n[1, \r\n3\r\n2, \r\n2\r\n3]\r\n0\r\nTrailer: x\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    server = raw_server(answering(head + body))
    response = transport.send("GET", server.base_url + "/x", None, {})
    assert (response.status, response.content_type, json.loads(response.body)) == (
        200,
        "application/json",
        [1, 2, 3],
    )
    assert get(transport, server) == (200, b"[1, 2, 3]")
    assert len(server.connections) == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\n\r\nthe body ends with the connection",  # no length: read to the close
        b"HTTP/1.0 200 OK\r\nContent-Length: 33\r\n\r\nthe body ends with the connection",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 33\r\n\r\n"
        b"the body ends with the connection",
    ],
    ids=["no length", "HTTP/1.0", "Connection: close"],
)
def test_a_connection_the_server_ends_is_not_reused(
    raw_server: StartServer, transport: SyncTransport, answer: bytes
) -> None:
    def handler(connection: socket.socket) -> None:
        read_request(connection)
        connection.sendall(answer)
        connection.close()

    server = raw_server(handler)
    assert get(transport, server) == (200, b"the body ends with the connection")
    assert get(transport, server) == (200, b"the body ends with the connection")
    assert len(server.connections) == 2


def test_interim_answers_are_skipped(raw_server: StartServer, transport: SyncTransport) -> None:
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 4\r\nX-Folded: a\r\n b\r\n\r\ndone"
    )
    server = raw_server(answering(answer))
    assert get(transport, server) == (201, b"done")


def test_what_goes_on_the_wire(raw_server: StartServer, transport: SyncTransport) -> None:
    seen: list[bytes] = []

    def handler(connection: socket.socket) -> None:
        while request := read_request(connection):
            seen.append(request)
            connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    server = raw_server(handler)
    port = server.listener.getsockname()[1]
    body = b'{"a":1}'
    transport.send("POST", server.base_url + "/times?token=t%20x", body, {"Content-Type": "application/json"})
    transport.send("POST", server.base_url + "/empty", None, {})
    head, _, sent_body = seen[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1/times?token=t%20x HTTP/1.1"
    assert f"Host: 127.0.0.1:{port}" in lines and "Content-Length: 7" in lines
    assert "Content-Type: application/json" in lines and "User-Agent: pymesync/1.0" in lines
    assert sent_body == body
    assert "Content-Length: 0" in seen[1].decode()


@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid response"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok", "invalid response"),
        (b"HTTP/1.1 200 OK\r\n" + b"X-Many: 1\r\n" * 101 + b"\r\n", "invalid response"),
        (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", "invalid response"),
        (b"HTTP/1.1 200 OK\r\nbroken header\r\n\r\n", "invalid response"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "connection reset"),
        (b"SSH-2.0-OpenSSH_9.2\r\n", "connection reset"),
    ],
    ids=["chunk size", "two lengths", "headers", "long line", "no colon", "short chunk", "not http"],
)
def test_broken_framing_is_a_fixed_cause(
    raw_server: StartServer, transport: SyncTransport, answer: bytes, cause: str
) -> None:
    def handler(connection: socket.socket) -> None:
        read_request(connection)
        connection.sendall(answer)
        connection.close()

    server = raw_server(handler)
    with pytest.raises(ConnectionFailed) as info:
        get(transport, server)
    assert info.value.cause == cause


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:1/v1/a b", "http://127.0.0.1:1/v1/\x00", "http://127.0.0.1:1/é"]
)
def test_a_target_that_would_break_the_request_line_is_refused(transport: SyncTransport, url: str) -> None:
    with pytest.raises(ConnectionFailed) as info:
        transport.send("GET", url, None, {})
    assert info.value.cause == "invalid URL"


def test_importing_the_client_loads_no_http_client_or_tls() -> None:
    """What makes the transport worth having: http.client, email and ssl stay out of a command's start."""
    script = "import json, sys, pymesync.client\nprint(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True).stdout))
    assert not {"http.client", "email.parser", "ssl"} & loaded


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    subprocess.run(
        [
            "openssl",
            *request,
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def tls_server(raw_server: StartServer, cert: Path, key: Path) -> str:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def handler(connection: socket.socket) -> None:
        with context.wrap_socket(connection, server_side=True) as tls:
            while read_request(tls):
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret")

    return raw_server(handler).base_url.replace("http://", "https://")


def test_https_checks_the_certificate(
    raw_server: StartServer, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = tls_server(raw_server, *certificate) + "/x"
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    untrusting = SyncTransport((2.0, 2.0))
    with pytest.raises(ConnectionFailed) as info:
        untrusting.send("GET", url, None, {})
    assert info.value.cause == "SSL error"
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # read by OpenSSL's default verify paths
    trusting = SyncTransport((2.0, 2.0))
    try:
        assert [trusting.send("GET", url, None, {}).body for _ in range(2)] == [b"secret", b"secret"]
    finally:
        trusting.close()


def test_a_server_closing_an_idle_connection_is_noticed(raw_server: StartServer) -> None:
    closed = threading.Event()

    def handler(connection: socket.socket) -> None:
        read_request(connection)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        connection.close()
        closed.set()

    server = raw_server(handler)
    transport = SyncTransport((2.0, 2.0))
    try:
        assert get(transport, server) == (200, b"ok")
        closed.wait(2)
        assert get(transport, server) == (200, b"ok")  # a new connection, not an error
    finally:
        transport.close()


def test_a_header_that_would_split_the_request_is_refused(transport: SyncTransport) -> None:
    with pytest.raises(ConnectionFailed) as info:
        transport.send("GET", "http://127.0.0.1:1/v1/x", None, {"If-Match": '"1"\r\nX-Evil: 1'})
    assert info.value.cause == "invalid header"


_PATHS = st.text(alphabet="/abc?#=&%20 \t\r\n:@[]é", max_size=16)
_PORTS = st.sampled_from(
    ["", ":", ":80", ":0", ":00443", ":65535", ":65536", ":99999", ":٣", ":+80"]
) | st.text(alphabet=":0123456789 _-", max_size=7)
_URLS = st.one_of(
    # nearly ordinary: what a client sends, with one part made unusual at a time
    st.builds(
        "".join,
        st.tuples(
            st.sampled_from(["http://", "https://"]),
            st.text(alphabet="abcXYZ019.-", min_size=1, max_size=12),
            _PORTS,
            _PATHS,
        ),
    ),
    # anything: schemes, user info, IPv6 and other hosts
    st.builds(
        "".join,
        st.tuples(
            st.sampled_from(["http", "https", "HTTP", "hTtps", "ftp", "http:", "", "ht tp"]),
            st.sampled_from(["://", ":/", "//", ":///", ""]),
            st.sampled_from(["", "user@", "u:p@", "@", "a@b@"]),
            st.one_of(
                st.text(alphabet="abcXYZ019.-_", max_size=12),
                st.sampled_from(
                    [
                        "127.0.0.1",
                        "[::1]",
                        "[fe80::1%25eth0]",
                        "[::1",
                        "::1]",
                        "[v1.x]",
                        "exämple.org",
                        "ａ.com",
                    ]
                ),
                st.text(max_size=4),
            ),
            _PORTS,
            _PATHS,
        ),
    ),
    st.text(max_size=30).map(lambda tail: "http://" + tail),
)


def _read(split: Callable[[str], object], url: str) -> object:
    try:
        return split(url)
    except ConnectionFailed as failure:
        return failure.cause


@settings(max_examples=2000)  # cheap examples; the unusual spellings are rare among them
@given(_URLS)
def test_ordinary_urls_are_split_as_urlsplit_splits_them(url: str) -> None:
    """The URLs split without urllib.parse give what urlsplit's reading gives; the others are left to it."""
    plain = _split_plain(url)
    if plain is not None:
        assert plain == _read(_split_any, url)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/v1/times?token=a%20b", "https://Timesync.Example.org/v1", "http://localhost:80"],
)
def test_the_urls_a_client_sends_are_split_without_urllib(url: str) -> None:
    assert _split_plain(url) == _split_any(url)


@given(st.text(alphabet=st.characters(max_codepoint=0x200)))
def test_controls_are_found_in_any_text(text: str) -> None:
    assert _has_controls(text) == any(ch <= " " or ch == "\x7f" for ch in text)
