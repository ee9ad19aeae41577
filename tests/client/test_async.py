"""What only the async client has: ``async with``, ``async for``, awaitable ``[]``, async bulk input."""

from __future__ import annotations

import asyncio
import datetime
import sys
from collections.abc import AsyncIterator, Callable

import pytest

from pymesync import AsyncClient, NotFoundError, ProjectRole, Time
from pymesync.server.testing import RunningServer

from .conftest import ADMIN

DAY = datetime.date(2017, 3, 1)


async def test_async_surface(aclient: AsyncClient, unique: Callable[[str], str]) -> None:
    activity = await aclient.activities.create(name=unique("Async"), slug=unique("async"))
    slug = unique("async-proj")
    await aclient.projects.create(
        name=unique("Async project"),
        slugs=[slug],
        default_activity=activity.slug,
        users={"admin": ProjectRole(member=True)},
    )
    assert (await aclient.projects[slug]).slugs == (slug,)
    assert await aclient.projects.contains(slug)
    assert not await aclient.projects.contains("no-such-slug")
    with pytest.raises(KeyError):
        await aclient.projects["no-such-slug"]
    entries = await asyncio.gather(
        *(aclient.times.create(duration=60 * i, project=slug, date_worked=DAY) for i in range(1, 6))
    )
    seen = [entry async for entry in aclient.times(project=slug)]
    assert sorted(t.duration for t in seen) == [60, 120, 180, 240, 300]
    assert {t.uuid for t in seen} == {t.uuid for t in entries}
    summary = await aclient.times.summary(DAY, DAY, by=("project", "user"), project=slug)
    assert summary.as_dicts() == [{"project": slug, "user": "admin", "seconds": 900, "entries": 5}]


async def test_async_create_many_takes_an_async_iterable(
    aclient: AsyncClient, unique: Callable[[str], str]
) -> None:
    activity = await aclient.activities.create(name=unique("Stream"), slug=unique("stream"))
    slug = unique("stream-proj")
    await aclient.projects.create(
        name=unique("Stream project"),
        slugs=[slug],
        default_activity=activity.slug,
        users={"admin": ProjectRole(member=True)},
    )

    async def produce() -> AsyncIterator[Time]:
        for minutes in range(1, 21):
            await asyncio.sleep(0)
            yield Time(duration=60 * minutes, project=(slug,), date_worked=DAY)

    durations = [
        result.value.duration
        async for result in aclient.times.create_many(produce(), concurrency=5)
        if result.value
    ]
    assert durations == [60 * minutes for minutes in range(1, 21)]


async def test_async_client_closes_its_session(server: RunningServer) -> None:
    async with AsyncClient(server.base_url, username=ADMIN[0], password=ADMIN[1]) as client:
        await client.users["admin"]
        session = client._transport._session
        assert session is not None and not session.closed
    assert session.closed
    with pytest.raises(NotFoundError):
        async with AsyncClient(server.base_url, username=ADMIN[0], password=ADMIN[1]) as client:
            await client.users["nobody_here"]


def test_missing_aiohttp_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    with pytest.raises(ImportError, match=r"pymesync\[async\]"):
        AsyncClient("http://127.0.0.1:9/v1", token="t")
