"""The options that choose entries (period, user, project, activity), shared by ls, report and export."""

from __future__ import annotations

import datetime
import functools
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import click

from pymesync._periods import ALL_TIME, PERIOD_FORMS, Period, parse_day, parse_period
from pymesync.cli._errors import usage_error

if TYPE_CHECKING:
    from types import ModuleType

    from pymesync.cli._app import App
    from pymesync.cli._cache import EntryCache
    from pymesync.models import Time
    from pymesync.reports import Gathered

F = TypeVar("F", bound=Callable[..., Any])

_SHORTCUTS = {"today": "today", "week": "week", "last_week": "last-week", "month": "month"}


def selection_options(default_period: str) -> Callable[[F], F]:
    """Adds the period and filter options; the command gets ``selection`` (a :class:`Selection` builder)."""

    def decorate(func: F) -> F:
        @click.option("--today", is_flag=True, help="Today only.")
        @click.option("--week", is_flag=True, help="This week (Monday to Sunday).")
        @click.option("--last-week", is_flag=True, help="Last week.")
        @click.option("--month", is_flag=True, help="This month.")
        @click.option("--period", metavar="PERIOD", help=f"A period: {PERIOD_FORMS}.")
        @click.option("--since", metavar="DAY", help="From this day (included).")
        @click.option("--until", metavar="DAY", help="Up to this day (included).")
        @click.option("--user", metavar="USER", help="Whose entries (default: yours; 'all' for everyone's).")
        @click.option("--project", "-p", metavar="PROJECT", help="Only this project (slug or prefix).")
        @click.option("--activity", "-a", metavar="ACTIVITY", help="Only this activity (slug or prefix).")
        @click.option("--offline", is_flag=True, help="Read the local copy only (as of the last sync).")
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            chosen = {key: kwargs.pop(key) for key in (*_SHORTCUTS, "period", "since", "until")}
            who = {key: kwargs.pop(key) for key in ("user", "project", "activity")}
            request = SelectionRequest(default_period, chosen, who, kwargs.pop("offline"))
            return func(*args, selection=request, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


class Selection:
    """The entries a command reads: the period and filters, checked and resolved (a plain class: see
    :class:`~pymesync.cli._app.Account`)."""

    __slots__ = ("activity", "offline", "period", "project", "user")

    def __init__(
        self, period: Period, user: str | None, project: str | None, activity: str | None, offline: bool
    ) -> None:
        self.period = period
        self.user = user
        self.project = project
        self.activity = activity
        self.offline = offline

    def filters(self) -> dict[str, Any]:
        everything = self.period == ALL_TIME
        found: dict[str, object] = {} if everything else {"start": self.period.start, "end": self.period.end}
        for key in ("user", "project", "activity"):
            if getattr(self, key) is not None:
                found[key] = getattr(self, key)
        return found

    def entries(self, app: App) -> Iterator[Time]:
        """The chosen entries from the local copy, synced first (and the outbox sent) unless offline."""
        return self._synced(app).entries(**self.filters())

    def gathered(self, app: App, keys: Iterable[str], step: int | None = None) -> list[Gathered]:
        """The chosen entries, summed per value of the fields ``keys`` read (``EntryCache.gathered``)."""
        from pymesync.reports import fields_read

        return self._synced(app).gathered(**self.filters(), step=step, fields=fields_read(keys))

    def _synced(self, app: App) -> EntryCache:
        from pymesync.cli._errors import CliError, ExitCode
        from pymesync.cli._files import outbox_path

        cache = app.entry_cache()
        path = outbox_path(app.profile)
        outbox: ModuleType | None = None
        if os.path.exists(path):  # the outbox module loads only when it has a file
            from pymesync.cli import _outbox as outbox
        if self.offline:
            if not cache.synced:
                raise CliError(
                    "no local copy of your entries yet: run 'timesync sync' once while online",
                    ExitCode.UNREACHABLE,
                )
            count = 0 if outbox is None else outbox.waiting(path)
            if count:  # the copy holds what the server has: say what it does not show yet
                changes = "1 change waits" if count == 1 else f"{count} changes wait"
                app.term.info(f"Not shown: {changes} to be sent ('timesync sync' sends them)")
            return cache
        if outbox is not None:
            outbox.report(app, outbox.flush(app))  # nothing waiting: one read, nothing sent
        app.sync_entries()
        return cache


class SelectionRequest:
    """The options as given; :meth:`resolve` checks them and looks up names on the server."""

    __slots__ = ("chosen", "default_period", "offline", "who")

    def __init__(
        self, default_period: str, chosen: dict[str, Any], who: dict[str, Any], offline: bool
    ) -> None:
        self.default_period = default_period
        self.chosen = chosen
        self.who = who
        self.offline = offline

    def period(self, today: datetime.date) -> Period:
        named = [_SHORTCUTS[key] for key in _SHORTCUTS if self.chosen[key]]
        if self.chosen["period"]:
            named.append(self.chosen["period"])
        if len(named) > 1:
            raise usage_error(f"choose one period, not {' and '.join(named)}")
        since, until = self.chosen["since"], self.chosen["until"]
        try:
            if since or until:
                if named:
                    raise usage_error("--since/--until replace the period options; give one or the other")
                start = parse_day(since, today) if since else datetime.date(1970, 1, 1)
                end = parse_day(until, today) if until else today
                return Period(start, end)
            return parse_period(named[0] if named else self.default_period, today)
        except ValueError as exc:
            raise usage_error(str(exc)) from None

    def resolve(self, app: App) -> Selection:
        period = self.period(app.today())
        user = self.who["user"]
        if user is None:
            user = app.account().user
        elif user == "all":
            user = None
        project = activity = None
        if self.who["project"] or self.who["activity"]:  # names looked up in the catalogue
            from pymesync.cli import _resolve

            if self.who["project"]:
                project = _resolve.project(app, self.who["project"]).slugs[0]
            if self.who["activity"]:
                activity = _resolve.activities(app, [self.who["activity"]])[0]
        return Selection(period, user, project, activity, self.offline)
