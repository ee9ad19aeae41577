"""The error table: every title of the server's catalogue (api §6) maps to one class that also means what the
matching builtin means, and reading a response never puts a token in a message."""

from __future__ import annotations

import builtins

import pytest

from pymesync import (
    AuthenticationError,
    AuthorizationError,
    ConflictError,
    MethodNotAllowedError,
    NotFoundError,
    ServerError,
    TimeSyncError,
    UnexpectedResponse,
    ValidationError,
)
from pymesync._operations import read
from pymesync._wire import Response

CATALOGUE = [
    (404, "Object not found", "Nonexistent time", NotFoundError, builtins.KeyError),
    (500, "Server error", "Unexpected server error.", ServerError, None),
    (409, "Invalid foreign key", "The time does not contain a valid project reference.", ConflictError, None),
    (400, "Bad object", "time does not have a colour field", ValidationError, builtins.ValueError),
    (400, "The provided identifier was invalid", "Expected UUID but received x", ValidationError, ValueError),
    (401, "Authentication failure", "Bad API token", AuthenticationError, None),
    (401, "Bad query value", "ldap is not a valid authentication type", AuthenticationError, None),
    (409, "The slug provided already exists", "slug gwm already exists", ConflictError, None),
    (
        401,
        "Authorization failure",
        "bob is not authorized to create projects",
        AuthorizationError,
        PermissionError,
    ),
    (
        405,
        "Method not allowed",
        "The method specified is not allowed for the project identified",
        MethodNotAllowedError,
        None,
    ),
    (400, "Bad query value", "Parameter user contained invalid value nobody", ValidationError, ValueError),
    (409, "Username already exists", "username bob already exists", ConflictError, None),
]


@pytest.mark.parametrize(("status", "title", "text", "cls", "builtin"), CATALOGUE)
def test_catalogue_titles_map_to_classes(
    status: int, title: str, text: str, cls: type[TimeSyncError], builtin: type[BaseException] | None
) -> None:
    body = f'{{"status":{status},"error":"{title}","text":"{text}","values":["v"]}}'.encode()
    with pytest.raises(cls) as info:
        read(Response(status, "application/json", body))
    error = info.value
    assert (error.status, error.error, error.text, error.values) == (status, title, text, ["v"])
    assert isinstance(error, TimeSyncError)
    if builtin is not None:
        assert isinstance(error, builtin)
    assert str(error) == f"{status} {title}: {text}"


def test_bad_api_token_is_marked_as_rejected() -> None:
    body = b'{"status":401,"error":"Authentication failure","text":"Bad API token"}'
    with pytest.raises(AuthenticationError) as info:
        read(Response(401, "text/html", body))
    assert info.value.token_rejected


@pytest.mark.parametrize(
    ("response", "expected", "data"),
    [
        (Response(200, None, b""), None, None),
        (Response(200, "text/html; charset=utf-8", b'{"token":"t"}'), None, {"token": "t"}),
        (Response(200, "text/html", b"<html>"), UnexpectedResponse, None),
        (Response(404, "text/html", b"<pre>Cannot GET /v1/x</pre>"), UnexpectedResponse, None),
        (Response(502, "text/html", b"<html>Bad Gateway</html>"), ServerError, None),
    ],
)
def test_reading_responses(response: Response, expected: type[Exception] | None, data: object) -> None:
    if expected is None:
        assert read(response) == data
    else:
        with pytest.raises(expected) as info:
            read(response)
        assert getattr(info.value, "status", None) == response.status


def test_import_stays_light() -> None:
    """``import pymesync`` and touching the client names loads neither aiohttp nor bcrypt."""
    import subprocess
    import sys

    code = (
        "import sys, pymesync; pymesync.Client; pymesync.AsyncClient; pymesync.Time;"
        "print(sorted(m for m in ('aiohttp', 'bcrypt', 'urllib3') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
