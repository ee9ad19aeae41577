"""The page's reports are summed in the database; the CLI's in Python by :mod:`pymesync.reports`. On
random data (entries with several activities, renamed slugs, revisions, deletions, weeks across
years), for random callers and filters, both must give exactly the same rows: the page's filters
against GET /times's, and :mod:`web.aggregate` against :func:`reports.summarize`/:func:`reports.pivot`.
SQLite, and PostgreSQL when the suite has it."""

from __future__ import annotations

import datetime
import itertools
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymesync import _periods, reports
from pymesync.models import Time
from pymesync.server import storage
from pymesync.server.context import Config
from pymesync.server.routes import activities, projects, times, users
from pymesync.server.testing import create_user
from pymesync.web import aggregate, api, filters
from server.conftest import BACKENDS, fresh_database

_names = itertools.count(1)
FIRST_DAY = datetime.date(2023, 12, 20)  # ISO weeks and months across a year's end


@pytest.fixture(params=BACKENDS, scope="module")
def config(request: pytest.FixtureRequest) -> Iterator[Config]:
    """One database per backend for every example: data piles up, and each comparison reads it all."""
    with fresh_database(str(request.param)) as url:
        temp = None
        if url is None:
            temp = tempfile.mkdtemp(prefix="timesync-agg-")
            url = f"sqlite:///{temp}/t.db"
        engine = storage.create_engine(url)
        storage.create_schema(engine)
        create_user(url, "admin", "x", site_admin=True, site_manager=True, site_spectator=True)
        try:
            yield Config(
                engine=engine, secret=storage.token_secret(engine), instance_name="t", token_lifetime=600
            )
        finally:
            engine.dispose()
            if temp is not None:
                for file in Path(temp).iterdir():
                    file.unlink()
                Path(temp).rmdir()


def _admin(config: Config, handler: Any, **arguments: Any) -> Any:
    return api.call(config, "admin", handler, **arguments)


def _unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


entries = st.lists(
    st.tuples(
        st.integers(0, 2),  # user
        st.integers(0, 2),  # project
        st.lists(st.integers(0, 3), max_size=3),  # activities (none: the project's default)
        st.integers(0, 40),  # day after FIRST_DAY
        st.integers(0, 36_000),  # seconds
        st.sampled_from(["keep", "revise", "delete"]),
    ),
    max_size=14,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    entries=entries,
    rename=st.booleans(),
    caller=st.integers(0, 3),
    by=st.lists(st.sampled_from(sorted(reports.GROUPS)), min_size=1, max_size=3, unique=True),
    pivot=st.lists(st.sampled_from(sorted(reports.GROUPS)), min_size=2, max_size=2, unique=True),
    only=st.sampled_from(["", "user", "project", "activity"]),
    period=st.tuples(st.integers(0, 40), st.integers(0, 40)),
)
def test_database_totals_equal_the_reports_module(
    config: Config,
    entries: list[tuple[int, int, list[int], int, int, str]],
    rename: bool,
    caller: int,
    by: list[str],
    pivot: list[str],
    only: str,
    period: tuple[int, int],
) -> None:
    people = [_unique("u") for _ in range(3)]
    for name in people:
        _admin(config, users.create_user, method="POST", obj={"username": name, "password": "pw"})
    acts = [_unique("a") for _ in range(4)]
    for slug in acts:
        _admin(config, activities.create_activity, method="POST", obj={"name": slug, "slug": slug})
    members = {name: {"member": True, "spectator": name == people[0]} for name in people}
    projs = []
    for index in range(3):
        slugs = [_unique("p") for _ in range(index + 1)]
        _admin(
            config,
            projects.create_project,
            method="POST",
            obj={"name": _unique("P"), "slugs": slugs, "default_activity": acts[index], "users": members},
        )
        projs.append(slugs)
    for user, project, chosen, day, seconds, fate in entries:
        fields: dict[str, Any] = {
            "duration": seconds,
            "user": people[user],
            "project": projs[project][-1],
            "date_worked": (FIRST_DAY + datetime.timedelta(days=day)).isoformat(),
        }
        if chosen:
            fields["activities"] = [acts[i] for i in chosen]
        created = api.call(config, people[user], times.create_time, method="POST", obj=fields)
        if fate == "revise":
            change = {
                "duration": seconds // 2 + 60,
                "project": projs[(project + 1) % 3][0],
                "activities": [acts[3]],
            }
            _admin(config, times.update_time, method="POST", path={"uuid": created["uuid"]}, obj=change)
        elif fate == "delete":
            _admin(config, times.delete_time, method="DELETE", path={"uuid": created["uuid"]})
    if rename:  # the reports follow current slugs
        _admin(
            config,
            activities.update_activity,
            method="POST",
            path={"slug": acts[0]},
            obj={"slug": _unique("r")},
        )
        _admin(
            config,
            projects.update_project,
            method="POST",
            path={"slug": projs[2][0]},
            obj={"slugs": [_unique("z")]},
        )

    who = "admin" if caller == 3 else people[caller]
    low, high = sorted(period)
    start, end = FIRST_DAY + datetime.timedelta(days=low), FIRST_DAY + datetime.timedelta(days=high)
    query = {"start": start.isoformat(), "end": end.isoformat()}
    chosen_filter = filters.Filter(_periods.Period(start, end))
    if only == "user":
        query["user"] = people[1]
        chosen_filter = filters.Filter(_periods.Period(start, end), user=people[1])
    elif only == "project":
        current = _admin(config, projects.list_projects)
        slug = next(p["slugs"][0] for p in current if set(p["slugs"]) & set(projs[0]))
        query["project"] = slug
        chosen_filter = filters.Filter(_periods.Period(start, end), project=slug)
    elif only == "activity":
        query["activity"] = acts[3]
        chosen_filter = filters.Filter(_periods.Period(start, end), activity=acts[3])

    listed = api.call(config, who, times.list_times, query=query)
    expected = [Time.from_dict(item) for item in listed]
    caller_row = _caller(config, who)
    with storage.transaction(config.engine) as connection:
        conditions = filters.conditions(connection, caller_row, chosen_filter)
        summed = aggregate.summarize(connection, conditions, by)
        grid = aggregate.pivot(connection, conditions, *pivot)
    assert summed == reports.summarize(expected, by)
    assert grid == reports.pivot(expected, *pivot)


def _caller(config: Config, username: str) -> Any:
    from pymesync.server.context import caller_signed_in

    with storage.transaction(config.engine) as connection:
        found = caller_signed_in(connection, username, 0)
    assert found is not None
    return found
