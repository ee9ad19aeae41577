"""The lists' fast encoding of times is byte for byte ``json.dumps`` of the dicts ``GET /times/:uuid``
renders, on awkward data: control and non-ASCII characters, renamed and deleted activities, times
with several (or repeated, or no) activities, projects with several slugs, odd dates and revisions."""

from __future__ import annotations

import json
import tempfile
import uuid as uuid_module
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymesync.server import auth, schema, storage
from pymesync.server.routes import times as times_route

from .conftest import BACKENDS, fresh_database


def _uuid(kind: int, number: int) -> str:
    return str(uuid_module.UUID(int=kind << 64 | number))


ADMIN = auth.Caller(id=1, username="admin", site_admin=True, site_manager=True, site_spectator=True)
DAY_MS = 86_400_000

texts = st.none() | st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
stamps = st.none() | st.integers(-(10**13), 10**14)
times_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "duration": st.integers(0, 2**31 - 1),
            "user": st.sampled_from([1, 2]),
            "project": st.sampled_from([0, 1]),
            "notes": texts,
            "issue_uri": texts,
            "date_worked": st.integers(0, 20_000).map(lambda day: day * DAY_MS),
            "created_at": stamps,
            "updated_at": stamps,
            "deleted_at": st.none(),
            "revision": st.none() | st.integers(0, 3),
            "activities": st.lists(st.sampled_from([0, 1, 2, 3]), max_size=4),
        }
    ),
    min_size=1,
    max_size=30,
)


@pytest.fixture(scope="module", params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    """A database with two users (one with a name to escape), two projects (one with two slugs),
    and activities whose rows include a renamed one and a deleted one."""
    with tempfile.TemporaryDirectory() as directory, fresh_database(request.param) as url:
        engine = storage.create_engine(url or f"sqlite:///{directory}/list.db")
        storage.create_schema(engine)
        with storage.transaction(engine, write=True) as connection:
            storage.insert_user(connection, "admin", "pw", site_admin=True, bcrypt_rounds=4)
            storage.insert_user(connection, 'd\u00e9v"\\\u2028', "pw", bcrypt_rounds=4)
            activities = schema.activities
            rows = [
                ("dev", _uuid(1, 1), 1, False),  # renamed below: old times show its current slug
                ("z\u00fcrich", _uuid(1, 1), 2, True),
                ("docs", _uuid(1, 2), 1, True),
                ("ops", _uuid(1, 3), 1, True),
            ]
            for slug, uuid, revision, newest in rows:
                connection.execute(
                    sa.insert(activities).values(
                        name=slug, slug=slug, uuid=uuid, revision=revision, newest=newest, created_at=0
                    )
                )
            gone = sa.insert(activities).values(
                name="gone", slug=None, uuid=_uuid(1, 4), newest=True, created_at=0
            )
            connection.execute(gone)
            for number, slugs in enumerate((["b-proj", "a-proj"], ["solo"])):
                project_id = connection.execute(
                    sa.insert(schema.projects).values(name=f"p{number}", uuid=_uuid(2, number), created_at=0)
                ).inserted_primary_key[0]
                for slug in slugs:
                    connection.execute(sa.insert(schema.projectslugs).values(name=slug, project=project_id))
        yield engine
        engine.dispose()


def _store(engine: sa.Engine, entries: list[dict[str, Any]]) -> None:
    activity_ids = [1, 3, 4, 5]  # dev (renamed), docs, ops, one without a slug
    with storage.transaction(engine, write=True) as connection:
        connection.execute(sa.delete(schema.timesactivities))
        connection.execute(sa.delete(schema.times))
        for number, entry in enumerate(entries):
            values = {name: value for name, value in entry.items() if name != "activities"}
            values.update(project=_uuid(2, entry["project"]), uuid=_uuid(3, number), newest=True)
            time_id = connection.execute(sa.insert(schema.times).values(values)).inserted_primary_key[0]
            for activity in entry["activities"]:
                connection.execute(
                    sa.insert(schema.timesactivities).values(time=time_id, activity=activity_ids[activity])
                )


def _both(engine: sa.Engine, conditions: list[Any]) -> tuple[str, str]:
    with storage.transaction(engine) as connection:
        fast = times_route._page(connection, conditions, 0, times_route.PAGE, 0, False).items
        rows = connection.execute(
            times_route.select_times().where(*conditions).order_by(schema.times.c.id)
        ).all()
        reference = times_route.render_many(connection, rows)
    return f"[{fast}]", json.dumps(reference, ensure_ascii=False, separators=(",", ":"))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=times_strategy, every_other=st.booleans(), joined=st.booleans())
def test_fast_encoding_is_the_reference_encoding(
    engine: sa.Engine, entries: list[dict[str, Any]], every_other: bool, joined: bool
) -> None:
    """Both ways a page reads its activities: joined (a few times) and as (time, activity row)
    pairs, by range (dense ids) or by id."""
    _store(engine, entries)
    conditions = times_route.listed_to(ADMIN)
    if every_other:  # ids with gaps: the activities are read by id, not by range
        conditions.append(schema.times.c.id % 3 == 0)
    few = times_route._FEW_TIMES
    times_route._FEW_TIMES = len(entries) if joined else 0
    try:
        fast, reference = _both(engine, conditions)
    finally:
        times_route._FEW_TIMES = few
    assert fast == reference
