"""Login throttling (docs/server.md, "Login throttling"): leaky buckets in the database per username
and client address, per address, and per username; 429 with ``Retry-After`` when one is full.

Clients connect from different loopback addresses (127.0.0.2, 127.0.0.3...): the server sees
them as different socket peers, as it would different machines.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import sqlalchemy as sa

from pymesync.server import schema, storage, throttle
from pymesync.server.testing import create_user

from .conftest import POSTGRES_URL, fresh_database
from .helpers import PASSWORD, Api, Response, error

INCORRECT = error(401, "Authentication failure", "Incorrect username or password")
ATTACKER, VICTIM_HOME = "127.0.0.2", "127.0.0.3"
#: Roomy buckets for tests that count failures rather than hit limits.
#: Limits no test reaches, and a drain so slow that no bucket empties between two failures.
ROOMY = throttle.parse("user-address=1000/86400,address=1000/86400,user=1000/86400")


def login_from(
    api: Api, source: str, username: str, password: str, headers: dict[str, str] | None = None
) -> Response:
    """``POST /login`` over a connection whose local address is ``source``."""
    body = json.dumps({"auth": {"type": "password", "username": username, "password": password}})
    connection = http.client.HTTPConnection(api.host, api.port, timeout=30, source_address=(source, 0))
    try:
        connection.request(
            "POST", f"{api.prefix}/login", body, {"Content-Type": "application/json", **(headers or {})}
        )
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return Response(response.status, response.headers, json.loads(data) if data else None, data)


def _with_member(api: Api, password: str = PASSWORD) -> Api:
    create_user(api.server.database_url, "member", password)  # type: ignore[attr-defined]
    return api


def _stored_failures(database_url: str) -> list[int]:
    engine = storage.create_engine(database_url)
    try:
        with storage.transaction(engine) as connection:
            table = schema.login_failures
            return sorted(connection.execute(sa.select(table.c.failures)).scalars())
    finally:
        engine.dispose()


def test_a_guesser_gets_the_burst_then_429_with_retry_after(start_server: Callable[..., Api]) -> None:
    """The defaults: 5 failures for one username from one address, then one more per minute."""
    api = _with_member(start_server())
    answers = [login_from(api, ATTACKER, "member", f"guess{n}") for n in range(12)]
    assert [answer.status for answer in answers] == [401] * 5 + [429] * 7
    refused = answers[-1]
    assert refused.json == error(
        429,
        "Too many requests",
        f"Too many failed logins; try again in {refused.header('Retry-After')} seconds",
    )
    assert 55 <= int(refused.header("Retry-After") or 0) <= 60
    # refused attempts are not checked, so even the right password is refused from there
    assert login_from(api, ATTACKER, "member", PASSWORD).status == 429
    assert _stored_failures(api.server.database_url) == [5, 5, 5]  # type: ignore[attr-defined]


def test_the_real_user_logs_in_from_another_address_during_an_attack(
    start_server: Callable[..., Api],
) -> None:
    api = _with_member(start_server())
    for n in range(20):
        assert login_from(api, ATTACKER, "member", f"guess{n}").status in (401, 429)
    assert login_from(api, ATTACKER, "member", "guess").status == 429
    assert login_from(api, VICTIM_HOME, "member", PASSWORD).status == 200
    assert login_from(api, VICTIM_HOME, "member", "a typo").status == 401  # and gets their own 5 tries


def test_one_address_trying_many_usernames_is_stopped_by_the_address_bucket(
    start_server: Callable[..., Api],
) -> None:
    api = start_server(login_throttle=throttle.parse("address=10/600"))
    statuses = [login_from(api, ATTACKER, f"user{n}", "guess").status for n in range(12)]
    assert statuses == [401] * 10 + [429] * 2
    assert login_from(api, VICTIM_HOME, "admin", "adminpass").status == 200


def test_many_addresses_on_one_username_are_stopped_by_the_username_bucket(
    start_server: Callable[..., Api],
) -> None:
    api = _with_member(start_server(login_throttle=throttle.parse("user=6/600")))
    statuses = [login_from(api, f"127.0.1.{n}", "member", "guess").status for n in range(1, 9)]
    assert statuses == [401] * 6 + [429] * 2


def test_the_lockout_ends_after_the_window_and_a_success_clears_the_typos(
    start_server: Callable[..., Api],
) -> None:
    """3 failures per 3 s: one more try every second after the burst, all forgiven after 3 s. (A
    second per try leaves room for slow bcrypt checks on a loaded machine between two tries.)"""
    api = _with_member(start_server(login_throttle=throttle.parse("user-address=3/3")))
    assert [login_from(api, ATTACKER, "member", "guess").status for _ in range(4)] == [401, 401, 401, 429]
    time.sleep(1.1)
    assert login_from(api, ATTACKER, "member", "guess").status == 401
    assert login_from(api, ATTACKER, "member", "guess").status == 429
    time.sleep(3.1)
    assert login_from(api, ATTACKER, "member", PASSWORD).status == 200
    # the success emptied this username's bucket for this address: three fresh tries
    assert [login_from(api, ATTACKER, "member", "typo").status for _ in range(4)] == [401, 401, 401, 429]


def test_buckets_that_drained_long_ago_are_pruned(start_server: Callable[..., Api]) -> None:
    api = start_server(login_throttle=throttle.parse("user-address=2/0.2,address=off,user=off"))
    url = api.server.database_url  # type: ignore[attr-defined]
    login_from(api, ATTACKER, "first", "guess")
    login_from(api, ATTACKER, "second", "guess")
    assert _stored_failures(url) == [1, 1]
    time.sleep(0.5)  # more than twice the period
    login_from(api, ATTACKER, "third", "guess")
    assert _stored_failures(url) == [1]


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(start_server: Callable[..., Api]) -> None:
    limits = throttle.parse("user-address=2/600")
    direct = _with_member(start_server(login_throttle=limits))
    for client in ("198.51.100.7", "198.51.100.8", "198.51.100.9"):  # ignored: all one peer
        login_from(direct, ATTACKER, "member", "guess", {"X-Forwarded-For": client})
    assert login_from(direct, ATTACKER, "member", "guess", {"X-Forwarded-For": "198.51.100.10"}).status == 429

    proxied = _with_member(
        start_server(login_throttle=limits, trusted_proxies=throttle.parse_networks([ATTACKER]))
    )

    def via_proxy(forwarded_for: str) -> int:
        return login_from(proxied, ATTACKER, "member", "guess", {"X-Forwarded-For": forwarded_for}).status

    assert [via_proxy("198.51.100.7") for _ in range(3)] == [401, 401, 429]
    assert via_proxy("198.51.100.8") == 401  # another client behind the proxy
    # a client cannot pick its bucket: the proxy appends the real peer, the right-most untrusted entry
    assert via_proxy("198.51.100.99, 198.51.100.7") == 429


def test_concurrent_failures_are_all_counted(start_server: Callable[..., Api]) -> None:
    """60 wrong passwords, 12 at a time: each of the three buckets stored all 60 (atomic upserts)."""
    api = _with_member(start_server(login_throttle=ROOMY))
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(lambda n: login_from(api, ATTACKER, "member", f"g{n}").status, range(60)))
    assert statuses == [401] * 60
    assert _stored_failures(api.server.database_url) == [60, 60, 60]  # type: ignore[attr-defined]


def test_known_and_unknown_usernames_take_the_same_time(start_server: Callable[..., Api]) -> None:
    """Medians of 30 failed logins each, interleaved: the bookkeeping is the same for both."""
    api = start_server(login_throttle=ROOMY)
    cost_10 = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()  # what clients send
    create_user(api.server.database_url, "member", cost_10)  # type: ignore[attr-defined]
    timings: dict[str, list[float]] = {"member": [], "nobody": []}
    for _ in range(30):
        for username, samples in timings.items():
            started = time.perf_counter()
            assert login_from(api, ATTACKER, username, "wrong").json == INCORRECT
            samples.append(time.perf_counter() - started)
    known, unknown = (statistics.median(samples) for samples in timings.values())
    assert 0.8 < known / unknown < 1.25, (known, unknown)


@pytest.mark.skipif(
    POSTGRES_URL is None, reason="needs TIMESYNC_TEST_POSTGRES_URL (scripts/test.sh starts one)"
)
def test_two_worker_processes_count_failures_together(tmp_path: Path) -> None:
    """A real ``timesync-server serve --workers 2`` on PostgreSQL: 10 failures allowed in all,
    whichever worker answered each; both workers did some of the work."""
    with fresh_database("postgresql") as url:
        assert url is not None
        env = {**os.environ, "TIMESYNC_ADMIN_PASSWORD": "adminpass", "TIMESYNC_DATABASE_URL": url}
        command = [sys.executable, "-m", "pymesync.server.cli"]
        subprocess.run([*command, "init"], env=env, check=True, capture_output=True)
        create_user(url, "member", PASSWORD)
        port = _free_port()
        server = subprocess.Popen(
            [*command, "serve", "--port", str(port), "--workers", "2", "--log-level", "warning",
             "--login-throttle", "user-address=10/600,address=off,user=off"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            api = Api("127.0.0.1", port)
            workers = _wait_for_workers(server.pid, api)
            spread = False
            for name in ("member", "ghost1", "ghost2", "ghost3"):  # until both workers took part
                busy_before = [_cpu_ticks(pid) for pid in workers]
                with ThreadPoolExecutor(6) as pool:
                    statuses = list(
                        pool.map(
                            lambda n, name=name: login_from(api, ATTACKER, name, f"g{n}").status, range(10)
                        )
                    )
                assert statuses == [401] * 10
                assert login_from(api, ATTACKER, name, "one more").status == 429
                spread = all(
                    _cpu_ticks(pid) > before for pid, before in zip(workers, busy_before, strict=True)
                )
                if spread:
                    break
            assert spread, "every round was answered by one worker alone"
            assert set(_stored_failures(url)) == {10}
        finally:
            server.terminate()
            server.wait(timeout=30)
            if server.stdout is not None:
                server.stdout.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_workers(parent: int, api: Api) -> list[int]:
    """The pids of the serving workers, once both answer."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if api.login("admin", "adminpass").status == 200:
                children = _children(parent)
                if len(children) >= 2:
                    return children
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("timesync-server did not start two workers")


def _children(pid: int) -> list[int]:
    """Child processes that run a Python server worker (multiprocessing may add a tracker)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"resource_tracker" not in cmdline:
                found.append(int(child))
    return found


def _cpu_ticks(pid: int) -> int:
    fields: list[Any] = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime
