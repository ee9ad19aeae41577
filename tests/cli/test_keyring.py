"""The password in a real Secret Service: gnome-keyring under its own D-Bus session, as on a desktop."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pymesync.server.testing import RunningServer

from .conftest import USER, environment

NEEDED = ("dbus-run-session", "gnome-keyring-daemon")
pytestmark = pytest.mark.skipif(
    any(shutil.which(name) is None for name in NEEDED),
    reason="needs dbus-run-session and gnome-keyring-daemon (apt-get install dbus gnome-keyring)",
)


def test_login_stores_the_password_in_the_secret_service(server: RunningServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = environment(home)
    del env["PYTHON_KEYRING_BACKEND"]  # let keyring find the Secret Service
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"), XDG_RUNTIME_DIR=str(tmp_path))
    timesync = shlex.join([sys.executable, "-m", "pymesync.cli"])
    script = f"""
        set -e
        echo -n unlock | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 99
        echo {shlex.quote(USER[1])} | {timesync} login -s {server.base_url} -u {USER[0]} --password-stdin
        rm {shlex.quote(str(home / "cache"))}/token-*.json   # force a login from the keyring's password
        {timesync} whoami --json
        {timesync} logout
    """
    done = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode == 99:
        pytest.skip(f"gnome-keyring-daemon did not start here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert "password saved in the system keyring" in done.stderr
    assert '"password_store": "keyring"' in done.stdout
    assert not (home / "credentials.toml").exists() or USER[1] not in (home / "credentials.toml").read_text()
