"""The one object that knows about the terminal: is output a TTY, may we use colour, may we prompt.

Commands never ask ``isatty()`` themselves; they ask the :class:`Terminal`, which tests can build as
they like.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def color_wanted(choice: str, stdout_tty: bool) -> bool:
    """``--color`` first; for ``auto``, NO_COLOR (any value) and TERM=dumb turn colour off."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return stdout_tty


class Terminal:
    """What the command line may do here (a plain class: see :class:`~pymesync.cli._app.Account`)."""

    __slots__ = ("color", "no_input", "stderr_tty", "stdin_tty", "stdout_tty", "verbose")

    def __init__(
        self,
        stdout_tty: bool,
        stdin_tty: bool,
        color: bool,
        no_input: bool,
        verbose: int,
        stderr_tty: bool = False,
    ) -> None:
        self.stdout_tty = stdout_tty
        self.stdin_tty = stdin_tty
        self.color = color
        self.no_input = no_input
        self.verbose = verbose
        #: progress bars go to stderr, and only when it is a terminal
        self.stderr_tty = stderr_tty

    @classmethod
    def detect(cls, color: str, no_input: bool, verbose: int) -> Terminal:
        stdout_tty = _isatty(sys.stdout)
        stdin_tty, stderr_tty = _isatty(sys.stdin), _isatty(sys.stderr)
        return cls(stdout_tty, stdin_tty, color_wanted(color, stdout_tty), no_input, verbose, stderr_tty)

    @property
    def may_prompt(self) -> bool:
        return self.stdin_tty and not self.no_input

    @property
    def width(self) -> int:
        if not self.stdout_tty:
            return 100
        # what shutil.get_terminal_size does, without importing shutil (it costs more than this module)
        columns = os.environ.get("COLUMNS", "")
        if columns.isdigit() and int(columns) > 0:
            return int(columns)
        try:
            return os.get_terminal_size(sys.stdout.fileno()).columns or 100
        except (OSError, ValueError):
            return 100

    def out(self, text: str = "") -> None:
        """Data: to stdout."""
        click.echo(text, color=self.color)

    def info(self, text: str) -> None:
        """Messages: to stderr, so piped data stays clean."""
        click.echo(text, err=True, color=self.color)

    def style(self, text: str, **styles: Any) -> str:
        return click.style(text, **styles) if self.color else text
