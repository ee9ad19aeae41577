"""The error catalogue of the API doc §6, word for word.

Every failure a handler can report is an :class:`ApiError`; the app turns it into the JSON body
``{"status", "error", "text"[, "values"]}`` with the same HTTP status. Keeping each template in
one function here means a changed word shows up in one place only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class ApiError(Exception):
    """An error response of the catalogue."""

    def __init__(
        self,
        status: int,
        error: str,
        text: str,
        values: Sequence[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {error}")
        self.status = status
        self.error = error
        self.text = text
        self.values = list(values) if values is not None else None
        self.headers = dict(headers or {})

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"status": self.status, "error": self.error, "text": self.text}
        if self.values is not None:
            body["values"] = self.values
        return body


def not_found(thing: str) -> ApiError:
    """#1; ``thing`` is time, project, activity, user, or uuid/slug on the DELETE endpoints."""
    return ApiError(404, "Object not found", f"Nonexistent {thing}")


def server_error() -> ApiError:
    return ApiError(500, "Server error", "Unexpected server error.")


def try_again() -> ApiError:
    """Ours: a write that kept meeting concurrent writes, or found the database busy. Nothing
    of it was stored; the same request may simply be sent again."""
    return ApiError(
        503,
        "Service unavailable",
        "The server is busy with concurrent changes and stored nothing; retry the request.",
        headers={"Retry-After": "1"},
    )


def cannot_store() -> ApiError:
    """Ours: the database cannot store data now (its disk is full, it is read-only, or it is
    starting or out of resources). Nothing was stored; reads usually still work, and writes
    work again by themselves once the operator has fixed the database."""
    return ApiError(
        503,
        "Service unavailable",
        "The server cannot store data right now and stored nothing; retry the request later.",
        headers={"Retry-After": "30"},
    )


def server_busy() -> ApiError:
    """Too many password checks at once (see :class:`auth.BcryptGate`); not in the reference."""
    return ApiError(
        503, "Service unavailable", "Too many logins at once; try again shortly", headers={"Retry-After": "1"}
    )


def invalid_foreign_key(kind: str, key: str) -> ApiError:
    return ApiError(409, "Invalid foreign key", f"The {kind} does not contain a valid {key} reference.")


def unknown_field(kind: str, field: str) -> ApiError:
    return ApiError(400, "Bad object", f"{kind} does not have a {field} field")


def missing_field(kind: str, field: str) -> ApiError:
    return ApiError(400, "Bad object", f"The {kind} is missing a {field}")


def invalid_field(kind: str, field: str, expected: str, received: str) -> ApiError:
    return ApiError(
        400, "Bad object", f"Field {field} of {kind} should be {expected} but was sent as {received}"
    )


def unparsable_body() -> ApiError:
    return ApiError(400, "Bad object", "The request body could not be parsed as valid JSON")


def body_too_large(limit: int) -> ApiError:
    return ApiError(413, "Bad object", f"The request body is larger than {limit} bytes")


def invalid_identifier(kind: str, identifier: str) -> ApiError:
    return ApiError(
        400,
        "The provided identifier was invalid",
        f"Expected {kind} but received {identifier}",
        [identifier],
    )


def authentication_failure(text: str) -> ApiError:
    return ApiError(401, "Authentication failure", text)


def missing_credentials() -> ApiError:
    return authentication_failure("Missing credentials")


def bad_token() -> ApiError:
    return authentication_failure("Bad API token")


def bad_auth_type(auth_type: str) -> ApiError:
    return ApiError(401, "Bad query value", f"{auth_type} is not a valid authentication type")


def slugs_exist(slugs: Sequence[str]) -> ApiError:
    ordered = sorted(slugs)
    if len(ordered) == 1:
        text = f"slug {ordered[0]} already exists"
    else:
        text = f"slugs {', '.join(ordered)} already exist"
    return ApiError(409, "The slug provided already exists", text, ordered)


def not_authorized(caller: str, action: str) -> ApiError:
    return ApiError(401, "Authorization failure", f"{caller} is not authorized to {action}")


def method_not_allowed(kind: str) -> ApiError:
    return ApiError(
        405,
        "Method not allowed",
        f"The method specified is not allowed for the {kind} identified",
        headers={"Allow": "GET, POST"},
    )


def bad_query_value(key: str, value: str) -> ApiError:
    return ApiError(400, "Bad query value", f"Parameter {key} contained invalid value {value}")


def username_exists(username: str) -> ApiError:
    return ApiError(409, "Username already exists", f"username {username} already exists", [username])


def not_unique_name(kind: str) -> ApiError:
    return invalid_field(kind, "name", "unique name", "name which already exists")


class ConfigError(ValueError):
    """A setting the server cannot start with; the message is one line for the operator and
    never contains a secret."""
