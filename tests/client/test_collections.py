"""Collections against the project's server, for both colours (``either`` runs each test sync and async)."""

from __future__ import annotations

import datetime
import json
import socket
from collections.abc import Callable
from typing import Any

import pytest

from pymesync import (
    Activity,
    AuthorizationError,
    ConflictError,
    MethodNotAllowedError,
    NotFoundError,
    Project,
    ProjectRole,
    Time,
    TimeSyncError,
    User,
    ValidationError,
)
from pymesync.server.testing import RunningServer, create_user
from raw_http import read_request

from .conftest import ClientFactory

Unique = Callable[[str], str]
DAY = datetime.date(2015, 4, 20)


@pytest.fixture
def project(either: Any, unique: Unique) -> Project:
    activity = either.activities.create(name=unique("Activity"), slug=unique("act"))
    created: Project = either.projects.create(
        name=unique("Project"),
        slugs=[unique("proj")],
        default_activity=activity.slug,
        users={"admin": ProjectRole(member=True, manager=True)},
    )
    return created


def test_projects_behave_like_a_dict(either: Any, project: Project) -> None:
    slug = project.slugs[0]
    assert slug in either.projects
    assert "no-such-project" not in either.projects
    assert "" not in either.projects
    fetched = either.projects[slug]
    assert isinstance(fetched, Project) and fetched.uuid == project.uuid
    assert fetched.users == {"admin": ProjectRole(member=True, manager=True)}
    assert project.uuid in {p.uuid for p in either.projects}
    with pytest.raises(KeyError):
        either.projects["no-such-project"]
    with pytest.raises(NotFoundError) as info:
        either.projects.get("no-such-project")
    assert (info.value.status, info.value.error, info.value.text) == (
        404,
        "Object not found",
        "Nonexistent project",
    )


def test_create_update_delete_activity(either: Any, unique: Unique) -> None:
    slug = unique("act")
    created = either.activities.create(name=unique("Act"), slug=slug)
    assert isinstance(created, Activity) and created.revision == 1 and created.slug == slug
    renamed = either.activities.update(slug, name=unique("Renamed"))
    assert renamed.revision == 2
    history = either.activities.get(slug, include_revisions=True)
    assert [parent.revision for parent in history.parents or ()] == [1]
    either.activities.delete(slug)
    assert slug not in either.activities
    deleted = [a for a in either.activities.list(include_deleted=True) if a.uuid == created.uuid]
    assert deleted and deleted[0].slug is None and deleted[0].deleted_at is not None


def test_errors_carry_the_server_catalogue(either: Any, project: Project, unique: Unique) -> None:
    slug = project.slugs[0]
    with pytest.raises(ConflictError) as conflict:
        either.projects.create(name=unique("Other"), slugs=[slug])
    assert conflict.value.status == 409 and conflict.value.values == [slug]
    assert conflict.value.error == "The slug provided already exists"
    with pytest.raises(ValidationError) as invalid:
        either.times.get("not-a-uuid")
    assert isinstance(invalid.value, ValueError) and invalid.value.status == 400
    either.times.create(duration=60, project=slug, date_worked=DAY)
    with pytest.raises(MethodNotAllowedError) as refused:
        either.projects.delete(slug)
    assert refused.value.status == 405
    with pytest.raises(ConflictError) as foreign:
        either.times.create(duration=60, project="no-such-project", date_worked=DAY)
    assert foreign.value.error == "Invalid foreign key"


def test_local_validation_happens_before_sending(either: Any) -> None:
    with pytest.raises(ValidationError, match="invalid field: colour"):
        either.activities.create(name="x", slug="x", colour="red")
    with pytest.raises(ValidationError, match="missing required field"):
        either.projects.create(name="x")
    with pytest.raises(ValidationError, match="non-empty string"):
        either.times.get("")
    with pytest.raises(TypeError, match="unexpected filter"):
        either.projects.list(project="x")


def test_times_roundtrip_with_python_types(either: Any, project: Project) -> None:
    slug = project.slugs[0]
    created = either.times.create(
        duration=datetime.timedelta(hours=1, minutes=30),
        project=slug,
        date_worked=DAY,
        notes="pairing",
        issue_uri="https://example.com/issues/1",
    )
    assert isinstance(created, Time) and created.duration == 5400 and created.user == "admin"
    stored = either.times[created.uuid]
    assert stored.activities == (project.default_activity,)
    assert stored.date_worked == DAY and stored.project == (slug,)
    assert created.uuid in either.times
    updated = either.times.update(created, duration="2h", notes="solo")
    assert (updated.revision, updated.duration, updated.notes) == (2, 7200, "solo")
    with_history = either.times.get(created.uuid, include_revisions=True)
    assert [parent.duration for parent in with_history.parents or ()] == [5400]
    either.times.delete(created.uuid)
    with pytest.raises(KeyError):
        either.times[created.uuid]
    assert either.times.get(created.uuid, include_deleted=True).deleted_at is not None


def test_time_filters_mirror_the_api(either: Any, project: Project, unique: Unique) -> None:
    slug = project.slugs[0]
    days = [DAY + datetime.timedelta(days=offset) for offset in range(4)]
    made = [either.times.create(duration=600, project=slug, date_worked=day) for day in days]
    window = either.times.list(project=slug, start=days[1], end=days[2])
    assert sorted(t.date_worked for t in window) == days[1:3]
    view = either.times(project=slug)
    assert {t.uuid for t in view} == {t.uuid for t in made}
    assert {t.uuid for t in view.list(user="admin", start=days[3])} == {made[3].uuid}
    summary = either.times.summary(days[0], days[3], by=("day",), project=slug)
    assert [(row.group[0], row.seconds) for row in summary.rows] == [(day, 600) for day in days]
    assert summary.total_seconds == 2400


def test_users_create_hashes_the_password_and_the_user_can_log_in(
    either: Any, make_client: ClientFactory, server: RunningServer, unique: Unique
) -> None:
    name = unique("user").replace("-", "_")
    user = either.users.create(username=name, password="s3cret pass", display_name="New")
    assert isinstance(user, User) and user.username == name and "s3cret" not in repr(user)
    assert either.users.update(name, email="newguy@example.com").email == "newguy@example.com"
    as_user = make_client(server.base_url, username=name, password="s3cret pass")
    assert as_user.users[name].display_name == "New"
    with pytest.raises(AuthorizationError) as denied:
        as_user.activities.create(name=unique("Nope"), slug=unique("nope"))
    assert isinstance(denied.value, PermissionError) and denied.value.status == 401
    either.users.delete(name)
    assert name not in either.users


def test_spectator_cannot_see_others_times(
    either: Any, make_client: ClientFactory, server: RunningServer, project: Project, unique: Unique
) -> None:
    name = unique("viewer").replace("-", "_")
    create_user(server.database_url, name, "viewerpass")
    entry = either.times.create(duration=60, project=project.slugs[0], date_worked=DAY)
    viewer = make_client(server.base_url, username=name, password="viewerpass")
    assert entry.uuid not in viewer.times
    assert all(t.user == name for t in viewer.times)


def test_token_only_client(either: Any, make_client: ClientFactory, server: RunningServer) -> None:
    either.login()
    assert either.token
    by_token = make_client(server.base_url, token=either.token)
    assert by_token.username == "admin"
    assert by_token.users["admin"].site_admin
    assert either.token not in repr(by_token)


def test_every_error_is_a_timesync_error(either: Any) -> None:
    with pytest.raises(TimeSyncError):
        either.users["no_such_user"]


def test_lists_follow_a_server_that_pages(
    make_client: ClientFactory, proxy: Any, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 3 from the project's server, which honours ``limit``/``skip``."""
    monkeypatch.setattr("pymesync._operations.PAGE_SIZE", 3)
    client = make_client(proxy.base_url, username="admin", password="adminpass")
    slug = project.slugs[0]
    made = [client.times.create(duration=60 + i, project=slug, date_worked=DAY) for i in range(7)]
    proxy.requests.clear()
    listed = client.times.list(project=slug)
    assert sorted(t.uuid for t in listed) == sorted(t.uuid for t in made)
    assert len(listed) == 7
    time_pages = [r for r in proxy.requests if r.startswith(b"GET /v1/times?")]
    assert len(time_pages) == 3 and all(b"limit=3" in r for r in time_pages)
    projects = list(client.projects)
    assert len({p.uuid for p in projects}) == len(projects) and project.uuid in {p.uuid for p in projects}


@pytest.mark.parametrize("count", [2, 3, 5])
def test_lists_survive_a_server_that_ignores_paging(
    make_client: ClientFactory, raw_server: Any, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    """Like the reference server: everything at every ``skip``; exactly a page (3) is the tricky case."""
    monkeypatch.setattr("pymesync._operations.PAGE_SIZE", 3)
    body = json.dumps([{"username": f"user{i}"} for i in range(count)]).encode()
    requests: list[bytes] = []

    def handler(connection: socket.socket) -> None:
        while request := read_request(connection):
            requests.append(request)
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            connection.sendall(head.encode() + body)

    client = make_client(raw_server(handler).base_url, token="t")
    assert [user.username for user in client.users] == [f"user{i}" for i in range(count)]
    assert len(requests) == (2 if count == 3 else 1)
