"""The ``timesync`` command line: log, time, browse and report TimeSync entries.

Only Click is imported up front; each command's module (and the HTTP client, keyring, bcrypt behind it)
loads when that command runs, so ``timesync --help`` starts about as fast as Python itself.
"""

from __future__ import annotations

from pymesync.cli._main import cli, main

__all__ = ["cli", "main"]
