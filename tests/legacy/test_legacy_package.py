"""``import pymesync`` stays light, exports the legacy class and the errors, and knows its version."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import pymesync


def test_import_is_light() -> None:
    """The HTTP stack and bcrypt load on first use, not on ``import pymesync`` or on test-mode calls."""
    script = (
        "import sys, json, pymesync\n"
        "ts = pymesync.TimeSync('http://x/v1', test=True)\n"
        "ts.authenticate('u', 'p', 'password')\n"
        "ts.get_times()\n"
        "ts.create_user({'username': 'u', 'password': 'p'})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True).stdout
    loaded = set(json.loads(output))
    assert not {"urllib3", "bcrypt", "http.client", "ssl", "requests"} & loaded


def test_exports() -> None:
    from pymesync import TimeSync

    assert TimeSync is pymesync.TimeSync
    assert TimeSync.__module__ == "pymesync.legacy"
    assert "TimeSync" in dir(pymesync)
    assert issubclass(pymesync.ConnectionFailed, pymesync.TimeSyncError)


def test_version_matches_the_distribution() -> None:
    assert pymesync.__version__ == importlib.metadata.version("pymesync")
