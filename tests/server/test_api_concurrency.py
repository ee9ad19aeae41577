"""Every write path under simultaneous requests, checked on the stored state afterwards.

The servers here are real ``timesync-server serve`` processes: one with 1, 2 or 4 workers, or two
separate processes on one database (as two hosts would run). Each round fires many requests at
one object or one name at the same moment (threads released by a barrier), then reads the
database directly and checks what the API promises: every acknowledged write is stored,
revisions of an object are consecutive with exactly one ``newest`` row, names, slugs and
usernames stay unique, and the losers of a race get the documented 4xx, never a 5xx.

SQLite serialises writers, so its deployments pass trivially; PostgreSQL is where races show.
"""

from __future__ import annotations

import collections
import itertools
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from pymesync.server import schema, storage

from . import processes
from .conftest import POSTGRES_URL
from .helpers import ADMIN, PASSWORD_HASH, Api, Response, unique
from .processes import Deployment

#: Simultaneous clients per round, and updates each of them sends to one object.
CLIENTS = 8
UPDATES_EACH = 12

#: (name, backend, processes, workers per process)
DEPLOYMENTS = [
    ("sqlite-2-processes", "sqlite", 2, 1),
    ("postgresql-1-worker", "postgresql", 1, 1),
    ("postgresql-2-workers", "postgresql", 1, 2),
    ("postgresql-4-workers", "postgresql", 1, 4),
    ("postgresql-2-processes", "postgresql", 2, 1),
]


@pytest.fixture(
    scope="module",
    params=[pytest.param(d, id=d[0]) for d in DEPLOYMENTS if d[1] == "sqlite" or POSTGRES_URL],
)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    _, backend, count, workers = request.param
    with processes.deployment(backend, count, workers, tmp_path_factory.mktemp("deployment")) as running:
        yield running
        assert "Traceback" not in running.log_text()


def _at_once(deployment: Deployment, calls: Sequence[Callable[[Api], Response]]) -> list[Response]:
    """Run every call in its own thread, all released together; answers in the calls' order."""
    barrier = threading.Barrier(len(calls))
    answers: list[Response | None] = [None] * len(calls)

    def run(index: int) -> None:
        api = deployment.api(index)
        barrier.wait()
        answers[index] = calls[index](api)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(answer is not None for answer in answers)
    return [answer for answer in answers if answer is not None]


def _statuses(answers: Sequence[Response]) -> collections.Counter[int]:
    return collections.Counter(answer.status for answer in answers)


def _no_server_errors(answers: Sequence[Response]) -> None:
    failed = [(answer.status, answer.body[:200]) for answer in answers if answer.status >= 500]
    assert not failed, failed


def _each_client_sends(
    deployment: Deployment, count: int, call: Callable[[Api, int, int], Response]
) -> list[Response]:
    """CLIENTS clients, released together, each sending ``count`` requests one after another."""
    barrier = threading.Barrier(CLIENTS)
    answers: list[list[Response]] = [[] for _ in range(CLIENTS)]

    def run(client: int) -> None:
        api = deployment.api(client)
        barrier.wait()
        answers[client] = [call(api, client, step) for step in range(count)]

    threads = [threading.Thread(target=run, args=(client,)) for client in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return list(itertools.chain.from_iterable(answers))


def _revisions(engine: sa.Engine, table: sa.Table, uuid: str) -> list[tuple[int, bool]]:
    """(revision, newest) of every stored row of one object, in row order."""
    query = sa.select(table.c.revision, table.c.newest).where(table.c.uuid == uuid).order_by(table.c.id)
    with engine.connect() as connection:
        return [(row.revision, bool(row.newest)) for row in connection.execute(query)]


def _assert_consecutive(engine: sa.Engine, table: sa.Table, uuid: str, acknowledged: int) -> None:
    stored = _revisions(engine, table, uuid)
    assert [revision for revision, _ in stored] == list(range(1, acknowledged + 2))
    assert [newest for _, newest in stored] == [False] * acknowledged + [True]


@pytest.fixture(scope="module")
def admin(deployment: Deployment) -> str:
    return deployment.apis[0].admin_token()


def test_a_token_from_one_process_is_accepted_by_every_other(deployment: Deployment) -> None:
    """The signing key is in the shared database: a login on one host serves on all of them."""
    for issuer in deployment.apis:
        login = issuer.login(*ADMIN)
        assert login.status == 200, login.body
        for api in deployment.apis:
            assert api.get("/users/admin", login.json["token"]).status == 200


def test_failed_logins_are_counted_across_every_process(deployment: Deployment) -> None:
    """The login throttle's default burst (5 failures for one username from one address) holds
    whichever process or worker answers each guess: the sixth is refused."""
    username = unique("guessed")
    guesses = [deployment.api(n).login(username, f"guess {n}").status for n in range(5)]
    assert guesses == [401] * 5
    refused = deployment.api(5).login(username, "guess 5")
    assert refused.status == 429, refused.body
    assert refused.header("Retry-After")


def test_updates_of_one_time_are_all_kept(deployment: Deployment, admin: str) -> None:
    api = deployment.apis[0]
    slug = api.create_project(users={ADMIN[0]: {"member": True}})["slugs"][0]
    activity = api.create_activity()["slug"]
    uuid = api.create_time(admin, ADMIN[0], slug, activities=[activity])["uuid"]

    def update(api: Api, client: int, step: int) -> Response:
        return api.post(f"/times/{uuid}", {"notes": f"c{client}-s{step}"}, admin)

    answers = _each_client_sends(deployment, UPDATES_EACH, update)
    _no_server_errors(answers)
    assert _statuses(answers) == {200: CLIENTS * UPDATES_EACH}
    revisions = sorted(answer.json["revision"] for answer in answers)
    assert revisions == list(range(2, CLIENTS * UPDATES_EACH + 2))
    _assert_consecutive(deployment.engine, schema.times, uuid, CLIENTS * UPDATES_EACH)
    history = api.ok(api.get(f"/times/{uuid}", admin, include_revisions=True))
    stored_notes = {history["notes"], *(parent["notes"] for parent in history["parents"])}
    assert {answer.json["notes"] for answer in answers} <= stored_notes
    assert history["activities"] == [activity]


def test_one_project_name_one_winner(deployment: Deployment, admin: str) -> None:
    name = unique("Race project ")
    answers = _at_once(
        deployment,
        [
            lambda api, n=n: api.post("/projects", {"name": name, "slugs": [unique("np")]}, admin)
            for n in range(CLIENTS)
        ],
    )
    _no_server_errors(answers)
    assert _statuses(answers) == {200: 1, 400: CLIENTS - 1}
    projects = schema.projects
    query = sa.select(sa.func.count()).where(projects.c.name == name)
    with deployment.engine.connect() as connection:
        assert connection.execute(query).scalar() == 1


def test_one_project_slug_one_winner(deployment: Deployment, admin: str) -> None:
    slug = unique("ps")
    answers = _at_once(
        deployment,
        [
            lambda api, n=n: api.post("/projects", {"name": unique("Slug race "), "slugs": [slug]}, admin)
            for n in range(CLIENTS)
        ],
    )
    _no_server_errors(answers)
    assert _statuses(answers) == {200: 1, 409: CLIENTS - 1}
    slugs = schema.projectslugs
    with deployment.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).where(slugs.c.name == slug)).scalar() == 1


def test_slug_claimed_by_updates_of_two_projects(deployment: Deployment, admin: str) -> None:
    api = deployment.apis[0]
    owners = [api.create_project()["slugs"][0] for _ in range(CLIENTS)]
    wanted = unique("claimed")
    answers = _at_once(
        deployment,
        [
            lambda api, owner=owner: api.post(f"/projects/{owner}", {"slugs": [owner, wanted]}, admin)
            for owner in owners
        ],
    )
    _no_server_errors(answers)
    assert _statuses(answers) == {200: 1, 409: CLIENTS - 1}
    slugs = schema.projectslugs
    with deployment.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).where(slugs.c.name == wanted)).scalar() == 1


def test_one_activity_slug_and_name_one_winner(deployment: Deployment, admin: str) -> None:
    slug, name = unique("as"), unique("Activity race ")
    by_slug = [
        lambda api: api.post("/activities", {"name": unique("Activity "), "slug": slug}, admin)
    ] * CLIENTS
    by_name = [lambda api: api.post("/activities", {"name": name, "slug": unique("an")}, admin)] * CLIENTS
    answers = _at_once(deployment, [*by_slug, *by_name])
    _no_server_errors(answers)
    assert _statuses(answers[:CLIENTS]) == {200: 1, 409: CLIENTS - 1}
    assert _statuses(answers[CLIENTS:]) == {200: 1, 400: CLIENTS - 1}
    activities = schema.activities
    with deployment.engine.connect() as connection:
        count = sa.select(sa.func.count())
        assert connection.execute(count.where(activities.c.slug == slug)).scalar() == 1
        assert connection.execute(count.where(activities.c.name == name)).scalar() == 1


def test_one_username_one_winner(deployment: Deployment, admin: str) -> None:
    username = unique("racer")
    answers = _at_once(
        deployment,
        [lambda api: api.post("/users", {"username": username, "password": PASSWORD_HASH}, admin)] * CLIENTS,
    )
    _no_server_errors(answers)
    assert _statuses(answers) == {200: 1, 409: CLIENTS - 1}
    users = schema.users
    with deployment.engine.connect() as connection:
        query = sa.select(sa.func.count()).where(users.c.username == username)
        assert connection.execute(query).scalar() == 1


def test_project_updates_and_membership_changes_are_all_kept(deployment: Deployment, admin: str) -> None:
    api = deployment.apis[0]
    members = [api.create_user().username for _ in range(3)]
    project = api.create_project()
    slug = project["slugs"][0]

    def update(api: Api, client: int, step: int) -> Response:
        member = members[(client + step) % len(members)]
        changes: dict[str, Any] = {"users": {member: {"member": True, "manager": step % 2 == 0}}}
        if step % 3 == 0:
            changes["name"] = f"{slug} c{client} s{step}"
        return api.post(f"/projects/{slug}", changes, admin)

    answers = _each_client_sends(deployment, UPDATES_EACH // 2, update)
    _no_server_errors(answers)
    acknowledged = CLIENTS * (UPDATES_EACH // 2)
    assert _statuses(answers) == {200: acknowledged}
    assert sorted(answer.json["revision"] for answer in answers) == list(range(2, acknowledged + 2))
    _assert_consecutive(deployment.engine, schema.projects, project["uuid"], acknowledged)
    projects, userroles, slugs = schema.projects, schema.userroles, schema.projectslugs
    with deployment.engine.connect() as connection:
        newest = connection.execute(
            sa.select(projects.c.id).where(projects.c.uuid == project["uuid"], projects.c.newest.is_(True))
        ).scalar_one()
        revision_ids = sa.select(projects.c.id).where(projects.c.uuid == project["uuid"])
        roles = connection.execute(
            sa.select(userroles.c.project, userroles.c.user).where(userroles.c.project.in_(revision_ids))
        ).all()
        slug_rows = connection.execute(
            sa.select(slugs.c.project).where(slugs.c.project.in_(revision_ids))
        ).all()
    assert [row.project for row in roles] == [newest], roles  # exactly the last update's one member
    assert [row.project for row in slug_rows] == [newest]
    final = api.ok(api.get(f"/projects/{slug}", admin))
    assert final["revision"] == acknowledged + 1
    assert len(final["users"]) == 1


def _assert_delete_won_or_was_refused(
    deployment: Deployment, answers: Sequence[Response], live: sa.Select[Any]
) -> None:
    """The last answer is a delete that raced the new entries before it: either it won and no
    entry was stored on what it deleted, or it was refused (405) and every stored entry is live."""
    created = [answer for answer in answers[:-1] if answer.status == 200]
    with deployment.engine.connect() as connection:
        live_entries = connection.execute(live).scalar()
    if answers[-1].status == 200:
        assert live_entries == 0 and not created
    else:
        assert answers[-1].status == 405
        assert live_entries == len(created) > 0


def test_deletes_race_updates_and_new_entries(deployment: Deployment, admin: str) -> None:
    """A project deleted while entries are logged to it: either the delete loses (405) or no live
    entry is left on it; a time deleted while updated keeps one newest row."""
    api = deployment.apis[0]
    slug = api.create_project(users={ADMIN[0]: {"member": True}})["slugs"][0]
    activity = api.create_activity()["slug"]
    uuid = api.create_time(admin, ADMIN[0], slug, activities=[activity])["uuid"]
    api.ok(api.delete(f"/times/{uuid}", admin))
    project_uuid = api.ok(api.get(f"/projects/{slug}", admin))["uuid"]

    def new_entry(api: Api) -> Response:
        body = {"duration": 60, "user": ADMIN[0], "project": slug, "activities": [activity]}
        return api.post("/times", {**body, "date_worked": "2016-01-01"}, admin)

    calls: list[Callable[[Api], Response]] = [new_entry] * (CLIENTS - 1)
    calls.append(lambda api: api.delete(f"/projects/{slug}", admin))
    answers = _at_once(deployment, calls)
    _no_server_errors(answers)
    times = schema.times
    live = sa.select(sa.func.count()).where(
        times.c.project == project_uuid, times.c.newest.is_(True), times.c.deleted_at.is_(None)
    )
    _assert_delete_won_or_was_refused(deployment, answers, live)


@pytest.mark.parametrize("named", [True, False], ids=["named", "project-default"])
def test_activity_delete_races_new_entries(deployment: Deployment, admin: str, named: bool) -> None:
    """An activity deleted while entries name it, or take it as their project's default: either
    the delete loses (405) or no live entry has it."""
    api = deployment.apis[0]
    activity = api.create_activity()["slug"]
    members = {ADMIN[0]: {"member": True}}
    slug = api.create_project(users=members, default_activity=activity)["slugs"][0]
    activity_uuid = api.ok(api.get(f"/activities/{activity}", admin))["uuid"]

    def new_entry(api: Api) -> Response:
        body = {"duration": 60, "user": ADMIN[0], "project": slug, "date_worked": "2016-01-01"}
        return api.post("/times", {**body, "activities": [activity]} if named else body, admin)

    calls: list[Callable[[Api], Response]] = [new_entry] * (CLIENTS - 1)
    calls.append(lambda api: api.delete(f"/activities/{activity}", admin))
    answers = _at_once(deployment, calls)
    _no_server_errors(answers)
    times, links, activities = schema.times, schema.timesactivities, schema.activities
    live = (
        sa.select(sa.func.count())
        .select_from(
            times.join(links, links.c.time == times.c.id).join(
                activities, activities.c.id == links.c.activity
            )
        )
        .where(activities.c.uuid == activity_uuid, times.c.newest.is_(True), times.c.deleted_at.is_(None))
    )
    _assert_delete_won_or_was_refused(deployment, answers, live)


def test_a_project_gives_up_a_slug_then_is_deleted_while_entries_name_the_slug(
    deployment: Deployment, admin: str
) -> None:
    """Entries logged by a slug that its project drops, right before the project is deleted by
    another slug: the entries either land before the drop (and the delete is refused, 405), or
    find no project (409); never a live entry on a deleted project."""
    api = deployment.apis[0]
    dropped, kept = unique("dropped"), unique("kept")
    project = api.create_project(slugs=[dropped, kept], users={ADMIN[0]: {"member": True}})
    activity = api.create_activity()["slug"]

    def new_entry(api: Api) -> Response:
        body = {"duration": 60, "user": ADMIN[0], "project": dropped, "activities": [activity]}
        return api.post("/times", {**body, "date_worked": "2016-01-01"}, admin)

    def drop_then_delete(api: Api) -> Response:
        api.ok(api.post(f"/projects/{kept}", {"slugs": [kept]}, admin))
        return api.delete(f"/projects/{kept}", admin)

    calls: list[Callable[[Api], Response]] = [new_entry] * (CLIENTS - 1)
    calls.append(drop_then_delete)
    answers = _at_once(deployment, calls)
    _no_server_errors(answers)
    assert {answer.status for answer in answers[:-1]} <= {200, 409}
    created = [answer for answer in answers[:-1] if answer.status == 200]
    times = schema.times
    live = sa.select(sa.func.count()).where(
        times.c.project == project["uuid"], times.c.newest.is_(True), times.c.deleted_at.is_(None)
    )
    with deployment.engine.connect() as connection:
        live_entries = connection.execute(live).scalar()
    assert live_entries == len(created)
    assert answers[-1].status == (405 if created else 200)


def test_time_delete_races_its_updates(deployment: Deployment, admin: str) -> None:
    api = deployment.apis[0]
    slug = api.create_project(users={ADMIN[0]: {"member": True}})["slugs"][0]
    activity = api.create_activity()["slug"]
    uuid = api.create_time(admin, ADMIN[0], slug, activities=[activity])["uuid"]
    calls: list[Callable[[Api], Response]] = [
        lambda api, n=n: api.post(f"/times/{uuid}", {"duration": 100 + n}, admin) for n in range(CLIENTS)
    ]
    calls.append(lambda api: api.delete(f"/times/{uuid}", admin))
    answers = _at_once(deployment, calls)
    _no_server_errors(answers)
    acknowledged = sum(answer.status == 200 for answer in answers[:-1])
    assert answers[-1].status == 200
    _assert_consecutive(deployment.engine, schema.times, uuid, acknowledged)


def _conditional(api: Api, method: str, path: str, etag: str, token: str, obj: Any = None) -> Response:
    if method == "DELETE":
        return api.request("DELETE", path, token=token, headers={"If-Match": etag})
    body = json.dumps({"auth": {"type": "token", "token": token}, "object": obj}).encode()
    return api.request("POST", path, body=body, headers={"If-Match": etag})


def test_conditional_edits_of_one_time_one_winner(deployment: Deployment, admin: str) -> None:
    """Clients that all read revision 1 edit at once with If-Match: one wins, the others get 412."""
    api = deployment.apis[0]
    slug = api.create_project(users={ADMIN[0]: {"member": True}})["slugs"][0]
    activity = api.create_activity()["slug"]
    uuid = api.create_time(admin, ADMIN[0], slug, activities=[activity])["uuid"]
    etag = api.get(f"/times/{uuid}", admin).header("ETag")
    assert etag == '"1"'
    calls: list[Callable[[Api], Response]] = [
        lambda api, n=n: _conditional(api, "POST", f"/times/{uuid}", '"1"', admin, {"notes": f"c{n}"})
        for n in range(CLIENTS)
    ]
    calls.append(lambda api: _conditional(api, "DELETE", f"/times/{uuid}", '"1"', admin))
    answers = _at_once(deployment, calls)
    _no_server_errors(answers)
    [winner] = [index for index, answer in enumerate(answers) if answer.status == 200]
    # the losers get 412, except updates after a winning delete: a deleted time is 404 to updates
    losers = {412: CLIENTS} if winner < CLIENTS else {404: CLIENTS}
    assert _statuses(answers) == {200: 1, **losers}
    assert all(answer.json["error"] == "Precondition failed" for answer in answers if answer.status == 412)
    stored = api.ok(api.get(f"/times/{uuid}", admin, include_deleted=True))
    if winner == CLIENTS:  # the delete won: still revision 1, now deleted
        _assert_consecutive(deployment.engine, schema.times, uuid, 0)
        assert stored["deleted_at"] is not None and stored["notes"] is None
    else:
        _assert_consecutive(deployment.engine, schema.times, uuid, 1)
        assert stored["notes"] == f"c{winner}" and stored["deleted_at"] is None


def test_password_changes_of_one_user(deployment: Deployment, admin: str) -> None:
    import bcrypt

    api = deployment.apis[0]
    user = api.create_user().username
    passwords = [f"password-{n}" for n in range(CLIENTS)]
    hashes = [bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode() for p in passwords]
    answers = _at_once(
        deployment,
        [lambda api, h=h: api.post(f"/users/{user}", {"password": h}, admin) for h in hashes],
    )
    _no_server_errors(answers)
    assert _statuses(answers) == {200: CLIENTS}
    users = schema.users
    with deployment.engine.connect() as connection:
        stored = connection.execute(sa.select(users.c.password).where(users.c.username == user)).scalar()
    assert stored in hashes
    assert api.login(user, passwords[hashes.index(stored)]).status == 200


# --- retries: faults raised by the database itself (a trigger), PostgreSQL only ----------------------


def _fail_inserts(database_url: str, table: str, failures: int, sqlstate: str) -> None:
    """Make the next ``failures`` inserts into ``table`` fail with ``sqlstate``. The count is a
    sequence, which rolled-back transactions do not undo."""
    import psycopg

    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("CREATE SEQUENCE test_attempts")
        connection.execute(
            f"""CREATE FUNCTION test_fail_insert() RETURNS trigger AS $$
            BEGIN
                IF nextval('test_attempts') <= {failures} THEN
                    RAISE EXCEPTION 'injected' USING ERRCODE = '{sqlstate}';
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql"""
        )
        connection.execute(
            f"CREATE TRIGGER test_fail BEFORE INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION test_fail_insert()"
        )


def _attempts(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as connection:
        row = connection.execute("SELECT last_value, is_called FROM test_attempts").fetchone()
    assert row is not None
    return int(row[0]) if row[1] else 0


@pytest.fixture
def pg_server() -> Iterator[tuple[Api, str]]:
    if not POSTGRES_URL:
        pytest.skip("needs TIMESYNC_TEST_POSTGRES_URL (scripts/test.sh starts a PostgreSQL cluster)")
    from .conftest import running_server
    from .helpers import make_api

    with running_server("postgresql") as srv:
        yield make_api(srv), srv.database_url


def _new_entry(api: Api) -> tuple[str, dict[str, Any]]:
    admin = api.admin_token()
    slug = api.create_project(users={ADMIN[0]: {"member": True}})["slugs"][0]
    activity = api.create_activity()["slug"]
    body = {
        "duration": 60,
        "user": ADMIN[0],
        "project": slug,
        "activities": [activity],
        "date_worked": "2026-11-02",
    }
    return admin, body


def _stored_times(database_url: str) -> int:
    engine = storage.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(schema.times)).scalar() or 0)
    finally:
        engine.dispose()


def test_a_write_that_met_a_conflict_is_run_again(pg_server: tuple[Api, str]) -> None:
    api, url = pg_server
    admin, body = _new_entry(api)
    _fail_inserts(url, "times", failures=2, sqlstate="40001")
    answer = api.post("/times", body, admin)
    assert answer.status == 200, answer.body
    assert _attempts(url) == 3
    assert _stored_times(url) == 1


def test_a_write_that_keeps_meeting_conflicts_is_a_503_and_stores_nothing(pg_server: tuple[Api, str]) -> None:
    from pymesync.server.context import ATTEMPTS

    api, url = pg_server
    admin, body = _new_entry(api)
    _fail_inserts(url, "times", failures=1000, sqlstate="40P01")
    answer = api.post("/times", body, admin)
    assert answer.status == 503
    assert answer.json == {
        "status": 503,
        "error": "Service unavailable",
        "text": "The server is busy with concurrent changes and stored nothing; retry the request.",
    }
    assert answer.header("Retry-After") == "1"
    assert _attempts(url) == ATTEMPTS
    assert _stored_times(url) == 0


def test_a_lock_wait_that_timed_out_is_a_503_at_once(pg_server: tuple[Api, str]) -> None:
    api, url = pg_server
    admin, body = _new_entry(api)
    _fail_inserts(url, "times", failures=1000, sqlstate="55P03")
    assert api.post("/times", body, admin).status == 503
    assert _attempts(url) == 1
    assert _stored_times(url) == 0
