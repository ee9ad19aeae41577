"""Our extensions for offline clients: ETags and conditional requests, the changes feed, ``GET /``.

The feed's promise is checked the way a follower sees it: it keeps a copy built only from the feed,
and at the end the copy equals what the list endpoint shows the same caller.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from pymesync.server import changelog, schema, storage

from . import processes
from .conftest import POSTGRES_URL
from .helpers import ADMIN, Api, Response, World, error, roles
from .processes import Deployment


def _post(api: Api, path: str, obj: Any, token: str, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps({"auth": {"type": "token", "token": token}, "object": obj}).encode()
    return api.request("POST", path, body=body, headers=headers)


class Follower:
    """A client that knows a collection only through the feed."""

    def __init__(self, api: Api, token: str, collection: str = "times", key: str = "uuid") -> None:
        self.api, self.token, self.collection, self.key = api, token, collection, key
        self.copy: dict[str, Any] = {}
        self.since: str | None = None

    def follow(self) -> dict[str, Any]:
        """Read the feed to its end; the pages' lists joined."""
        if self.since is None:
            self.copy = {}
        joined: dict[str, Any] = {"changed": [], "deleted": []}
        more = True
        while more:
            query = {"since": self.since} if self.since else {}
            answer = self.api.ok(self.api.get(f"/changes/{self.collection}", self.token, **query))
            for item in answer["changed"]:
                self.copy[item[self.key]] = item
            for key in answer["deleted"]:
                self.copy.pop(key, None)
            joined["changed"] += answer["changed"]
            joined["deleted"] += answer["deleted"]
            self.since, more = answer["next"], answer["more"]
        joined["next"] = self.since
        return joined

    def listed(self) -> dict[str, Any]:
        return {item[self.key]: item for item in self.api.ok(self.api.get(f"/{self.collection}", self.token))}


# --- ETags and conditional requests -----------------------------------------------------------------


def test_an_etag_changes_with_each_revision_and_delete(api: Api, world: World) -> None:
    admin, uuid = api.admin_token(), world.times["m1"]["uuid"]
    first = api.get(f"/times/{uuid}", admin)
    assert first.header("ETag") == '"1"'
    unchanged = api.request("GET", f"/times/{uuid}", token=admin, headers={"If-None-Match": '"1"'})
    assert (unchanged.status, unchanged.body, unchanged.header("ETag")) == (304, b"", '"1"')
    api.ok(api.post(f"/times/{uuid}", {"notes": "second"}, admin))
    changed = api.request("GET", f"/times/{uuid}", token=admin, headers={"If-None-Match": '"1"'})
    assert (changed.status, changed.json["notes"], changed.header("ETag")) == (200, "second", '"2"')
    assert api.delete(f"/times/{uuid}", admin).status == 200
    deleted = api.get(f"/times/{uuid}", admin, include_deleted=True)
    assert deleted.header("ETag") == '"2-deleted"'
    assert api.get("/projects/gwm", admin).header("ETag") == '"1"'
    assert api.get("/activities/dev", admin).header("ETag") == '"1"'
    user_tag = api.get("/users/member", admin).header("ETag")
    api.ok(api.post("/users/member", {"display_name": "Renamed"}, admin))
    assert api.get("/users/member", admin).header("ETag") not in (None, user_tag)


@pytest.mark.parametrize(
    ("kind", "path", "changes"),
    [
        ("time", "/times/{m1}", {"notes": "lost update"}),
        ("project", "/projects/gwm", {"name": "Lost update"}),
        ("activity", "/activities/docs", {"name": "Lost update"}),
        ("user", "/users/member", {"display_name": "Lost update"}),
    ],
)
def test_a_stale_if_match_is_412_and_changes_nothing(
    api: Api, world: World, kind: str, path: str, changes: dict[str, Any]
) -> None:
    admin = api.admin_token()
    path = path.format(m1=world.times["m1"]["uuid"])
    before = api.get(path, admin)
    current = before.header("ETag")
    stale = '"u1"' if kind == "user" else '"7"'
    refused = _post(api, path, changes, admin, {"If-Match": stale})
    text = f"The {kind} changed: it is now version {current}, not {stale}"
    assert (refused.status, refused.json) == (412, error(412, "Precondition failed", text))
    assert api.get(path, admin).json == before.json
    fresh = _post(api, path, changes, admin, {"If-Match": f"{stale}, {current}"})
    assert fresh.status == 200, fresh.json


def test_a_stale_if_match_on_delete_is_412_and_deletes_nothing(api: Api, world: World) -> None:
    admin, uuid = api.admin_token(), world.times["m1"]["uuid"]
    refused = api.request("DELETE", f"/times/{uuid}", token=admin, headers={"If-Match": '"2"'})
    assert refused.status == 412 and refused.json["error"] == "Precondition failed"
    assert api.get(f"/times/{uuid}", admin).status == 200
    deleted = api.request("DELETE", f"/times/{uuid}", token=admin, headers={"If-Match": '"1"'})
    assert deleted.status == 200
    assert api.get(f"/times/{uuid}", admin).status == 404


def test_with_the_extensions_off_the_server_is_the_reference(start_server: Callable[..., Api]) -> None:
    api = start_server(sync_extensions=False)
    admin = api.admin_token()
    project = api.create_project(users={ADMIN[0]: roles(member=True)})["slugs"][0]
    uuid = api.create_time(admin, ADMIN[0], project, activities=[api.create_activity()["slug"]])["uuid"]
    assert api.get(f"/times/{uuid}", admin).header("ETag") is None
    assert _post(api, f"/times/{uuid}", {"notes": "n"}, admin, {"If-Match": '"9"'}).status == 200
    assert api.get("/changes/times", admin).json == error(404, "Not found", "Cannot GET /v1/changes/times")
    assert api.get("/", admin).status == 404


def test_the_server_says_what_it_offers(api: Api) -> None:
    offered = api.get("/")
    assert offered.status == 200
    assert offered.json["extensions"]["changes"] == ["times", "projects", "activities", "users"]
    assert offered.json["extensions"]["etag"] is True


# --- the changes feed ---------------------------------------------------------------------------------


def test_the_feed_follows_creates_updates_and_deletes(api: Api, world: World) -> None:
    admin = api.admin_token()
    follower = Follower(api, admin)
    first = follower.follow()
    assert {item["uuid"] for item in first["changed"]} == {time["uuid"] for time in world.times.values()}
    assert follower.follow() == {"changed": [], "deleted": [], "next": follower.since}
    assert api.ok(api.get("/changes/times", admin, since=follower.since))["more"] is False
    m1, m2 = world.times["m1"]["uuid"], world.times["m2"]["uuid"]
    api.ok(api.post(f"/times/{m2}", {"notes": "later"}, admin))
    api.ok(api.post(f"/times/{m1}", {"duration": 1}, admin))
    assert api.delete(f"/times/{world.times['a1']['uuid']}", admin).status == 200
    new = api.create_time(admin, ADMIN[0], "gwm")
    answer = follower.follow()
    assert [item["uuid"] for item in answer["changed"]] == [m2, m1, new["uuid"]]
    assert answer["deleted"] == [world.times["a1"]["uuid"]]
    assert follower.copy == follower.listed()


def test_the_feed_shows_a_caller_what_the_list_shows_them(api: Api, world: World) -> None:
    admin = api.admin_token()
    followers = {who: Follower(api, world.token(who)) for who in ("member", "spec", "loner")}
    for follower in followers.values():
        follower.follow()
    hidden = api.create_time(admin, ADMIN[0], "pgd", activities=["dev"])  # member does not spectate pgd
    api.ok(api.post(f"/times/{world.times['m3']['uuid']}", {"notes": "own"}, world.token("member")))
    assert api.delete(f"/times/{world.times['m2b']['uuid']}", admin).status == 200
    answers = {who: follower.follow() for who, follower in followers.items()}
    assert hidden["uuid"] not in json.dumps(answers)
    assert answers["loner"]["changed"] == [] and answers["loner"]["deleted"] == []
    assert answers["spec"]["deleted"] == [world.times["m2b"]["uuid"]]
    assert [item["uuid"] for item in answers["member"]["changed"]] == [world.times["m3"]["uuid"]]
    for follower in followers.values():
        assert follower.copy == follower.listed()


@pytest.mark.parametrize(
    ("collection", "key"), [("projects", "uuid"), ("activities", "uuid"), ("users", "username")]
)
def test_the_feed_of_other_collections(api: Api, world: World, collection: str, key: str) -> None:
    admin = api.admin_token()
    follower = Follower(api, admin, collection, key)
    follower.follow()
    if collection == "projects":
        created = api.create_project()
        api.ok(api.post("/projects/pgd", {"users": {"member2": roles(member=True)}}, admin))
        api.delete(f"/times/{world.times['m3']['uuid']}", admin)
        api.delete(f"/times/{world.times['a1']['uuid']}", admin)
        assert api.delete("/projects/pgd", admin).status == 200
        expected = ([created["uuid"]], [world.projects["pgd"]["uuid"]])
    elif collection == "activities":
        created = api.create_activity()
        api.ok(api.post("/activities/docs", {"name": "Docs, renamed"}, admin))
        expected = ([created["uuid"], world.activities["docs"]["uuid"]], [])
    else:
        created = {"username": api.create_user().username}
        assert api.delete("/users/loner", admin).status == 200
        expected = ([created["username"]], ["loner"])
    answer = follower.follow()
    assert ([item[key] for item in answer["changed"]], answer["deleted"]) == expected
    assert follower.copy == follower.listed()


def test_a_complete_read_comes_in_pages_and_misses_nothing_written_meanwhile(
    api: Api, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pymesync.server.routes import changes

    monkeypatch.setattr(changes, "PAGE", 2)
    admin = api.admin_token()
    first = api.ok(api.get("/changes/times", admin))
    assert len(first["changed"]) == 2 and first["more"] is True
    delivered = first["changed"][0]["uuid"]
    api.ok(api.post(f"/times/{delivered}", {"notes": "between pages"}, admin))
    assert api.delete(f"/times/{first['changed'][1]['uuid']}", admin).status == 200
    follower = Follower(api, admin)
    follower.since = first["next"]
    follower.copy = {item["uuid"]: item for item in first["changed"]}
    follower.follow()  # the other pages, then the log from the first page's position
    follower.follow()
    assert follower.copy == follower.listed()
    assert follower.copy[delivered]["notes"] == "between pages"


def test_a_write_by_another_program_is_in_the_feed(api: Api, world: World, server: Any) -> None:
    follower = Follower(api, api.admin_token())
    follower.follow()
    uuid = world.times["m1"]["uuid"]
    engine = storage.create_engine(server.database_url)
    try:
        with engine.begin() as connection:  # what the reference server or an admin's SQL would do
            connection.execute(
                sa.update(schema.times).where(schema.times.c.uuid == uuid).values(notes="by SQL")
            )
    finally:
        engine.dispose()
    answer = follower.follow()
    assert [(item["uuid"], item["notes"]) for item in answer["changed"]] == [(uuid, "by SQL")]


def test_a_token_that_cannot_continue_means_start_over(
    api: Api, world: World, server: Any, start_server: Callable[..., Api]
) -> None:
    admin = api.admin_token()
    follower = Follower(api, admin)
    follower.follow()
    other = start_server()
    for bad in ("garbage", "eyJ2IjoxfQ", Follower(other, other.admin_token()).follow()["next"]):
        answer = api.get("/changes/times", admin, since=bad)
        assert answer.status == 410 and answer.json["error"] == "Start over", answer.json
    api.ok(api.post(f"/times/{world.times['m1']['uuid']}", {"notes": "pruned"}, admin))
    engine = storage.create_engine(server.database_url)
    try:
        with storage.transaction(engine, write=True) as connection:
            assert changelog.prune(connection, storage.now_ms() + 1) > 0
    finally:
        engine.dispose()
    answer = api.get("/changes/times", admin, since=follower.since)
    assert answer.status == 410 and "pruned" in answer.json["text"]
    follower.since = None
    follower.follow()
    api.ok(api.post(f"/times/{world.times['m2']['uuid']}", {"notes": "after the pruning"}, admin))
    assert [item["notes"] for item in follower.follow()["changed"]] == ["after the pruning"]
    assert follower.copy == follower.listed()


def test_a_nothing_changed_answer_keeps_the_place(api: Api, world: World) -> None:
    """The quick answer when the log did not move: its token, and the one it answered, both see the
    next change, made by the API or committed straight to the database between two calls."""
    admin = api.admin_token()
    follower = Follower(api, admin)
    follower.follow()
    since = follower.since
    quiet = api.ok(api.get("/changes/times", admin, since=since))
    assert quiet == {"changed": [], "deleted": [], "next": quiet["next"], "more": False}
    assert api.ok(api.get("/changes/times", admin, since=quiet["next"]))["changed"] == []
    uuid = world.times["m1"]["uuid"]
    api.ok(api.post(f"/times/{uuid}", {"notes": "after the quiet answer"}, admin))
    for token in (since, quiet["next"]):
        answer = api.ok(api.get("/changes/times", admin, since=token))
        assert [(item["uuid"], item["notes"]) for item in answer["changed"]] == [
            (uuid, "after the quiet answer")
        ]
    follower.follow()
    assert follower.follow()["changed"] == []


def test_many_changes_are_read_beside_the_event_loop(
    api: Api, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read with a token that finds more changes than the event loop takes on is answered whole,
    run again in the thread pool."""
    from pymesync.server.routes import changes

    monkeypatch.setattr(changes, "ON_LOOP_KEYS", 1)
    admin = api.admin_token()
    follower = Follower(api, admin)
    follower.follow()
    names = ["m1", "m2", "m3"]
    for name in names:
        api.ok(api.post(f"/times/{world.times[name]['uuid']}", {"notes": f"{name} again"}, admin))
    answer = follower.follow()
    assert [item["notes"] for item in answer["changed"]] == [f"{name} again" for name in names]
    api.ok(api.post(f"/times/{world.times['m1']['uuid']}", {"notes": "one more"}, admin))
    assert [item["notes"] for item in follower.follow()["changed"]] == ["one more"]
    assert follower.copy == follower.listed()


def test_changes_of_other_kinds_move_the_place_and_show_nothing(api: Api, world: World) -> None:
    admin = api.admin_token()
    follower = Follower(api, admin, "projects")
    follower.follow()
    api.ok(api.post(f"/times/{world.times['m1']['uuid']}", {"notes": "a time, not a project"}, admin))
    answer = follower.follow()
    assert (answer["changed"], answer["deleted"]) == ([], [])
    api.ok(api.post("/projects/pgd", {"name": "Renamed"}, admin))
    assert [item["name"] for item in follower.follow()["changed"]] == ["Renamed"]
    assert follower.copy == follower.listed()


def test_a_token_ahead_of_the_database_means_start_over(api: Api, world: World) -> None:
    admin = api.admin_token()
    follower = Follower(api, admin)
    follower.follow()
    assert follower.since is not None
    token = changelog.parse_token(follower.since)
    for ahead in (
        changelog.Token(token.log_id, token.position + 1000),
        changelog.Token(token.log_id, token.position + 1000, after=1),
    ):
        answer = api.get("/changes/times", admin, since=ahead.encode())
        assert answer.status == 410 and "ahead of this database" in answer.json["text"], answer.json
    for beyond in (changelog.Token(token.log_id, 2**64), changelog.Token(token.log_id, 1, after=2**64)):
        answer = api.get("/changes/times", admin, since=beyond.encode())
        assert answer.status == 410 and "not a changes token" in answer.json["text"], answer.json
    assert api.ok(api.get("/changes/times", admin, since=follower.since))["changed"] == []


def test_the_caller_is_checked_before_the_token(api: Api, world: World) -> None:
    follower = Follower(api, api.admin_token())
    follower.follow()
    for since in (follower.since, "garbage"):
        assert api.get("/changes/times", since=since).status == 401
        assert api.get("/changes/times", "not-a-token", since=since).status == 401


def test_new_rights_of_a_caller_apply_to_the_feed_at_once(api: Api, world: World) -> None:
    """What a follower may see is decided per request, though its statement is built once per caller."""
    admin, member = api.admin_token(), world.token("member")
    follower = Follower(api, member)
    follower.follow()
    others = world.times["m2b"]["uuid"]  # member2's, in gwm, where member only works
    api.ok(api.post(f"/times/{others}", {"notes": "unseen"}, admin))
    assert follower.follow()["changed"] == []
    api.ok(api.post("/users/member", {"site_spectator": True}, admin))
    api.ok(api.post(f"/times/{others}", {"notes": "seen"}, admin))
    assert [item["notes"] for item in follower.follow()["changed"]] == ["seen"]
    api.ok(api.post("/users/member", {"site_spectator": False}, admin))
    api.ok(api.post(f"/times/{others}", {"notes": "unseen again"}, admin))
    assert others not in json.dumps(follower.follow())


def test_the_log_is_pruned_beside_the_requests(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker prunes in a thread of its own, once an hour: the request that starts it is
    answered as usual, and a token that needed the pruned rows then gets 410."""
    monkeypatch.setenv("TIMESYNC_CHANGES_RETENTION_DAYS", str(0.1 / 86_400))  # a tenth of a second
    with processes.deployment(backend, 2, 1, tmp_path) as running:
        first, second = running.api(0), running.api(1)
        admin = first.admin_token()
        follower = Follower(first, admin)
        project = first.create_project(users={ADMIN[0]: roles(member=True)})["slugs"][0]
        activity = first.create_activity()["slug"]
        uuid = first.create_time(admin, ADMIN[0], project, activities=[activity])["uuid"]
        follower.follow()  # the first process prunes what is older than a tenth of a second
        first.ok(first.post(f"/times/{uuid}", {"notes": "to be pruned"}, admin))
        time.sleep(0.3)
        answer = second.get("/changes/times", admin, since=follower.since)  # the second one prunes now
        assert answer.status in (200, 410), answer.json
        deadline = time.monotonic() + 15
        while answer.status == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
            answer = second.get("/changes/times", admin, since=follower.since)
        assert answer.status == 410 and "pruned" in answer.json["text"], answer.json
        assert first.get("/changes/times", admin, since=follower.since).status == 410
        follower.since = None
        assert [item["notes"] for item in follower.follow()["changed"]] == ["to be pruned"]
        assert follower.copy == follower.listed()
        assert "pruning the change log failed" not in running.log_text()


@pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL")
@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_transaction_that_commits_late_is_not_missed(api: Api, world: World, server: Any) -> None:
    """A write made first but committed last (an older seq than what the reader saw) still arrives."""
    import psycopg

    admin = api.admin_token()
    follower = Follower(api, admin)
    follower.follow()
    late, early = world.times["m1"]["uuid"], world.times["m2"]["uuid"]
    url = server.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as slow:
        slow.execute("UPDATE times SET notes = 'committed late' WHERE uuid = %s", (late,))
        api.ok(api.post(f"/times/{early}", {"notes": "committed early"}, admin))
        while_open = follower.follow()
        assert late not in json.dumps(while_open)
        slow.commit()
    after = follower.follow()
    seen = {item["uuid"]: item["notes"] for item in [*while_open["changed"], *after["changed"]]}
    assert seen == {late: "committed late", early: "committed early"}
    assert follower.copy == follower.listed()


@pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL")
@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_write_still_open_when_the_token_was_given_is_not_missed(
    api: Api, world: World, server: Any
) -> None:
    """The token given while a transaction that wrote is open, by the quick answer or not, stays
    behind it: the write arrives once it commits."""
    import psycopg

    admin = api.admin_token()
    follower = Follower(api, admin)
    uuid = world.times["m1"]["uuid"]
    url = server.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as slow:
        slow.execute("UPDATE times SET notes = 'open while the token was given' WHERE uuid = %s", (uuid,))
        follower.follow()  # a complete read: its token is behind the open write
        quiet = follower.follow()
        assert quiet["changed"] == [] and follower.follow()["changed"] == []
        slow.commit()
    answer = follower.follow()
    assert [(item["uuid"], item["notes"]) for item in answer["changed"]] == [
        (uuid, "open while the token was given")
    ]
    assert follower.copy == follower.listed()


def _encoded(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


_JSON_VALUES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_PAYLOADS = (
    st.fixed_dictionaries(
        {"v": st.just(1) | _JSON_VALUES, "log": _JSON_VALUES, "pos": _JSON_VALUES},
        optional={"after": _JSON_VALUES},
    )
    | _JSON_VALUES
    | st.lists(_JSON_VALUES, max_size=3)
)
_SINCE = st.text(max_size=300) | _PAYLOADS.map(_encoded)


@given(_SINCE)
@example(_encoded({"v": 1, "log": "a", "pos": float("inf")}))
@example(_encoded({"v": 1, "log": "a", "pos": 1, "after": float("nan")}))
@example(_encoded({"v": 1, "log": "a", "pos": 2**64}))
def test_any_since_is_a_token_or_start_over(text: str) -> None:
    try:
        token = changelog.parse_token(text)
    except changelog.StartOver:
        return
    assert isinstance(token.log_id, str) and 0 <= token.position < 2**63
    assert token.after is None or 0 <= token.after < 2**63


@given(
    st.text("0123456789abcdef", min_size=16, max_size=16),
    st.integers(0, 2**63 - 1),
    st.none() | st.integers(0, 2**63 - 1),
)
def test_a_token_reads_back_as_it_was_written(log_id: str, position: int, after: int | None) -> None:
    token = changelog.Token(log_id, position, after)
    assert changelog.parse_token(token.encode()) == token


# --- many writers, several workers, one follower ---------------------------------------------------------


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Two worker processes on PostgreSQL when there is one, else on SQLite."""
    backend = "postgresql" if POSTGRES_URL else "sqlite"
    tmp: Path = tmp_path_factory.mktemp("feed")
    with processes.deployment(backend, 1, 2, tmp) as running:
        yield running


WRITERS = 3


class FeedUnderConcurrentWrites(RuleBasedStateMachine):
    """Writers create, update and delete times at once through both workers; the follower (an
    admin) and a member who sees only their own times read the feed in between."""

    deployment: Deployment

    @initialize()
    def start(self) -> None:
        api = self.deployment.api(0)
        admin = api.admin_token()
        self.names = [api.create_user().username for _ in range(WRITERS)]
        self.tokens = [api.token(name) for name in self.names]
        self.project = api.create_project(users={name: roles(member=True) for name in self.names})["slugs"][0]
        self.activity = api.create_activity()["slug"]
        self.follower = Follower(api, admin)
        self.member = Follower(self.deployment.api(1), self.tokens[0])
        self.follower.follow()
        self.member.follow()
        self.mine: list[list[str]] = [[] for _ in range(WRITERS)]

    def _write(self, index: int, action: str, pick: int) -> None:
        api, token = self.deployment.api(index), self.tokens[index % WRITERS]
        own = self.mine[index % WRITERS]
        if action == "create" or not own:
            created = api.create_time(
                token, self.names[index % WRITERS], self.project, activities=[self.activity]
            )
            own.append(created["uuid"])
        elif action == "update":
            api.ok(api.post(f"/times/{own[pick % len(own)]}", {"notes": f"w{index}-{pick}"}, token))
        else:
            assert api.delete(f"/times/{own.pop(pick % len(own))}", token).status == 200

    @rule(
        burst=st.lists(
            st.tuples(st.sampled_from(["create", "update", "delete"]), st.integers(0, 50)),
            min_size=1,
            max_size=WRITERS,
        )
    )
    def writers_at_once(self, burst: list[tuple[str, int]]) -> None:
        threads = [
            threading.Thread(target=self._write, args=(index, action, pick))
            for index, (action, pick) in enumerate(burst)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    @rule()
    def follow(self) -> None:
        self.follower.follow()

    @rule()
    def member_follows(self) -> None:
        self.member.follow()

    def teardown(self) -> None:
        if hasattr(self, "follower"):
            for follower in (self.follower, self.member):
                follower.follow()
                assert follower.copy == follower.listed()


def test_followers_keep_up_with_concurrent_writers(workers: Deployment) -> None:
    FeedUnderConcurrentWrites.deployment = workers
    runner = FeedUnderConcurrentWrites.TestCase
    runner.settings = settings(
        max_examples=6, stateful_step_count=10, deadline=None, suppress_health_check=list(HealthCheck)
    )
    runner().runTest()
