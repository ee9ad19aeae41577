"""``python -m pymesync.cli``: the same as the ``timesync`` command."""

from pymesync.cli import main

main()
