"""Models: wire round-trips (hypothesis), unknown fields kept, secrets dropped, immutability, reports."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pymesync import Activity, Project, ProjectRole, Time, UnexpectedResponse, User
from pymesync.models import Model
from pymesync.reports import summarize

slugs = st.from_regex(r"[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,4}){0,2}", fullmatch=True)
texts = st.text(max_size=20)
dates = st.dates(min_value=datetime.date(1971, 1, 1), max_value=datetime.date(2999, 12, 31))
optional_dates = st.none() | dates
uuids = st.uuids().map(str)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


def extras(model: type[Model]) -> st.SearchStrategy[dict[str, Any]]:
    known = {f.name for f in dataclasses.fields(model)} | {"password"}
    keys = st.text(min_size=1, max_size=12).filter(lambda key: key not in known)
    return st.dictionaries(keys, json_values, max_size=3)


def common(model: type[Model]) -> dict[str, Any]:
    return {
        "created_at": optional_dates,
        "updated_at": optional_dates,
        "deleted_at": optional_dates,
        "extra": extras(model),
    }


activities = st.builds(
    Activity, uuid=uuids, revision=st.integers(1, 50), name=texts, slug=st.none() | slugs, **common(Activity)
)
times = st.builds(
    Time,
    uuid=uuids,
    revision=st.integers(1, 50),
    duration=st.integers(0, 10**7),
    user=texts,
    project=st.lists(slugs, min_size=1, max_size=3).map(tuple),
    activities=st.lists(slugs, max_size=3).map(tuple),
    date_worked=dates,
    notes=st.none() | texts,
    issue_uri=st.none() | texts,
    parents=st.none()
    | st.lists(st.builds(Time, uuid=uuids, duration=st.integers(0, 99)), max_size=2).map(tuple),
    **common(Time),
)
roles = st.builds(ProjectRole, member=st.booleans(), spectator=st.booleans(), manager=st.booleans())
projects = st.builds(
    Project,
    uuid=uuids,
    revision=st.integers(1, 50),
    name=texts,
    slugs=st.lists(slugs, max_size=3).map(tuple),
    uri=st.none() | texts,
    default_activity=st.none() | slugs,
    users=st.dictionaries(st.from_regex(r"[A-Za-z0-9_~-]{1,10}", fullmatch=True), roles, max_size=3),
    **common(Project),
)
users = st.builds(
    User,
    username=st.from_regex(r"[A-Za-z0-9_~-]{1,10}", fullmatch=True),
    display_name=st.none() | texts,
    email=st.none() | texts,
    meta=st.none() | texts,
    site_admin=st.booleans(),
    site_manager=st.booleans(),
    site_spectator=st.booleans(),
    active=st.booleans(),
    **common(User),
)


@given(st.one_of(activities, times, projects, users))
def test_model_to_dict_to_model_is_identity(model: Model) -> None:
    assert type(model).from_dict(model.to_dict()) == model


@given(st.one_of(activities, times, projects, users))
def test_dict_form_is_stable(model: Model) -> None:
    """Reading the wire form and writing it again gives the same dict: nothing is dropped or added."""
    wire = model.to_dict()
    assert type(model).from_dict(wire).to_dict() == wire


@given(times, extras(Time))
def test_unknown_fields_are_kept(time: Time, extra: dict[str, Any]) -> None:
    wire = {**time.to_dict(), **extra}
    again = Time.from_dict(wire)
    for key, value in extra.items():
        assert again.extra[key] == value
        assert again.to_dict()[key] == value


@given(users)
def test_models_are_hashable_and_equal_by_value(user: User) -> None:
    copy = User.from_dict(user.to_dict())
    assert copy == user and hash(copy) == hash(user)


def test_server_shapes_are_read_as_python_types() -> None:
    time = Time.from_dict(
        {
            "duration": 12,
            "user": "Proj_Manager",
            "notes": "",
            "issue_uri": "http://example.com/project3/issues/56",
            "uuid": "32764929-1bea-4a17-8c8a-22d7fb144941",
            "revision": 1,
            "project": ["p1", "project1"],
            "activities": ["dev", "docs"],
            "created_at": "2015-04-19",
            "updated_at": None,
            "deleted_at": None,
            "date_worked": "2015-04-19",
        }
    )
    assert time.date_worked == datetime.date(2015, 4, 19)
    assert time.duration == 12 and time.duration_timedelta == datetime.timedelta(seconds=12)
    assert time.project == ("p1", "project1") and time.activities == ("dev", "docs")
    assert time.parents is None and not time.extra
    echo = Time.from_dict({"project": "gwm", "duration": 60, "date_worked": "2015-04-19"})
    assert echo.project == ("gwm",)
    created = User.from_dict({"username": "new", "created_at": 1447891200000, "active": True})
    assert created.created_at == datetime.date(2015, 11, 19)


def test_password_is_never_kept_nor_shown() -> None:
    user = User.from_dict({"username": "bob", "password": "$2b$10$secret", "site_admin": True})
    assert "password" not in user.extra
    assert "secret" not in repr(user) and "password" not in user.to_dict()


def test_models_are_immutable() -> None:
    project = Project.from_dict({"name": "P", "slugs": ["p"], "users": {"bob": {"member": True}}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        project.name = "Q"  # type: ignore[misc]
    with pytest.raises(TypeError):
        project.users["eve"] = ProjectRole()  # type: ignore[index]
    assert project.users["bob"] == ProjectRole(member=True)


@pytest.mark.parametrize(
    "wire",
    [
        {"duration": "long"},
        {"date_worked": "yesterday"},
        {"project": [1]},
        {"revision": True},
    ],
)
def test_malformed_server_data_is_an_unexpected_response(wire: dict[str, Any]) -> None:
    with pytest.raises(UnexpectedResponse):
        Time.from_dict(wire)


def test_revisions_are_models_too() -> None:
    activity = Activity.from_dict({"slug": "dev", "revision": 2, "parents": [{"slug": "dev", "revision": 1}]})
    assert activity.parents == (Activity(slug="dev", revision=1),)


def _time(project: str, activities: tuple[str, ...], user: str, day: str, seconds: int) -> Time:
    return Time(
        project=(project,),
        activities=activities,
        user=user,
        date_worked=datetime.date.fromisoformat(day),
        duration=seconds,
    )


def test_summarize_groups_and_totals() -> None:
    entries = [
        _time("gwm", ("dev",), "bob", "2015-04-20", 3600),  # a Monday
        _time("gwm", ("dev", "docs"), "bob", "2015-04-26", 1800),  # the Sunday of the same week
        _time("pgd", ("docs",), "eve", "2015-04-27", 600),  # next Monday
    ]
    by_project = summarize(entries, ("project",))
    assert [(row.group, row.seconds, row.entries) for row in by_project.rows] == [
        (("gwm",), 5400, 2),
        (("pgd",), 600, 1),
    ]
    assert by_project.total_seconds == 6000 and by_project.entries == 3
    by_week_user = summarize(entries, ("week", "user"))
    assert by_week_user.as_dicts() == [
        {"week": datetime.date(2015, 4, 20), "user": "bob", "seconds": 5400, "entries": 2},
        {"week": datetime.date(2015, 4, 27), "user": "eve", "seconds": 600, "entries": 1},
    ]
    by_activity = summarize(entries, ("activity",))
    assert {row.group[0]: row.seconds for row in by_activity.rows} == {"dev": 5400, "docs": 2400}
    with pytest.raises(ValueError, match="cannot group by hour"):
        summarize(entries, ("hour",))
    with pytest.raises(ValueError, match="activity is repeated"):
        summarize(entries, ("activity", "activity"))
