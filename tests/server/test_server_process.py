"""Issue 11: ``timesync-server serve`` as an operator runs it, a real process on a real socket.

Its settings are checked before it starts, its banner shows the address it really listens on,
SIGTERM stops it (and its workers) within the shutdown timeout even while a client has stopped
reading a long list, and connections that never finish their request headers are closed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid as uuid_module
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from pymesync.server import schema, serving, storage
from pymesync.server.queries import insert_id

from .helpers import Api

ADMIN_PASSWORD = "admin password"
_BANNER = re.compile(r"Serving TimeSync at http://127\.0\.0\.1:(\d+)/v1")


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pymesync.server.cli", *args]


def _environment(**settings: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("TIMESYNC_")}
    return {**env, **settings}


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def api(self) -> Api:
        return Api("127.0.0.1", self.port)

    def output(self) -> str:
        return self.log.read_text()


@contextlib.contextmanager
def _serving(url: str, tmp_path: Path, *options: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """``timesync-server serve --port 0`` until the block ends; the port is read from its banner."""
    log = tmp_path / f"serve-{time.monotonic_ns()}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            _command("serve", "--port", "0", "--database", url, *options),
            env=env if env is not None else _environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while (found := _BANNER.search(log.read_text())) is None:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        yield Served(process, int(found[1]), log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _seed(url: str, times: int = 0) -> None:
    """The schema, the admin (bcrypt cost 10, so a login takes a moment) and ``times`` times, written
    straight into the database."""
    engine = storage.create_engine(url)
    storage.create_schema(engine)
    with storage.transaction(engine, write=True) as connection:
        storage.insert_user(
            connection, "admin", ADMIN_PASSWORD, site_admin=True, site_manager=True, site_spectator=True
        )
        user_id = connection.execute(sa.select(schema.users.c.id)).scalar_one()
        activity_id = insert_id(
            connection,
            sa.insert(schema.activities).values(
                name="Dev", slug="dev", uuid=str(uuid_module.uuid4()), created_at=0, revision=1, newest=True
            ),
        )
        project_uuid = str(uuid_module.uuid4())
        project_id = insert_id(
            connection,
            sa.insert(schema.projects).values(
                name="P", uuid=project_uuid, created_at=0, revision=1, newest=True
            ),
        )
        connection.execute(sa.insert(schema.projectslugs).values(name="p", project=project_id))
        if times:
            rows = [
                {
                    "id": number,
                    "duration": 60,
                    "user": user_id,
                    "project": project_uuid,
                    "notes": "a note long enough to make the list a few megabytes " * 2,
                    "date_worked": 0,
                    "created_at": 0,
                    "uuid": str(uuid_module.uuid4()),
                    "revision": 1,
                    "newest": True,
                }
                for number in range(1, times + 1)
            ]
            connection.execute(sa.insert(schema.times), rows)
            connection.execute(
                sa.insert(schema.timesactivities),
                [{"time": row["id"], "activity": activity_id} for row in rows],
            )
    engine.dispose()


def _login_request(password: str = ADMIN_PASSWORD) -> bytes:
    body = json.dumps({"auth": {"type": "password", "username": "admin", "password": password}}).encode()
    head = (
        "POST /v1/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _read_response(sock: socket.socket) -> bytes:
    """One whole response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: (\d+)", head)[1])  # type: ignore[index]
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, data
        body += chunk
    return head + b"\r\n\r\n" + body


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def _workers(pid: int) -> list[int]:
    """The worker processes of a ``serve --workers N`` (not multiprocessing's resource tracker)."""
    return [child for child in _children(pid) if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _all_gone(pids: list[int], within: float = 2.0) -> bool:
    """Whether every process ends within ``within`` seconds (multiprocessing's resource tracker
    notices its parent's exit a moment later)."""
    deadline = time.monotonic() + within
    while not all(_gone(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- settings and banner ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "environment", "message"),
    [
        (["--port", "70000"], {}, "error: --port: must be a whole number from 0 to 65535, not 70000"),
        (["--workers", "0"], {}, "error: --workers: must be a whole number from 1 up, not 0"),
        (
            [],
            {"TIMESYNC_TOKEN_LIFETIME": "-5"},
            "error: TIMESYNC_TOKEN_LIFETIME: must be a number of seconds",
        ),
        (
            [],
            {"TIMESYNC_DATABASE_URL": "mysql://u:pw@db/x"},
            "error: TIMESYNC_DATABASE_URL: unknown database",
        ),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_code_2_from_the_real_command(
    tmp_path: Path, options: list[str], environment: dict[str, str], message: str
) -> None:
    url = [] if "TIMESYNC_DATABASE_URL" in environment else ["--database", f"sqlite:///{tmp_path}/never.db"]
    done = subprocess.run(
        _command("serve", *url, *options),
        env=_environment(**environment),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr
    assert "pw@" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_banner_shows_the_port_the_system_chose_the_database_and_how_to_add_a_user(
    tmp_path: Path,
) -> None:
    database = tmp_path / "empty.db"
    with _serving(f"sqlite:///{database}", tmp_path) as served:
        assert served.api.get("/users").status == 401  # the banner's port answers
        output = served.output()
    assert f"Database: SQLite file {database}\n" in output
    assert "create the first with: timesync-server user create NAME --site-admin" in output


def test_a_port_in_use_is_one_line_and_exit_code_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            _command("serve", "--database", f"sqlite:///{tmp_path}/ts.db", "--port", str(port)),
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr == f"error: cannot listen on 127.0.0.1:{port}: address already in use\n"
    assert "Serving" not in done.stdout


def test_token_lifetime_and_instance_name_come_from_the_environment_unless_an_option_says_otherwise(
    tmp_path: Path,
) -> None:
    """They were always overwritten with the options' defaults."""
    url = f"sqlite:///{tmp_path}/ts.db"
    _seed(url)
    env = _environment(TIMESYNC_TOKEN_LIFETIME="123", TIMESYNC_INSTANCE_NAME="acme")

    def claims(*options: str) -> dict[str, object]:
        with _serving(url, tmp_path, *options, env=env) as served:
            token = served.api.token("admin", ADMIN_PASSWORD)
        payload = token.split(".")[1]
        decoded: dict[str, object] = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
        return decoded

    from_environment = claims()
    assert from_environment["iss"] == "acme"
    assert from_environment["exp"] - from_environment["iat"] == 123_000  # type: ignore[operator]
    from_options = claims("--token-lifetime", "60", "--instance-name", "other")
    assert from_options["iss"] == "other"
    assert from_options["exp"] - from_options["iat"] == 60_000  # type: ignore[operator]


# --- shutdown -------------------------------------------------------------------------------------

SHUTDOWN_TIMEOUT = 2
#: Allowance beyond the shutdown timeout: the 0.5 s signal poll of the supervisor, the app's
#: shutdown and the interpreter's exit, on a busy two-core machine.
SLACK = 2.5


def _stalled_list(port: int, token: str) -> socket.socket:
    """A connection that asks for every time and then stops reading."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /v1/times?token={token} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    assert sock.recv(64).startswith(b"HTTP/1.1 200")
    return sock


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_stops_the_server_within_the_shutdown_timeout_while_a_client_stalls_a_long_list(
    tmp_path: Path, workers: int
) -> None:
    url = f"sqlite:///{tmp_path}/ts.db"
    _seed(url, times=20_000)
    options = ("--workers", str(workers), "--shutdown-timeout", str(SHUTDOWN_TIMEOUT))
    with _serving(url, tmp_path, *options) as served:
        token = served.api.token("admin", ADMIN_PASSWORD)
        stalled = _stalled_list(served.port, token)
        time.sleep(1)  # the server fills the socket buffers and waits for the client
        short = socket.create_connection(("127.0.0.1", served.port))
        short.sendall(b"GET /v1/users HTTP/1.1\r\nHost: t\r\n\r\n")  # accepted by a worker, kept alive
        assert _read_response(short).startswith(b"HTTP/1.1 401")
        workers_before = _workers(served.process.pid) if workers > 1 else []
        processes = [*_children(served.process.pid), served.process.pid]
        short.sendall(_login_request())  # a bcrypt check of cost 10: still running at SIGTERM
        time.sleep(0.02)
        started = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        answer = _read_response(short)
        served.process.wait(SHUTDOWN_TIMEOUT + SLACK + 10)
        took = time.monotonic() - started
        stalled.close()
        short.close()
    assert answer.startswith(b"HTTP/1.1 200") and b'"token"' in answer
    assert took < SHUTDOWN_TIMEOUT + SLACK, f"took {took:.1f} s"
    assert len(workers_before) == (workers if workers > 1 else 0)
    assert _all_gone(processes)


def test_the_supervisor_kills_a_worker_that_does_not_stop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ts.db"
    _seed(url)
    with _serving(url, tmp_path, "--workers", "2", "--shutdown-timeout", "1") as served:
        served.api.get("/users")
        deadline = time.monotonic() + 20
        while len(workers := _workers(served.process.pid)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        started = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        # Stopped, the worker cannot act on the SIGTERM its supervisor forwards within 0.5 s (and
        # the supervisor no longer pings its workers once it is stopping).
        os.kill(workers[0], signal.SIGSTOP)
        served.process.wait(30)
        took = time.monotonic() - started
    assert took < 1 + serving.WORKER_EXIT_GRACE + SLACK, f"took {took:.1f} s"
    assert _all_gone(workers)


# --- slow request headers -------------------------------------------------------------------------

HEADER_TIMEOUT = 1.5


def test_connections_that_never_finish_their_headers_are_closed_and_others_are_served(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ts.db"
    _seed(url)
    with _serving(url, tmp_path, "--header-timeout", str(HEADER_TIMEOUT)) as served:
        slow = []
        for _ in range(50):
            # each connection's own clock starts before it connects: the server's starts later, when
            # it accepts (opening 50 on a loaded machine can take longer than the margin below)
            begun = time.monotonic()
            sock = socket.create_connection(("127.0.0.1", served.port))
            sock.sendall(b"GET /v1/users HTTP/1.1\r\nHost: t\r\nX-Wait: ")
            slow.append((begun, sock))
        assert served.api.get("/users").status == 401  # served meanwhile
        closed_after = []
        for begun, sock in slow:
            sock.settimeout(HEADER_TIMEOUT + SLACK)
            assert sock.recv(1024) == b""  # closed by the server, without an answer
            closed_after.append(time.monotonic() - begun)
            sock.close()
        assert served.api.login("admin", ADMIN_PASSWORD).status == 200
    assert min(closed_after) > HEADER_TIMEOUT - 0.2 and max(closed_after) < HEADER_TIMEOUT + SLACK


def test_a_slow_but_steady_body_is_not_cut_by_the_header_timeout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ts.db"
    _seed(url)
    with _serving(url, tmp_path, "--header-timeout", "1") as served:
        request = _login_request()
        head, _, body = request.partition(b"\r\n\r\n")
        with socket.create_connection(("127.0.0.1", served.port)) as sock:
            sock.sendall(head + b"\r\n\r\n")
            for start in range(0, len(body), len(body) // 8 + 1):  # over about 2 s
                sock.sendall(body[start : start + len(body) // 8 + 1])
                time.sleep(0.25)
            sock.settimeout(15)
            answer = _read_response(sock)
            assert answer.startswith(b"HTTP/1.1 200")
            time.sleep(0.5)  # kept alive, a second request on the same connection in time is served
            sock.sendall(b"GET /v1/users HTTP/1.1\r\nHost: t\r\n\r\n")
            assert _read_response(sock).startswith(b"HTTP/1.1 401")
