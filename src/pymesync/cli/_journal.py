"""The journal: the last change this command line made (enough to revert it) and the last entry it
created (what ``last`` names), in one file so that logging an entry writes it once."""

from __future__ import annotations

from typing import Any

from pymesync.cli._files import profile_file_part, read_json, state_file, write_json


def _path(profile: str) -> str:
    return state_file(f"journal-{profile_file_part(profile)}.json")


def _read(profile: str) -> dict[str, Any]:
    found = read_json(_path(profile))
    return found if isinstance(found, dict) else {}


def record(profile: str, action: str, **details: Any) -> None:
    """``created`` (uuid), ``updated`` (uuid, before: old values of the changed fields), ``deleted``.

    A ``created`` entry is also what ``edit last`` and ``rm last`` name from now on."""
    journal = _read(profile)
    journal["undo"] = {"action": action, **details}
    if action == "created" and details.get("uuid"):
        journal["last_created"] = details["uuid"]
    write_json(_path(profile), journal)


def last(profile: str) -> dict[str, Any] | None:
    found = _read(profile).get("undo")
    return found if isinstance(found, dict) and "action" in found else None


def clear(profile: str) -> None:
    """Forget the change to undo (it was undone); ``last`` still names the last entry created."""
    journal = _read(profile)
    if journal.pop("undo", None) is not None:
        write_json(_path(profile), journal)


def last_created(profile: str) -> str | None:
    uuid = _read(profile).get("last_created")
    return uuid if isinstance(uuid, str) else None
