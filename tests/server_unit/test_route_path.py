"""``app.route_path``: routing on the raw path, one percent-decoded segment at a time."""

from __future__ import annotations

from urllib.parse import quote, unquote

import pytest

from pymesync.server.app import route_path


@pytest.mark.parametrize(
    ("raw", "routed"),
    [
        (b"/v1/times", "/v1/times"),
        (b"/v1/projects/a%2Fb", "/v1/projects/a%2Fb"),
        (b"/v1/projects/a%2fb", "/v1/projects/a%2Fb"),
        (b"/v1/projects/a%25b", "/v1/projects/a%25b"),
        (b"/v1/projects/a%3Fb", "/v1/projects/a?b"),
        (b"/v1/projects/a%23b", "/v1/projects/a#b"),
        (b"/v1/projects/a%20b", "/v1/projects/a b"),
        (b"/v1/projects/a+b", "/v1/projects/a+b"),
        (b"/v1/users/%C3%A9", "/v1/users/\u00e9"),
        (b"/v1/users/%ZZ", "/v1/users/%25ZZ"),
        (b"/v1/users/%FF", "/v1/users/\ufffd"),
        (b"/v1/projects/a/b", "/v1/projects/a/b"),
        (b"/v1/projects/", "/v1/projects/"),
    ],
)
def test_route_path(raw: bytes, routed: str) -> None:
    assert route_path(raw) == routed


@pytest.mark.parametrize("segment", ["a/b", "a%b", "%2F", "a%2Fb", "50%", "a?b#c d+e", "\u00e9/%"])
def test_segments_round_trip(segment: str) -> None:
    """What the router matched, unquoted, is the segment the client percent-encoded."""
    [_, routed] = route_path(b"/" + quote(segment, safe="").encode()).split("/")
    assert unquote(routed) == segment
