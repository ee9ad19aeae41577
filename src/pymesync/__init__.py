"""pymesync: the Python toolkit for TimeSync.

``import pymesync`` stays light: only the error classes (:mod:`pymesync.errors`) are imported at once,
everything else the first time it is used. ``pymesync.TimeSync`` loads the legacy face, which imports the
HTTP library on its first network call; ``pymesync.Client`` and ``pymesync.AsyncClient`` load their
transport with them; bcrypt loads on the first password hash.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pymesync.errors import (
    AuthenticationError,
    AuthorizationError,
    ConflictError,
    ConnectionFailed,
    MethodNotAllowedError,
    NotFoundError,
    RequestTimeout,
    RevisionConflictError,
    ServerError,
    StartOverError,
    TimeSyncError,
    TransportError,
    UnexpectedResponse,
    ValidationError,
)

if TYPE_CHECKING:
    from pymesync._bulk import BulkResult
    from pymesync._operations import Changes
    from pymesync.aio import AsyncClient
    from pymesync.client import Client
    from pymesync.legacy import TimeSync
    from pymesync.models import Activity, Project, ProjectRole, Time, User
    from pymesync.reports import Summary

__version__ = "1.0.0.dev0"

#: public name → module that defines it, imported on first attribute access
_LAZY: dict[str, str] = {
    "TimeSync": "pymesync.legacy",
    "Client": "pymesync.client",
    "AsyncClient": "pymesync.aio",
    "Time": "pymesync.models",
    "Project": "pymesync.models",
    "Activity": "pymesync.models",
    "User": "pymesync.models",
    "ProjectRole": "pymesync.models",
    "BulkResult": "pymesync._bulk",
    "Changes": "pymesync._operations",
    "Summary": "pymesync.reports",
}

__all__ = [
    "Activity",
    "AsyncClient",
    "AuthenticationError",
    "AuthorizationError",
    "BulkResult",
    "Changes",
    "Client",
    "ConflictError",
    "ConnectionFailed",
    "MethodNotAllowedError",
    "NotFoundError",
    "Project",
    "ProjectRole",
    "RequestTimeout",
    "RevisionConflictError",
    "ServerError",
    "StartOverError",
    "Summary",
    "Time",
    "TimeSync",
    "TimeSyncError",
    "TransportError",
    "UnexpectedResponse",
    "User",
    "ValidationError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pymesync' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
