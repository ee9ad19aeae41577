"""Exit codes, and the one place where a failure becomes a one-line message and one of them."""

from __future__ import annotations

import enum

import click

from pymesync import errors


class ExitCode(enum.IntEnum):
    """Documented in docs/cli.md; scripts rely on them, so they never change meaning."""

    OK = 0
    ERROR = 1
    USAGE = 2
    PARTIAL = 3
    AUTHENTICATION = 4
    NOT_FOUND = 5
    CONFLICT = 6
    UNREACHABLE = 7
    INTERRUPTED = 130


class CliError(click.ClickException):
    """A failure worded for the user, with the exit code it means."""

    def __init__(self, message: str, code: ExitCode = ExitCode.ERROR) -> None:
        super().__init__(message)
        self.code = code

    @property
    def exit_code(self) -> int:  # type: ignore[override]  # read-only: each error has its own code
        return int(self.code)


def usage_error(message: str) -> CliError:
    return CliError(message, ExitCode.USAGE)


_CODES: tuple[tuple[type[errors.TimeSyncError], ExitCode], ...] = (
    (errors.TransportError, ExitCode.UNREACHABLE),
    (errors.AuthenticationError, ExitCode.AUTHENTICATION),
    (errors.AuthorizationError, ExitCode.AUTHENTICATION),
    (errors.NotFoundError, ExitCode.NOT_FOUND),
    (errors.ConflictError, ExitCode.CONFLICT),
    (errors.MethodNotAllowedError, ExitCode.CONFLICT),
    (errors.ValidationError, ExitCode.USAGE),
)


def exit_code_for(exc: errors.TimeSyncError) -> ExitCode:
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    return ExitCode.ERROR


def describe(exc: errors.TimeSyncError) -> str:
    """One line for the user; library messages never hold a token or password, so they can be shown."""
    if isinstance(exc, errors.TransportError):
        return f"cannot reach the TimeSync server: {exc.cause} (check the URL with 'timesync whoami')"
    if isinstance(exc, errors.AuthenticationError):
        hint = "" if "login" in exc.text else "; run 'timesync login'"
        return f"authentication failed: {exc.text or exc.error}{hint}"
    if isinstance(exc, errors.AuthorizationError):
        return f"permission denied: {exc.text}"
    from pymesync._wording import plain_time_error  # only when something went wrong

    return plain_time_error(exc.text) or exc.text or str(exc)
