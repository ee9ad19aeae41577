"""``if_revision`` and ``changes()`` of both clients, against our server with its extensions on and
off (off, it behaves like the reference: the clients fall back to reading first and to comparing lists)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pymesync import RevisionConflictError, ValidationError
from pymesync.server.testing import RunningServer, serve

from .conftest import ADMIN, ClientFactory


@pytest.fixture(scope="module", params=["extensions", "no-extensions"])
def server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    with serve(admin=ADMIN, sync_extensions=request.param == "extensions") as running:
        yield running


@pytest.fixture
def either(make_client: ClientFactory, server: RunningServer) -> Any:
    return make_client(server.base_url, username=ADMIN[0], password=ADMIN[1])


@pytest.fixture
def project(either: Any, unique: Callable[[str], str]) -> str:
    slug = unique("sync")
    activity = unique("act")
    either.activities.create(name=activity, slug=activity)
    either.projects.create(
        name=slug,
        slugs=[slug],
        default_activity=activity,
        users={ADMIN[0]: {"member": True, "spectator": True, "manager": True}},
    )
    return slug


def _entry(client: Any, project: str, notes: str = "n") -> Any:
    return client.times.create(duration=600, project=project, date_worked="2026-01-05", notes=notes)


def test_an_update_at_the_read_revision_is_applied(either: Any, project: str) -> None:
    entry = _entry(either, project)
    updated = either.times.update(entry.uuid, if_revision=1, notes="edited")
    assert (updated.revision, updated.notes) == (2, "edited")


def test_an_update_of_a_changed_object_is_a_conflict_and_writes_nothing(either: Any, project: str) -> None:
    entry = _entry(either, project)
    either.times.update(entry.uuid, notes="someone else")
    with pytest.raises(RevisionConflictError) as caught:
        either.times.update(entry.uuid, if_revision=1, notes="mine")
    assert caught.value.status == 412
    stored = either.times[entry.uuid]
    assert (stored.revision, stored.notes) == (2, "someone else")
    with pytest.raises(RevisionConflictError):
        either.times.delete(entry.uuid, if_revision=1)
    assert either.times[entry.uuid].deleted_at is None
    either.times.delete(entry.uuid, if_revision=2)
    assert entry.uuid not in either.times
    with pytest.raises(RevisionConflictError):
        either.projects.update(project, if_revision=5, name="Renamed")
    with pytest.raises(ValidationError):
        either.users.update(ADMIN[0], if_revision=1, display_name="x")


def test_two_clients_editing_at_once_one_wins(
    make_client: ClientFactory, server: RunningServer, project: str, either: Any
) -> None:
    entry = _entry(either, project)
    clients = [make_client(server.base_url, username=ADMIN[0], password=ADMIN[1]) for _ in range(2)]
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def edit(index: int) -> None:
        barrier.wait()
        try:
            clients[index].times.update(entry.uuid, if_revision=1, notes=f"client {index}")
            outcomes.append("won")
        except RevisionConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=edit, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = either.times[entry.uuid]
    assert stored.revision == 1 + outcomes.count("won")
    if _has_if_match(either):
        assert sorted(outcomes) == ["conflict", "won"]
    else:  # read-then-write leaves a window in which both may pass the check (docs/client.md)
        assert "won" in outcomes


def _has_if_match(client: Any) -> bool:
    session = getattr(client, "_session", None) or client.inner._session
    return "if_match" in (session.extensions or ())


def test_changes_follow_creates_updates_and_deletes(either: Any, project: str) -> None:
    first = either.times.changes()
    held = {entry.uuid: entry for entry in first.changed}
    assert first.restarted or first.token == "full-read"
    assert {entry.uuid for entry in either.times.list()} == set(held)
    kept, edited, dropped = (_entry(either, project, notes) for notes in ("kept", "edited", "dropped"))
    again = either.times.changes(first.token, held.values())
    assert {entry.uuid for entry in again.changed} == {kept.uuid, edited.uuid, dropped.uuid}
    held.update((entry.uuid, entry) for entry in again.changed)
    either.times.update(edited.uuid, notes="edited twice")
    either.times.delete(dropped.uuid)
    last = either.times.changes(again.token, held)
    assert [(entry.uuid, entry.notes) for entry in last.changed] == [(edited.uuid, "edited twice")]
    assert last.deleted == [dropped.uuid]
    for entry in last.changed:
        held[entry.uuid] = entry
    for uuid in last.deleted:
        del held[uuid]
    assert held == {entry.uuid: entry for entry in either.times.list()}


def test_changes_of_users_and_a_token_the_server_cannot_continue(
    either: Any, unique: Callable[[str], str]
) -> None:
    first = either.users.changes()
    held = {user.username: user for user in first.changed}
    name = unique("user")
    either.users.create(username=name, password="pw-123456")
    answer = either.users.changes("eyJ2IjoxLCJsb2ciOiJ4IiwicG9zIjoxfQ", held)
    if _has_if_match(either):
        assert answer.restarted
    assert name in {user.username for user in answer.changed}
    assert answer.deleted == []
