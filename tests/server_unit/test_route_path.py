"""``app.route_path``: routing on the raw path, one percent-decoded segment at a time; ``app.ApiRoutes``
finds the routes Starlette's router would."""

from __future__ import annotations

from urllib.parse import quote, unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Match

from pymesync.server.app import ApiRoutes, create_app, route_path


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


@given(st.lists(st.binary(max_size=6).map(lambda raw: raw.replace(b"%", b"")), min_size=1, max_size=4))
def test_an_unescaped_path_routes_as_sent(segments: list[bytes]) -> None:
    raw = b"/" + b"/".join(segments)
    assert route_path(raw) == "/".join(segment.decode("utf-8", "replace") for segment in raw.split(b"/"))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Starlette:
    return create_app(f"sqlite:///{tmp_path_factory.mktemp('routing')}/timesync.db", secret="s" * 40)


def _starlette_route(app: Starlette, method: str, path: str) -> tuple[BaseRoute, dict[str, object]] | None:
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    for route in app.router.routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            return route, child["path_params"]
    return None


@given(
    st.sampled_from(["GET", "HEAD", "POST", "DELETE", "PUT", "OPTIONS"]),
    st.lists(
        st.sampled_from(
            ["v0", "v1", "v2", "times", "activities", "projects", "users", "login", "changes", "x", ""]
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_api_routes_are_the_routes_starlette_would_take(
    app: Starlette, method: str, segments: list[str]
) -> None:
    """Where Starlette's router takes an API route, ApiRoutes takes it too, with the same
    parameters; anywhere else (a web page, a 404 or 405) it takes none and Starlette decides."""
    [middleware] = app.user_middleware
    routes: ApiRoutes = middleware.kwargs["routes"]
    path = "/" + "/".join(segments)
    theirs = _starlette_route(app, method, path)
    ours = routes.find(method, path)
    if theirs is not None and any(
        theirs[0] is route for section in routes.sections.values() for route in section
    ):
        assert ours is not None and ours[0] is theirs[0] and ours[1] == theirs[1]
    else:
        assert ours is None
