"""``timesync sync``: send the outbox, refresh the local copy, and show what waits for you."""

from __future__ import annotations

import click

from pymesync.cli._app import App, pass_app
from pymesync.cli._errors import CliError, ExitCode
from pymesync.cli._files import outbox_path


@click.command()
@click.option("--discard", "discarded", type=int, multiple=True, metavar="N", help="Drop queued change #N.")
@pass_app
def sync(app: App, discarded: tuple[int, ...]) -> None:
    """Send the changes queued while the server could not be reached, in order, and refresh the local
    copy of your entries. An edit whose entry changed on the server meanwhile is not applied: it is
    listed as a conflict (exit 6); look at the entry, edit it again if you still want to, and drop the
    queued edit with --discard N.
    """
    from pymesync.cli import _outbox
    from pymesync.cli._log import describe

    outbox = _outbox.Outbox(outbox_path(app.profile))
    try:
        for item_id in discarded:
            if not outbox.remove(item_id):
                raise CliError(f"no queued change #{item_id}", ExitCode.NOT_FOUND)
            app.term.info(f"Dropped queued change #{item_id}")
        flushed = _outbox.flush(app, outbox)
        changed = app.sync_entries()
        for item, entry in flushed.sent:
            app.term.out(f"Sent #{item.id}: {describe(entry)}")
        app.term.info(
            f"Local copy up to date ({changed} change{'s' if changed != 1 else ''} since the last sync)"
        )
        waiting = outbox.items(_outbox.CONFLICT, _outbox.FAILED)
    finally:
        outbox.close()
    for item in waiting:
        app.term.out(f"#{item.id} {item.state}: {item.summary()}")
        app.term.out(f"    {item.detail}")
        if item.state == _outbox.CONFLICT:
            uuid = str(item.data.get("uuid", ""))
            app.term.out(f"    now on the server: 'timesync show {uuid[:8]}'; wanted: {_wanted(item.data)}")
    if waiting:
        raise CliError(
            f"{len(waiting)} queued change(s) need you: resolve, then 'timesync sync --discard N'",
            ExitCode.CONFLICT,
        )


def _wanted(data: dict[str, object]) -> str:
    words = data.get("words")
    if not isinstance(words, dict):
        return "?"
    shown = {
        key: value for key, value in words.items() if value not in (None, [], "") and key != "base_duration"
    }
    return ", ".join(f"{key}={value}" for key, value in shown.items())
