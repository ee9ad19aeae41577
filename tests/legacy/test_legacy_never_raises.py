"""No public method raises, whatever it is given, and no input is ever mutated (contract §2.2, §2.3).

Hypothesis feeds garbage (None, ints, floats with NaN, bytes, sets, nested dicts with real field
names, huge strings, lone surrogates) to every public method, in test mode and in network mode
against the project's own TimeSync server.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from legacy_servers import TimeSyncServer

import pymesync

FIELD_NAMES = [
    *("duration", "project", "user", "date_worked", "notes", "issue_uri", "activities", "name", "slugs"),
    *("uri", "users", "default_activity", "slug", "username", "password", "display_name", "email"),
    *("site_admin", "site_spectator", "site_manager", "meta", "active", "uuid", "start", "end"),
    *("activity", "include_deleted", "include_revisions"),
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.sampled_from(["\ud800", "a\udfffb", "x" * 20_000, "1h30m", "-1", "", "\x00", "a+b/c?d=e&f#g %"]),
    st.dates(),
    st.sets(st.integers(), max_size=3),
    st.just(datetime.datetime(2016, 4, 1, 12, 0)),
)
garbage = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(
            st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8), st.integers()), children, max_size=5
        ),
    ),
    max_leaves=12,
)
# Arguments that look right more often than not, so that calls get past the local checks.
plausible_object = st.dictionaries(st.sampled_from(FIELD_NAMES), scalars, max_size=6)
argument = st.one_of(garbage, plausible_object)

METHODS: dict[str, int] = {
    "authenticate": 3,
    "token_expiration_time": 0,
    "project_users": 1,
    "create_time": 1,
    "update_time": 2,
    "create_project": 1,
    "update_project": 2,
    "create_activity": 1,
    "update_activity": 2,
    "create_user": 1,
    "update_user": 2,
    "get_times": 1,
    "get_projects": 1,
    "get_activities": 1,
    "get_users": 1,
    "delete_time": 1,
    "delete_project": 1,
    "delete_activity": 1,
    "delete_user": 1,
}


def call_strategy() -> st.SearchStrategy[tuple[str, list[Any]]]:
    return st.sampled_from(sorted(METHODS)).flatmap(
        lambda name: st.tuples(st.just(name), st.lists(argument, min_size=0, max_size=METHODS[name]))
    )


def snapshot(value: object) -> object:
    """A comparable picture of a value: NaN never equals itself and a copied set may iterate in
    another order, so containers are walked and sets sorted; dict key order counts."""
    if isinstance(value, dict):
        return ("dict", [(snapshot(k), snapshot(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [snapshot(item) for item in value])
    if isinstance(value, (set, frozenset)):
        return ("set", sorted(repr(snapshot(item)) for item in value))
    return repr(value)


def check_shape(name: str, result: object, *, test_mode: bool) -> None:
    if name.startswith("get_"):
        assert type(result) is list
        if result and "pymesync error" in result[0]:
            assert type(result[0]["pymesync error"]) is str
        return
    if name == "token_expiration_time" and type(result) is datetime.datetime:
        return
    if name.startswith("delete_") and test_mode and type(result) is list:
        assert result == [{"status": 200}]
        return
    assert type(result) is dict
    if "pymesync error" in result:
        assert type(result["pymesync error"]) is str
        assert not result["pymesync error"].startswith("unexpected error"), result


def call_and_check(ts: pymesync.TimeSync, name: str, args: list[Any], *, test_mode: bool) -> Any:
    before = snapshot(copy.deepcopy(args))
    kept = copy.deepcopy(args)
    result = getattr(ts, name)(*args)
    assert snapshot(args) == before, "an input was mutated"
    assert snapshot(kept) == before
    check_shape(name, result, test_mode=test_mode)
    return result


@settings(max_examples=400, deadline=None)
@given(call_strategy(), st.booleans())
def test_test_mode_never_raises(call: tuple[str, list[Any]], authenticated: bool) -> None:
    name, args = call
    ts = pymesync.TimeSync(
        "http://timesync.example.com/v1", token="tok" if authenticated else None, test=True
    )
    result = call_and_check(ts, name, args, test_mode=True)
    assert ts._transport is None
    if isinstance(result, (dict, list)) and args:
        # results never alias inputs: mutating the result leaves the arguments as they were
        before = snapshot(args)
        mutate(result)
        assert snapshot(args) == before


def mutate(value: object) -> None:
    if isinstance(value, dict):
        for item in list(value.values()):
            mutate(item)
        value["mutated"] = True
    elif isinstance(value, list):
        for item in value:
            mutate(item)
        value.append("mutated")


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        garbage.filter(lambda b: not (isinstance(b, str) and "://" in b)), st.just("http://127.0.0.1:9/v1")
    ),
    garbage,
    garbage,
    call_strategy(),
)
def test_garbage_attributes_never_raise(baseurl: object, token: object, test: object, call: tuple) -> None:
    """Nothing listens on port 9 and no other value is a URL, so no request leaves this machine."""
    ts = pymesync.TimeSync(baseurl, token, test)
    name, args = call
    call_and_check(ts, name, args, test_mode=bool(test))
    assert repr(ts).endswith(("token=<hidden>>", "token=None>"))


@pytest.fixture(scope="module")
def network_admin(timesync: TimeSyncServer) -> Iterator[pymesync.TimeSync]:
    ts = pymesync.TimeSync(timesync.base_url, timeout=(2, 10))
    assert "token" in ts.authenticate("admin", "adminpass", "password")
    yield ts
    ts.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(call=call_strategy())
def test_network_mode_never_raises(network_admin: pymesync.TimeSync, call: tuple[str, list[Any]]) -> None:
    name, args = call
    token = network_admin.token
    result = call_and_check(network_admin, name, args, test_mode=False)
    first = result[0] if isinstance(result, list) and result else result
    reached = not (isinstance(first, dict) and "pymesync error" in first)
    event("reached the server" if reached else "stopped locally")
    if name == "authenticate":
        network_admin.token = token
