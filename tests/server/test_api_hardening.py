"""Security review, issue 13: the server's answers to costly hashes, bad passwords, dates at the end of
the calendar, and cross-origin requests (docs/server.md, "Security hardening")."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import bcrypt
import pytest
import sqlalchemy as sa

from pymesync.server import schema, storage, throttle

from .helpers import PASSWORD, PASSWORD_HASH, Api, World, bad_object, bad_query, unique


def _with_cost(hashed: str, cost: int) -> str:
    """The same hash with another cost field: bcrypt would spend 2**cost rounds on it."""
    return f"{hashed[:4]}{cost:02d}{hashed[6:]}"


def _store_hash(database_url: str, username: str, hashed: str) -> None:
    """Write a user row with this password hash as it is, as another program or an old server may."""
    engine = storage.create_engine(database_url)
    try:
        with storage.transaction(engine, write=True) as connection:
            connection.execute(
                sa.insert(schema.users).values(
                    username=username, password=hashed, active=True, created_at=storage.now_ms()
                )
            )
    finally:
        engine.dispose()


def _password_error(expected: str, received: str) -> dict[str, Any]:
    return bad_object(f"Field password of user should be {expected} but was sent as {received}")


# --- finding 1: costly bcrypt hashes -----------------------------------------------------------


def test_a_login_flood_leaves_other_requests_fast(start_server: Callable[..., Api]) -> None:
    """40 logins for a user whose stored hash costs 2**14 rounds and 40 for an ordinary user
    (cost 10, what clients send) at once: other requests keep their thread and stay fast.
    Without the login throttle, which would refuse most of the failures before bcrypt runs."""
    api = start_server(login_throttle=throttle.OFF)
    server = api.server  # type: ignore[attr-defined]
    _store_hash(server.database_url, "costly", _with_cost(PASSWORD_HASH, 14))
    ordinary = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()
    _store_hash(server.database_url, "ordinary", ordinary)
    token = api.admin_token()

    def log_in(username: str) -> int:
        return api.login(username, PASSWORD).status

    with ThreadPoolExecutor(80) as pool:
        flood = [pool.submit(log_in, name) for name in ["costly", "ordinary"] * 40]
        time.sleep(0.3)
        latencies = []
        for _ in range(5):
            started = time.perf_counter()
            assert api.get("/users", token).status == 200
            latencies.append(time.perf_counter() - started)
        statuses = [future.result(timeout=120) for future in flood]
    assert max(latencies) < 1.0, latencies
    costly, plain = statuses[0::2], statuses[1::2]
    assert set(costly) <= {401, 503}, costly  # never 200: the hash is not checked at all
    assert set(plain) <= {200, 503} and 200 in plain, plain
    assert api.login("ordinary", PASSWORD).status == 200
    assert api.login("costly", PASSWORD).json["text"] == "Incorrect username or password"


def test_a_flooded_login_gets_503_with_the_error_shape(start_server: Callable[..., Api]) -> None:
    """Beyond 4 running and 12 waiting bcrypt checks a login is refused at once, not queued."""
    api = start_server()
    _store_hash(api.server.database_url, "slow", bcrypt.hashpw(b"pw", bcrypt.gensalt(12)).decode())  # type: ignore[attr-defined]
    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(lambda _: api.login("slow", "pw"), range(40)))
    busy = [answer for answer in answers if answer.status == 503]
    assert busy and {answer.status for answer in answers} == {200, 503}
    assert busy[0].json == {
        "status": 503,
        "error": "Service unavailable",
        "text": "Too many logins at once; try again shortly",
    }
    assert busy[0].header("Retry-After") == "1"


@pytest.mark.parametrize("cost", [3, 13, 14, 31])
def test_hashes_of_a_cost_outside_4_to_12_are_refused(world: World, cost: int) -> None:
    api = world.api
    hashed = _with_cost(PASSWORD_HASH, cost)
    expected = _password_error("bcrypt hash of cost 4 to 12", f"bcrypt hash of cost {cost}")
    name = unique("costly")
    created = api.post("/users", {"username": name, "password": hashed}, api.admin_token())
    assert created.json == expected
    assert api.get(f"/users/{name}", api.admin_token()).status == 404
    member = world.users["member"]
    assert api.post("/users/member", {"password": hashed}, member.token).json == expected
    assert api.login("member", PASSWORD).status == 200  # the stored hash is unchanged


@pytest.mark.parametrize("cost", [4, 10, 12])
def test_hashes_that_clients_send_are_still_stored(api: Api, cost: int) -> None:
    hashed = bcrypt.hashpw(b"client-made", bcrypt.gensalt(cost)).decode()
    name = unique("client")
    assert api.post("/users", {"username": name, "password": hashed}, api.admin_token()).status == 200
    assert api.login(name, "client-made").status == 200


# --- finding 6: plaintext passwords ------------------------------------------------------------

TOO_LONG = _password_error("string of at most 72 UTF-8 bytes", "longer string")


@pytest.mark.parametrize("password", ["a" * 73, "é" * 37, "🔑" * 19])
def test_passwords_over_72_bytes_are_refused(world: World, password: str) -> None:
    api = world.api
    name = unique("long")
    assert api.post("/users", {"username": name, "password": password}, api.admin_token()).json == TOO_LONG
    member = world.users["member"]
    assert api.post("/users/member", {"password": password}, member.token).json == TOO_LONG
    assert api.login("member", PASSWORD).status == 200


def test_long_passwords_never_match_on_their_first_72_bytes(api: Api) -> None:
    name = unique("long")
    assert api.post("/users", {"username": name, "password": "a" * 72}, api.admin_token()).status == 200
    assert api.login(name, "a" * 72).status == 200
    assert api.login(name, "a" * 72 + "different tail").status == 401


def test_an_empty_password_is_refused_on_update(world: World) -> None:
    api = world.api
    answer = api.post("/users/member", {"password": ""}, world.token("member"))
    assert answer.json == _password_error("non-empty string", "empty string")
    assert api.login("member", PASSWORD).status == 200


def test_the_minimum_password_length_is_a_setting(start_server: Callable[..., Api]) -> None:
    api = start_server(min_password_length=10)
    token = api.admin_token()
    short = _password_error("string of at least 10 characters", "shorter string")
    assert api.post("/users", {"username": "shorty", "password": "nine char"}, token).json == short
    assert api.post("/users", {"username": "longer", "password": "ten chars!"}, token).status == 200
    assert api.post("/users/longer", {"password": "123456789"}, token).json == short
    # a hash made by the client cannot be measured, so it is taken whatever the length behind it
    assert api.post("/users", {"username": "hashed", "password": PASSWORD_HASH}, token).status == 200


# --- finding 5: dates at the ends of the calendar ----------------------------------------------


def test_the_last_day_as_end_bound_is_a_bad_query_value(shared_world: World) -> None:
    api = shared_world.api
    assert api.get("/times", api.admin_token(), end="9999-12-31").json == bad_query("end", "9999-12-31")
    assert api.get("/times", api.admin_token(), end="9999-12-30").status == 200


@pytest.mark.parametrize("day", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00"])
def test_dates_worked_outside_the_calendar_in_utc_are_invalid(shared_world: World, day: str) -> None:
    world = shared_world
    api, token = world.api, world.token("member")
    expected = bad_object(f"Field date_worked of time should be ISO-8601 date but was sent as {day}")
    fields = {"duration": 60, "user": "member", "project": "gwm", "date_worked": day}
    assert api.post("/times", fields, token).json == expected
    time_uuid = world.times["m1"]["uuid"]
    assert api.post(f"/times/{time_uuid}", {"date_worked": day}, token).json == expected


# --- finding 3: CORS allow-list ----------------------------------------------------------------


def test_cors_headers_only_for_listed_origins(start_server: Callable[..., Api]) -> None:
    api = start_server(cors_origins=("https://app.example.org", "http://localhost:3000"))
    token = api.admin_token()

    def get(origin: str) -> Any:
        return api.request("GET", "/users", token=token, headers={"Origin": origin})

    allowed = get("https://app.example.org")
    assert allowed.header("Access-Control-Allow-Origin") == "https://app.example.org"
    assert allowed.header("Vary") == "Origin"
    other = get("https://evil.example")
    assert other.status == 200 and other.header("Access-Control-Allow-Origin") is None
    assert other.header("Vary") == "Origin"  # caches must not hand one origin's answer to another

    preflight_headers = {
        "Origin": "http://localhost:3000",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-steal-this",
    }
    preflight = api.raw("OPTIONS", "/v1/times", headers=preflight_headers)
    assert preflight.status == 204
    assert preflight.header("Access-Control-Allow-Origin") == "http://localhost:3000"
    assert preflight.header("Access-Control-Allow-Methods") == "GET,HEAD,PUT,PATCH,POST,DELETE"
    assert preflight.header("Access-Control-Allow-Headers") == "Content-Type"
    refused = api.raw("OPTIONS", "/v1/times", headers={**preflight_headers, "Origin": "https://evil.example"})
    assert refused.status == 204
    assert refused.header("Access-Control-Allow-Origin") is None
    assert refused.header("Access-Control-Allow-Methods") is None


def test_a_star_in_the_allow_list_admits_every_origin(start_server: Callable[..., Api]) -> None:
    api = start_server(cors_origins=("*",))
    answer = api.request("GET", "/users", token=api.admin_token(), headers={"Origin": "https://any.example"})
    assert answer.header("Access-Control-Allow-Origin") == "*"


# --- findings 7 and 8: headers -------------------------------------------------------------------


def test_login_cache_control_and_the_csp_are_well_formed(shared_api: Api) -> None:
    login = shared_api.login("admin", "adminpass")
    assert login.header("Cache-Control") == "no-cache, no-store, must-revalidate, max-age=0"
    csp = "default-src 'none'; script-src 'self'; connect-src 'self'"
    assert login.header("Content-Security-Policy") == csp
    assert shared_api.get("/nothing/here").header("Content-Security-Policy") == csp
