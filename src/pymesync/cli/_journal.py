"""The undo journal: the last change this command line made, enough to revert it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pymesync.cli._files import profile_file_part, read_json, state_dir, write_json


def _path(profile: str) -> Path:
    safe = profile_file_part(profile)
    return state_dir() / f"undo-{safe}.json"


def record(profile: str, action: str, **details: Any) -> None:
    """``created`` (uuid), ``updated`` (uuid, before: old values of the changed fields), ``deleted``."""
    write_json(_path(profile), {"action": action, **details})


def last(profile: str) -> dict[str, Any] | None:
    found = read_json(_path(profile))
    return found if isinstance(found, dict) and "action" in found else None


def clear(profile: str) -> None:
    _path(profile).unlink(missing_ok=True)


def _last_created_path(profile: str) -> Path:
    return _path(profile).with_name(_path(profile).name.replace("undo-", "last-"))


def remember_created(profile: str, uuid: str | None) -> None:
    """What ``edit last`` and ``rm last`` mean: the last entry this command line created."""
    if uuid:
        write_json(_last_created_path(profile), {"uuid": uuid})


def last_created(profile: str) -> str | None:
    found = read_json(_last_created_path(profile))
    uuid = found.get("uuid") if isinstance(found, dict) else None
    return uuid if isinstance(uuid, str) else None
