"""ETags and conditional requests on single objects (our extension, see docs/server.md).

An object's ETag is its own version: ``"<revision>"`` for a live time, project or activity, and
``"<revision>-deleted"`` once deleted, so it changes with every revision and every delete. Users
have no revision; theirs is ``"u<updated_at ms>"`` (``-deleted`` once deleted). A client that only
knows the revision it read sends ``If-Match: "<revision>"``.

``If-Match`` is checked by the writers inside their transaction, after the object is locked, so
two clients sending the same ETag cannot both pass. With the extensions off, nothing here acts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row
from starlette.responses import Response

from pymesync.server import errors
from pymesync.server.context import Context, json_response


def revision_etag(row: Row[Any]) -> str:
    suffix = "-deleted" if row.deleted_at is not None else ""
    return f'"{row.revision or 1}{suffix}"'


def user_etag(row: Row[Any]) -> str:
    suffix = "-deleted" if row.deleted_at is not None else ""
    return f'"u{row.updated_at or row.created_at or 0}{suffix}"'


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def object_response(context: Context, found: object, etag: str) -> Response:
    """The GET answer for one object: with its ETag, or 304 when ``If-None-Match`` names it."""
    if not context.config.sync_extensions:
        return json_response(found)
    wanted = context.headers.get("if-none-match")
    if wanted is not None and (wanted.strip() == "*" or etag in _tags(wanted)):
        return Response(status_code=304, headers={"ETag": etag})
    return json_response(found, headers={"ETag": etag})


def check_if_match(context: Context, kind: str, etag: str) -> None:
    """Refuse the write (412, nothing changes) when ``If-Match`` names another version.

    Call it with the object locked, inside the write's transaction.
    """
    if not context.config.sync_extensions:
        return
    wanted = context.headers.get("if-match")
    if wanted is None or wanted.strip() == "*" or etag in _tags(wanted):
        return
    raise errors.ApiError(
        412,
        "Precondition failed",
        f"The {kind} changed: it is now version {etag}, not {wanted.strip()}",
        headers={"ETag": etag},
    )
