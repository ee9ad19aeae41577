"""Small pieces for the tests' own misbehaving HTTP servers (real sockets, no mocking)."""

from __future__ import annotations

import socket


def read_request(connection: socket.socket) -> bytes:
    """Read one whole HTTP request, headers plus a Content-Length body; ``b""`` when the peer closed.

    The body is always drained: closing a socket with unread bytes in its receive buffer makes the kernel
    send a reset, which could destroy the reply before the client reads it.
    """
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
