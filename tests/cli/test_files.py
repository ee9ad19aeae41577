"""Where the command line's files live without ``TIMESYNC_CONFIG_DIR``: the platform's directories, found
on Linux without importing platformdirs, and always where platformdirs finds them."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import platformdirs
import pytest

from pymesync.cli._files import APP_NAME, _platform_dir

HOMES = [None, "", "/home/ann", "/home/ann/", "/", "relative/home", "~"]
VALUES = [None, "", " ", "/xdg/dir", "/xdg/dir/", " /xdg/dir", "/xdg/dir ", "relative", "~/xdg"]
KINDS = {"config": "XDG_CONFIG_HOME", "state": "XDG_STATE_HOME", "cache": "XDG_CACHE_HOME"}


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_platform_directories_are_those_platformdirs_finds(kind: str) -> None:
    for home, value in itertools.product(HOMES, VALUES):
        settings = {"HOME": home, KINDS[kind]: value}
        environ = {key: text for key, text in os.environ.items() if key not in settings}
        environ.update({key: text for key, text in settings.items() if text is not None})
        with mock.patch.dict(os.environ, environ, clear=True):
            expected = getattr(platformdirs, f"user_{kind}_dir")(APP_NAME, appauthor=False)
            assert _platform_dir(kind) == expected, settings


@pytest.mark.skipif(sys.platform != "linux", reason="found without platformdirs on Linux only")
def test_finding_them_does_not_import_platformdirs(tmp_path: Path) -> None:
    script = "import sys\nfrom pymesync.cli import _files\n"
    script += (
        "print(_files.config_dir(), _files.state_dir(), _files.cache_dir(), 'platformdirs' in sys.modules)"
    )
    environ = {key: text for key, text in os.environ.items() if not key.startswith(("TIMESYNC_", "XDG_"))}
    environ["HOME"] = str(tmp_path)
    shown = subprocess.run(
        [sys.executable, "-c", script], env=environ, capture_output=True, text=True, check=True
    )
    assert shown.stdout.split() == [
        f"{tmp_path}/.config/timesync",
        f"{tmp_path}/.local/state/timesync",
        f"{tmp_path}/.cache/timesync",
        "False",
    ]
