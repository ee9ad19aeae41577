"""Where the command line keeps its files, and how it writes them (atomically, private when asked).

``TIMESYNC_CONFIG_DIR`` puts everything (config, state, cache) under one directory; otherwise the
platform's user config, state and cache directories are used.

Paths are strings handled with ``os.path``, here only: ``pathlib`` costs 0.8 ms to import, which every
command would pay for a few file names.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

APP_NAME = "timesync"


def _override() -> str | None:
    value = os.environ.get("TIMESYNC_CONFIG_DIR")
    return os.path.expanduser(value) if value else None


def config_dir() -> str:
    override = _override()
    return override if override is not None else _platform_dir("config")


def state_dir() -> str:
    """The running timer and the undo journal: kept across reboots."""
    override = _override()
    return os.path.join(override, "state") if override is not None else _platform_dir("state")


def cache_dir() -> str:
    """Cached tokens and the recent-entries list: safe to delete at any time."""
    override = _override()
    return os.path.join(override, "cache") if override is not None else _platform_dir("cache")


#: On Linux, platformdirs takes each directory from an XDG variable, else the default under the home.
_XDG = {
    "config": ("XDG_CONFIG_HOME", "~/.config"),
    "state": ("XDG_STATE_HOME", "~/.local/state"),
    "cache": ("XDG_CACHE_HOME", "~/.cache"),
}


def _platform_dir(kind: str) -> str:
    """The platform's user directory of ``kind`` (config, state, cache) for the command line.

    On Linux, found as platformdirs finds it (a test holds the two together), without importing it: 7 ms,
    ``pathlib`` with it, for every command. Elsewhere, and for anything unusual (a relative or padded
    XDG value, no absolute home directory, Android), platformdirs itself decides.
    """
    variable, default = _XDG[kind]
    value, home = os.environ.get(variable, ""), os.environ.get("HOME", "")
    plain_value = not value or (os.path.isabs(value) and value == value.strip())
    if sys.platform == "linux" and os.path.isabs(home) and plain_value and not _maybe_android():
        return os.path.join(value or os.path.expanduser(default), APP_NAME)
    import platformdirs

    found: str = getattr(platformdirs, f"user_{kind}_dir")(APP_NAME, appauthor=False)
    return found


def _maybe_android() -> bool:
    return hasattr(sys, "getandroidapilevel") or "ANDROID_DATA" in os.environ


def config_file(name: str) -> str:
    return os.path.join(config_dir(), name)


def state_file(name: str) -> str:
    return os.path.join(state_dir(), name)


def cache_file(name: str) -> str:
    return os.path.join(cache_dir(), name)


def beside(path: str, name: str) -> str:
    """The file called ``name`` in the directory of ``path``."""
    return os.path.join(os.path.dirname(path), name)


def make_parent(path: str, *, private: bool = False) -> None:
    """Create the directory of ``path`` (0700 when ``private``) and its parents when missing."""
    os.makedirs(os.path.dirname(path), mode=0o700 if private else 0o777, exist_ok=True)


def remove(path: str) -> None:
    """Delete ``path``; a file that is not there is fine."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def profile_file_part(profile: str) -> str:
    """A profile's name as it may appear in a file name: letters, digits, - and _ kept, the rest _."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in profile)


def outbox_path(profile: str) -> str:
    """The changes waiting to be sent (see :mod:`._outbox`); no file means none."""
    return state_file(f"outbox-{profile_file_part(profile)}.sqlite")


@contextlib.contextmanager
def open_atomic(path: str, *, private: bool = False) -> Iterator[TextIO]:
    """A text file that replaces ``path`` in one step when the block ends, and vanishes if it fails.

    Readers see the old file or the new one, never half; the temporary file (next to ``path``) gets its
    mode (0600 when ``private``) before any content is written.
    """
    # what tempfile.mkstemp does, without importing it (shutil and the compression modules come with it,
    # a few milliseconds that log and edit would pay for one small file)
    temp = beside(path, f".{os.path.basename(path)}.{os.urandom(6).hex()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.fchmod(fd, 0o600 if private else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def write_atomic(path: str, data: bytes, *, private: bool = False) -> None:
    """Replace ``path`` with ``data`` (UTF-8) atomically, creating its directory (0700) when missing."""
    make_parent(path, private=True)
    with open_atomic(path, private=private) as handle:
        handle.write(data.decode())


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def read_json(path: str) -> Any:
    """The JSON in ``path``, or None when it is missing or unreadable (these files are only caches)."""
    try:
        return json.loads(read_bytes(path))
    except (OSError, ValueError):
        return None


def write_json(path: str, value: Any, *, private: bool = False) -> None:
    write_atomic(path, json.dumps(value, indent=1, sort_keys=True).encode(), private=private)


def read_toml(path: str) -> dict[str, Any]:
    """The TOML table in ``path`` ({} when missing); ValueError with the path when it is malformed."""
    toml = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")
    try:
        with open(path, "rb") as handle:
            data: dict[str, Any] = toml.load(handle)
            return data
    except FileNotFoundError:
        return {}
    except toml.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None


def read_toml_remembered(path: str) -> dict[str, Any]:
    """:func:`read_toml`, kept as JSON in the cache directory while the file stays the same (its inode,
    size and modification time): the config is read by every command, and importing the TOML parser
    costs more than the rest of that reading."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return {}
    stamp = [path, stat.st_ino, stat.st_size, stat.st_mtime_ns]
    stem = os.path.splitext(os.path.basename(path))[0]
    copy = cache_file(f"{stem}-parsed.json")
    saved = read_json(copy)
    if isinstance(saved, dict) and saved.get("stamp") == stamp and isinstance(saved.get("data"), dict):
        data: dict[str, Any] = saved["data"]
        return data
    data = read_toml(path)
    with contextlib.suppress(OSError, TypeError, ValueError):  # only a cache (a TOML date is no JSON)
        write_json(copy, {"stamp": stamp, "data": data})
    return data


def _toml_key(key: str) -> str:
    bare = key and all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in key)
    return key if bare else json.dumps(key)


def dump_toml(table: dict[str, Any]) -> str:
    """TOML for a table of strings, booleans, numbers and sub-tables (all the config ever holds).

    JSON string escapes are valid TOML basic-string escapes, so ``json.dumps`` quotes the values.
    """
    lines: list[str] = []

    def walk(prefix: str, current: dict[str, Any]) -> None:
        scalars = {k: v for k, v in current.items() if not isinstance(v, dict)}
        if prefix and (scalars or not current):
            lines.append(f"\n[{prefix}]")
        for key, value in scalars.items():
            lines.append(f"{_toml_key(key)} = {json.dumps(value, ensure_ascii=False)}")
        for key, value in current.items():
            if isinstance(value, dict):
                walk(f"{prefix}.{_toml_key(key)}" if prefix else _toml_key(key), value)

    walk("", table)
    return "\n".join(lines).lstrip("\n") + "\n"
