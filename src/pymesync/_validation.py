"""Local checks of objects before they are sent, shared by every face.

The server validates everything again; these checks exist so that obvious mistakes come back at once
with a clear message, and so that what is sent is already in the server's format (durations as int
seconds). The messages are the documented pymesync ones, word for word.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pymesync._duration import parse_duration
from pymesync._passwords import check_password, hash_password
from pymesync._wire import is_json_serializable
from pymesync.errors import ValidationError

#: kind → (required fields in message order, optional fields)
FIELDS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "time": (("duration", "project", "user", "date_worked"), ("notes", "issue_uri", "activities")),
    "project": (("name", "slugs"), ("uri", "users", "default_activity")),
    "activity": (("name", "slug"), ()),
    "user": (
        ("username", "password"),
        (
            "display_name",
            "email",
            "site_admin",
            "site_spectator",
            "site_manager",
            "meta",
            "active",
        ),
    ),
}

USER_FLAGS: Final = ("site_admin", "site_manager", "site_spectator", "active")


def _fail(kind: str, problem: str) -> ValidationError:
    return ValidationError(f"{kind} object: {problem}")


def validate_object(kind: str, obj: object, *, create: bool) -> dict[str, Any]:
    """Check ``obj`` as a ``kind`` to create or update, and return a new dict ready to send.

    The caller's object is never modified: the result is a fresh dict in the caller's key order with
    ``duration`` as int seconds. Passwords are checked here but hashed by :func:`hash_passwords`.
    """
    if not isinstance(obj, Mapping):
        raise _fail(kind, "must be python dictionary")
    required, optional = FIELDS[kind]
    for key in obj:
        if key not in required and key not in optional:
            raise _fail(kind, f"invalid field: {key}")
    if create:
        missing = [name for name in required if name not in obj]
        if missing:
            raise _fail(kind, f"missing required field(s): {', '.join(missing)}")
    prepared = dict(obj)
    if kind == "time" and "duration" in prepared:
        try:
            prepared["duration"] = parse_duration(prepared["duration"])
        except ValueError as exc:
            problem = "duration cannot be negative" if str(exc) == "negative" else None
            raise _fail(kind, problem or "invalid duration string") from None
    if kind == "user":
        for flag in USER_FLAGS:
            if flag in prepared and not isinstance(prepared[flag], bool):
                raise _fail(kind, f"{flag} must be True or False")
        if "password" in prepared:
            problem = check_password(prepared["password"])
            if problem:
                raise _fail(kind, problem)
    for key, value in prepared.items():
        if key != "password" and not is_json_serializable(value):
            raise _fail(kind, f"{key} is not JSON serializable")
    return prepared


def hash_passwords(prepared: dict[str, Any]) -> dict[str, Any]:
    """Replace a checked plaintext ``password`` by its bcrypt hash (in place on our own copy)."""
    if "password" in prepared:
        prepared["password"] = hash_password(prepared["password"])
    return prepared
