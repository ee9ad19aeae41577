"""End to end: the legacy ``TimeSync`` against the project's own TimeSync server over loopback."""

from __future__ import annotations

import datetime
import uuid as uuid_module

import pytest
from legacy_servers import TimeSyncServer

import pymesync
from pymesync.server.testing import create_user

ADMIN_PERMS = {"member": True, "spectator": False, "manager": True}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid_module.uuid4().hex[:8]}"


@pytest.fixture
def admin(timesync: TimeSyncServer) -> pymesync.TimeSync:
    ts = pymesync.TimeSync(timesync.base_url + "/")
    result = ts.authenticate("admin", "adminpass", "password")
    assert set(result) == {"token"}
    return ts


@pytest.fixture
def project(admin: pymesync.TimeSync) -> str:
    """A project with the admin as member and manager, plus an activity ``<slug>-act``."""
    slug = unique("proj")
    assert "error" not in admin.create_activity({"name": f"Act {slug}", "slug": f"{slug}-act"})
    created = admin.create_project(
        {"name": f"Project {slug}", "slugs": [slug], "users": {"admin": ADMIN_PERMS}}
    )
    assert created["slugs"] == [slug]
    return slug


def test_authenticate_and_token_expiration(timesync: TimeSyncServer) -> None:
    ts = pymesync.TimeSync(timesync.base_url)
    before = datetime.datetime.now()
    result = ts.authenticate(username="admin", password="adminpass", auth_type="password")
    assert type(result) is dict
    assert ts.token == result["token"]
    assert (ts.user, ts.auth_type) == ("admin", "password")
    expiry = ts.token_expiration_time()
    assert type(expiry) is datetime.datetime
    assert expiry.tzinfo is None
    assert before + datetime.timedelta(minutes=29) < expiry < before + datetime.timedelta(minutes=31)


def test_failed_logins_are_dicts_and_keep_the_token(timesync: TimeSyncServer) -> None:
    ts = pymesync.TimeSync(timesync.base_url, token="earlier")
    assert ts.authenticate("admin", "wrong", "password") == {
        "status": 401,
        "error": "Authentication failure",
        "text": "Incorrect username or password",
    }
    assert ts.authenticate("admin", "adminpass", "ldap") == {
        "status": 401,
        "error": "Bad query value",
        "text": "ldap is not a valid authentication type",
    }
    assert (ts.token, ts.user, ts.auth_type) == ("earlier", None, None)


def test_bad_token_comes_back_as_data(timesync: TimeSyncServer) -> None:
    ts = pymesync.TimeSync(timesync.base_url, token="not-a-real-token")
    assert ts.get_times() == [{"status": 401, "error": "Authentication failure", "text": "Bad API token"}]


def test_time_lifecycle(admin: pymesync.TimeSync, project: str) -> None:
    time = {
        "duration": "1h30m",
        "project": project,
        "user": "admin",
        "activities": [f"{project}-act"],
        "date_worked": "2016-04-01",
    }
    created = admin.create_time(time)
    assert type(created) is dict
    assert (created["duration"], created["project"], created["revision"]) == (5400, project, 1)
    assert time["duration"] == "1h30m"
    uuid = created["uuid"]

    assert [t["uuid"] for t in admin.get_times({"project": project})] == [uuid]
    assert (
        admin.get_times({"project": [project], "user": "admin", "start": datetime.date(2016, 4, 1)})[0][
            "uuid"
        ]
        == uuid
    )
    assert admin.get_times({"project": project, "end": "2016-03-31"}) == []

    updated = admin.update_time({"duration": 60, "notes": "more"}, uuid)
    assert (updated["duration"], updated["notes"], updated["revision"]) == (60, "more", 2)
    with_revisions = admin.get_times({"uuid": uuid, "include_revisions": True})
    assert with_revisions[0]["parents"][0]["revision"] == 1

    assert admin.delete_project(project) == {
        "status": 405,
        "error": "Method not allowed",
        "text": "The method specified is not allowed for the project identified",
    }
    assert admin.delete_time(uuid) == {"status": 200}
    assert admin.get_times({"uuid": uuid}) == [
        {"status": 404, "error": "Object not found", "text": "Nonexistent time"}
    ]
    assert admin.get_times({"uuid": uuid, "include_deleted": True})[0]["deleted_at"] is not None


def test_server_validation_errors_are_data(admin: pymesync.TimeSync, project: str) -> None:
    bad_date = {
        "duration": 60,
        "project": project,
        "user": "admin",
        "activities": [],
        "date_worked": "04/01/2016",
    }
    assert admin.create_time(bad_date) == {
        "status": 400,
        "error": "Bad object",
        "text": "Field date_worked of time should be ISO-8601 date but was sent as 04/01/2016",
    }
    assert admin.get_times({"project": "nosuchproject"}) == [
        {
            "status": 400,
            "error": "Bad query value",
            "text": "Parameter project contained invalid value nosuchproject",
        }
    ]


def test_project_and_activity_lifecycle(admin: pymesync.TimeSync, project: str) -> None:
    assert admin.project_users(project) == {"admin": ["member", "manager"]}
    assert admin.project_users("no-such-project") == {
        "status": 404,
        "error": "Object not found",
        "text": "Nonexistent project",
    }
    updated = admin.update_project({"name": f"Renamed {project}", "uri": "https://example.org"}, project)
    assert (updated["name"], updated["uri"], updated["revision"]) == (
        f"Renamed {project}",
        "https://example.org",
        2,
    )
    assert admin.get_projects({"slug": project})[0]["name"] == f"Renamed {project}"
    assert project in {slug for p in admin.get_projects() for slug in p["slugs"]}

    activity = f"{project}-act"
    assert admin.update_activity({"name": f"Acting {project}"}, activity)["name"] == f"Acting {project}"
    assert admin.get_activities({"slug": activity})[0]["name"] == f"Acting {project}"
    assert admin.create_activity({"name": "Dup", "slug": activity})["status"] == 409
    assert admin.delete_activity(activity) == {"status": 200}
    assert admin.get_activities({"slug": activity})[0]["status"] == 404
    assert admin.delete_project(project) == {"status": 200}


def test_users_lifecycle_with_client_side_hashing(admin: pymesync.TimeSync, timesync: TimeSyncServer) -> None:
    username = unique("bob")
    user = {"username": username, "password": "bob pass+/é", "display_name": "Bob"}
    created = admin.create_user(user)
    assert (created["username"], created["display_name"]) == (username, "Bob")
    assert "password" not in created
    assert user["password"] == "bob pass+/é"

    bob = pymesync.TimeSync(timesync.base_url)
    assert set(bob.authenticate(username, "bob pass+/é", "password")) == {"token"}
    assert bob.create_activity({"name": "Nope", "slug": unique("nope")})["error"] == "Authorization failure"

    assert (
        admin.update_user({"display_name": "Robert", "password": "new"}, username)["display_name"] == "Robert"
    )
    assert set(pymesync.TimeSync(timesync.base_url).authenticate(username, "new", "password")) == {"token"}
    assert admin.get_users(username)[0]["display_name"] == "Robert"
    assert username in {u["username"] for u in admin.get_users()}
    assert admin.delete_user(username) == {"status": 200}
    assert admin.get_users(username) == [
        {"status": 404, "error": "Object not found", "text": "Nonexistent user"}
    ]


def test_user_seeded_in_the_database(admin: pymesync.TimeSync, timesync: TimeSyncServer) -> None:
    username = unique("carol")
    create_user(timesync.database_url, username, "carolpass", site_manager=True)
    carol = pymesync.TimeSync(timesync.base_url)
    assert "token" in carol.authenticate(username, "carolpass", "password")
    assert carol.get_users(username)[0]["site_manager"] is True


def test_identifiers_with_reserved_characters_reach_the_server(admin: pymesync.TimeSync) -> None:
    """The server names the identifier it received: each one arrives intact, ``+`` and space included."""
    for odd in ("a+b", "sp ace", "q?x&y=z#f", "100%"):
        assert admin.get_users(odd) == [
            {
                "status": 400,
                "error": "The provided identifier was invalid",
                "text": f"Expected username but received {odd}",
                "values": [odd],
            }
        ]
