"""The ``timesync`` command line: log, time, browse and report TimeSync entries.

Only Click is imported up front; each command's module (and the HTTP client, keyring, bcrypt behind it)
loads when that command runs, so ``timesync --help`` starts about as fast as Python itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from pymesync.cli._main import cli

__all__ = ["cli", "main"]

#: New objects between two runs of the cyclic garbage collector's youngest generation (Python's is 700).
YOUNG_GENERATION = 50_000


def main() -> NoReturn:
    """The ``timesync`` console script.

    Python's collector is tuned for programs that run for long: it looks for cycles every 700 new objects.
    A command line makes most of its objects once, while importing, and keeps them until it ends; looking
    through them again and again was a tenth of a short command. So the collector runs less often here,
    from before the first import of Click; a long command (an import, an export) still collects.
    """
    import gc

    gc.set_threshold(YOUNG_GENERATION, *gc.get_threshold()[1:])
    from pymesync.cli._main import main as run

    run()


def __getattr__(name: str) -> Any:
    if name == "cli":  # the Click group, loaded only when asked for (the console script needs main only)
        from pymesync.cli._main import cli

        return cli
    raise AttributeError(f"module 'pymesync.cli' has no attribute {name!r}")
