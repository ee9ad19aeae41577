"""``times.create_many``: order, per-item failures, and never creating an entry twice after a timeout."""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from pymesync import ConflictError, Project, ProjectRole, RequestTimeout, ValidationError

from .conftest import ADMIN, ClientFactory, Proxy

DAY = datetime.date(2016, 1, 4)


@pytest.fixture
def project(either: Any, unique: Callable[[str], str]) -> Project:
    activity = either.activities.create(name=unique("Bulk activity"), slug=unique("bulk-act"))
    created: Project = either.projects.create(
        name=unique("Bulk"),
        slugs=[unique("bulk")],
        default_activity=activity.slug,
        users={"admin": ProjectRole(member=True)},
    )
    return created


def _post_counter(proxy: Proxy, nth: set[int], action: str) -> None:
    counter = itertools.count(1)

    def decide(request: bytes) -> str:
        if request.startswith(b"POST /v1/times "):
            return action if next(counter) in nth else "forward"
        return "forward"

    proxy.decide = decide


def test_results_stream_in_order_with_per_item_failures(either: Any, project: Project) -> None:
    slug = project.slugs[0]
    items: list[Any] = []
    for index in range(12):
        items.append({"duration": 60 + index, "project": slug, "date_worked": DAY, "notes": f"item {index}"})
    items[3] = {"duration": -5, "project": slug, "date_worked": DAY}
    items[7] = {"duration": 60, "project": "no-such-project", "date_worked": DAY}
    items[9] = "not an object"
    results = list(either.times.create_many(items, concurrency=4))
    assert [result.index for result in results] == list(range(12))
    assert [result.item for result in results] == items
    failed = {result.index: result.error for result in results if not result.ok}
    assert set(failed) == {3, 7, 9}
    assert isinstance(failed[3], ValidationError) and isinstance(failed[9], ValidationError)
    assert isinstance(failed[7], ConflictError) and failed[7].status == 409
    created = [result.value for result in results if result.ok]
    assert [t.notes for t in created] == [
        item["notes"] for item in items if isinstance(item, dict) and "notes" in item
    ]
    stored = either.times.list(project=slug)
    assert sorted(t.uuid for t in stored) == sorted(t.uuid for t in created)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_create_that_times_out_after_storing_is_not_sent_again(
    make_client: ClientFactory, proxy: Proxy, either: Any, project: Project, concurrency: int
) -> None:
    """The proxy forwards the 3rd POST but swallows the answer: the server stored it, the client timed out."""
    slug = project.slugs[0]
    client = make_client(proxy.base_url, username=ADMIN[0], password=ADMIN[1], timeout=(2.0, 1.0))
    _post_counter(proxy, {3}, "swallow")
    # identical items when sequential (the check must pick the one copy not already accounted for)
    notes = ["same" if concurrency == 1 else f"entry {i}" for i in range(6)]
    items = [{"duration": 900, "project": slug, "date_worked": DAY, "notes": note} for note in notes]
    results = list(client.times.create_many(items, concurrency=concurrency))
    assert all(result.ok for result in results), [result.error for result in results]
    assert sum(result.recovered for result in results) == 1
    stored = either.times.list(project=slug)
    assert len(stored) == 6
    assert {t.uuid for t in stored} == {result.value.uuid for result in results}
    posts = [r for r in proxy.requests if r.startswith(b"POST /v1/times ")]
    assert len(posts) == 6  # nothing was resent


def test_a_create_that_never_arrived_is_sent_again(
    make_client: ClientFactory, proxy: Proxy, either: Any, project: Project
) -> None:
    slug = project.slugs[0]
    client = make_client(proxy.base_url, username=ADMIN[0], password=ADMIN[1], timeout=(2.0, 1.0))
    _post_counter(proxy, {2}, "drop")
    items = [{"duration": 300, "project": slug, "date_worked": DAY, "notes": f"n{i}"} for i in range(4)]
    results = list(client.times.create_many(items, concurrency=2))
    assert all(result.ok and not result.recovered for result in results)
    assert len(either.times.list(project=slug)) == 4
    assert len([r for r in proxy.requests if r.startswith(b"POST /v1/times ")]) == 5


def test_single_create_is_never_retried(
    make_client: ClientFactory, proxy: Proxy, either: Any, project: Project
) -> None:
    client = make_client(proxy.base_url, username=ADMIN[0], password=ADMIN[1], timeout=(2.0, 1.0))
    _post_counter(proxy, {1}, "swallow")
    with pytest.raises(RequestTimeout):
        client.times.create(duration=60, project=project.slugs[0], date_worked=DAY)
    assert len([r for r in proxy.requests if r.startswith(b"POST /v1/times ")]) == 1
    assert len(either.times.list(project=project.slugs[0])) == 1


def test_concurrency_is_checked_at_once(either: Any) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        either.times.create_many([], concurrency=0)
