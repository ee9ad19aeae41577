"""Upstream ``pymesync==0.2.0``, the client the benchmarks compare against, in its own venv.

The venv lives in ``.venvs/upstream`` (git ignores it) and is created on first use. Upstream's metadata pins
old exact versions (``requests==2.20.0``, ``bcrypt==3.1.7``, ``argparse``, ``pbr``), so it is installed with
``--no-deps`` next to current releases of what it imports.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

VENV = Path(__file__).resolve().parent.parent / ".venvs" / "upstream"
PACKAGES = (
    "pymesync==0.2.0",
    "requests",
    "six",
    "bcrypt",
    "urllib3",
    "idna",
    "charset_normalizer",
    "certifi",
)


def ensure_python() -> Path:
    """The upstream venv's python, creating the venv once (a lock keeps concurrent creators apart)."""
    python = VENV / "bin" / "python"
    VENV.parent.mkdir(exist_ok=True)
    with open(VENV.parent / ".upstream.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        probe = [str(python), "-c", "import pymesync, requests"]
        if not python.exists() or subprocess.run(probe, capture_output=True).returncode != 0:
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
            pip = [str(python), "-m", "pip", "install", "-q", "--no-deps", *PACKAGES]
            subprocess.run(pip, check=True)
    return python
