"""The ``timesync`` group: global options, lazily loaded subcommands, and exit-code handling."""

from __future__ import annotations

import atexit
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from pymesync.cli._errors import ExitCode, describe, exit_code_for
from pymesync.errors import TimeSyncError

#: section → command → (module, attribute, one-line help); the help text is here so that ``--help`` lists
#: every command without importing any of them.
SECTIONS: dict[str, dict[str, tuple[str, str, str]]] = {
    "Setup": {
        "login": ("_setup", "login", "Log in to a TimeSync server and save the credentials."),
        "logout": ("_setup", "logout", "Forget the saved password and token of a profile."),
        "whoami": ("_setup", "whoami", "Show the server, user and profile in use."),
        "config": ("_setup", "config", "Read or change settings (get, set, path)."),
        "completion": ("_setup", "completion", "Print the shell completion script (bash, zsh, fish)."),
    },
    "Logging time": {
        "log": ("_log", "log", "Log time: timesync log 1h30m PROJECT [ACTIVITY...]."),
    },
    "Timers": {
        "start": ("_timer", "start", "Start a timer on a project."),
        "stop": ("_timer", "stop", "Stop the timer and log its time."),
        "cancel": ("_timer", "cancel", "Drop the running timer without logging anything."),
        "status": ("_timer", "status", "Show the timer and today's and this week's totals."),
    },
    "Browsing and fixing": {
        "ls": ("_browse", "ls", "List entries, with daily subtotals."),
        "show": ("_browse", "show", "Show one entry."),
        "edit": ("_browse", "edit", "Change an entry (or 'last')."),
        "rm": ("_browse", "rm", "Delete entries."),
        "undo": ("_browse", "undo", "Revert the last change made with this command line."),
        "sync": ("_sync", "sync", "Send changes queued offline; refresh the local copy of your entries."),
    },
    "Reports": {
        "report": ("_report", "report", "Totals per day, week, month, project, activity or user."),
        "today": ("_browse", "today", "Today's entries and total."),
        "week": ("_report", "week", "This week's hours per day and project."),
    },
    "Export and import": {
        "export": ("_transfer", "export", "Write entries as CSV, JSON, NDJSON or Markdown."),
        "import": ("_transfer", "import_", "Create the entries of an export file; a re-run creates nothing."),
    },
    "Catalogue": {
        "projects": (
            "_catalogue",
            "projects",
            "Projects and their members: ls, show, add, update, rm, members.",
        ),
        "activities": ("_catalogue", "activities", "Activities: ls, add, update, rm."),
        "users": ("_catalogue", "users", "Users: ls, show, add, update, rm."),
    },
}

_COMMANDS = {name: spec for section in SECTIONS.values() for name, spec in section.items()}


class TimesyncGroup(click.Group):
    """Loads a subcommand's module only when it runs, and turns every failure into an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = _COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module = importlib.import_module(f"pymesync.cli.{spec[0]}")
        command: click.Command = getattr(module, spec[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        for section, commands in SECTIONS.items():
            with formatter.section(section):
                formatter.write_dl([(name, spec[2]) for name, spec in commands.items()])

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> NoReturn:
        try:
            result = super().main(args, prog_name or "timesync", complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Abort as exc:
            if isinstance(exc.__cause__, KeyboardInterrupt):
                sys.exit(ExitCode.INTERRUPTED)
            click.echo("Aborted.", err=True)
            sys.exit(ExitCode.ERROR)
        except KeyboardInterrupt:
            click.echo("", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        except TimeSyncError as exc:
            if _VERBOSE:
                import traceback

                traceback.print_exc()
            click.echo(f"Error: {describe(exc)}", err=True)
            sys.exit(exit_code_for(exc))
        except BrokenPipeError:  # `timesync ls | head`: the reader left, which is not an error
            sys.stderr.close()
            sys.exit(ExitCode.OK)
        sys.exit(result if isinstance(result, int) else ExitCode.OK)


_VERBOSE = 0


@click.group(name="timesync", cls=TimesyncGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--profile", "-P", metavar="NAME", help="Profile to use (default: from config, or 'default').")
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour output; auto respects NO_COLOR and TERM=dumb.",
)
@click.option("-v", "--verbose", count=True, help="Show details of failures (tracebacks).")
@click.option("--no-input", is_flag=True, help="Never prompt; fail instead when something is missing.")
@click.version_option(package_name="pymesync", prog_name="timesync")
@click.pass_context
def cli(ctx: click.Context, profile: str | None, color: str, verbose: int, no_input: bool) -> None:
    """Log and report time on a TimeSync server.

    Start with 'timesync login', then 'timesync log 1h30m PROJECT' and 'timesync week'.
    """
    global _VERBOSE
    _VERBOSE = verbose
    from pymesync.cli._app import App

    ctx.obj = App.create(ctx, profile=profile, color=color, verbose=verbose, no_input=no_input)


def main() -> NoReturn:
    """The ``timesync`` console script: the command, then the end of the process (see :func:`_end`)."""
    try:
        cli.main()
    except SystemExit as done:
        _end(done)


def _end(done: SystemExit) -> NoReturn:
    """End the process at once, without Python's teardown, when nothing needs it.

    Tearing the interpreter down frees every module and object one by one: a fifth of a ``timesync log``.
    When a command returns, its files, databases and connections are closed already (by ``finally``
    blocks and the context's close callbacks), so flushing the output is all that is left. The normal
    exit still happens when something may need it: a code that is not a number, another thread still
    running, a function registered with :mod:`atexit` (by a library), or output that cannot be flushed.
    """
    code = done.code
    threading = sys.modules.get("threading")
    if (
        not isinstance(code, int)
        or (threading is not None and threading.active_count() > 1)
        or getattr(atexit, "_ncallbacks", lambda: 1)()  # CPython's count; elsewhere assume some
    ):
        raise done
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # a closed or broken pipe: the normal exit reports it as it always did
        raise done from None
    os._exit(code)
