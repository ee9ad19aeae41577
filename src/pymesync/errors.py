"""One exception tree for everything pymesync raises.

Callers catch :class:`TimeSyncError` to handle any failure of ours and nothing else. Each class also
derives from the builtin that means the same thing (``KeyError`` for a missing object, ``ValueError`` for
invalid input, ``TimeoutError``/``ConnectionError`` for the network) so generic handlers keep working.
Messages never contain a token or a password: they are built from the server's error text or from fixed
strings, never from a request URL or an HTTP library's exception text.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "ConflictError",
    "ConnectionFailed",
    "MethodNotAllowedError",
    "NotFoundError",
    "RequestTimeout",
    "ServerError",
    "TimeSyncError",
    "TransportError",
    "UnexpectedResponse",
    "ValidationError",
    "error_from_body",
]


class TimeSyncError(Exception):
    """Base of every pymesync exception.

    ``status``, ``error``, ``text`` and ``values`` mirror the TimeSync error object when the server sent
    one; they are ``None`` for local or transport failures.
    """

    def __init__(
        self,
        text: str,
        *,
        status: int | None = None,
        error: str | None = None,
        values: list[Any] | None = None,
    ) -> None:
        super().__init__(text)
        self.text = text
        self.status = status
        self.error = error
        self.values = values

    def __str__(self) -> str:
        if self.error is None:
            return self.text
        return f"{self.status} {self.error}: {self.text}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class TransportError(TimeSyncError):
    """No usable HTTP response arrived; ``cause`` is a short fixed phrase such as ``read timed out``."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class ConnectionFailed(TransportError, builtins.ConnectionError):
    """The connection could not be made or was broken (refused, reset, DNS, TLS, bad URL)."""


class RequestTimeout(TransportError, builtins.TimeoutError):
    """The connect or read timeout ran out."""


class UnexpectedResponse(TimeSyncError):
    """The server answered with something that is not a TimeSync response (HTML, garbage, bad JSON)."""


class AuthenticationError(TimeSyncError):
    """Login failed, or the token is missing, invalid or expired."""

    @property
    def token_rejected(self) -> bool:
        """True when the server refused the token itself, so logging in again may help."""
        return self.text == "Bad API token"


class AuthorizationError(TimeSyncError, builtins.PermissionError):
    """The user is known but not allowed to do this."""


class NotFoundError(TimeSyncError, builtins.KeyError):
    """The object does not exist (or is not visible to this user)."""

    def __str__(self) -> str:
        return TimeSyncError.__str__(self)


class ValidationError(TimeSyncError, builtins.ValueError):
    """The object or query is invalid, found locally or by the server."""


class ConflictError(TimeSyncError):
    """A slug or username already exists, or a reference points at nothing."""


class RevisionConflictError(ConflictError):
    """The object changed since the revision an ``update``/``delete`` with ``if_revision`` was based on;
    nothing was written. Read it again and decide."""


class StartOverError(TimeSyncError):
    """A changes token the server cannot continue (another database, or its log was pruned)."""


class MethodNotAllowedError(TimeSyncError):
    """The server refuses the operation on this object (e.g. deleting a project that has times)."""


class ServerError(TimeSyncError):
    """The server failed (5xx)."""


_BY_TITLE: dict[str, type[TimeSyncError]] = {
    "Authentication failure": AuthenticationError,
    "Authorization failure": AuthorizationError,
    "Object not found": NotFoundError,
    "Bad object": ValidationError,
    "Bad query value": ValidationError,
    "The provided identifier was invalid": ValidationError,
    "Invalid username": ValidationError,
    "Invalid foreign key": ConflictError,
    "The slug provided already exists": ConflictError,
    "Username already exists": ConflictError,
    "Method not allowed": MethodNotAllowedError,
    "Precondition failed": RevisionConflictError,
    "Start over": StartOverError,
    "Server error": ServerError,
}

_BY_STATUS: dict[int, type[TimeSyncError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: AuthorizationError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: ConflictError,
    410: StartOverError,
    412: RevisionConflictError,
    413: ValidationError,
}


def error_from_body(status: int, body: Mapping[str, Any]) -> TimeSyncError:
    """Turn a TimeSync error object into the matching exception.

    The title decides first (an unknown auth type is a 401 titled ``Bad query value``, which is an
    authentication problem in substance); the status code is the fallback for unknown titles.
    """
    title = body.get("error")
    text = body.get("text")
    values = body.get("values")
    title_str = title if isinstance(title, str) else None
    text_str = text if isinstance(text, str) else ("" if text is None else repr(text))
    cls: type[TimeSyncError]
    if status == 401 and title_str == "Bad query value":
        cls = AuthenticationError
    elif title_str in _BY_TITLE:
        cls = _BY_TITLE[title_str]
    elif status >= 500:
        cls = ServerError
    else:
        cls = _BY_STATUS.get(status, TimeSyncError)
    return cls(
        text_str,
        status=status,
        error=title_str or f"HTTP {status}",
        values=values if isinstance(values, list) else None,
    )
