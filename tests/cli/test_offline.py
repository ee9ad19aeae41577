"""The local copy of entries and the outbox: working while the server cannot be reached.

Faults are real: a closed port for "unreachable", and a small proxy that forwards a request to the
server and then drops the connection instead of answering (the server stored the entry, the command
line never heard so).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pymesync import Client
from pymesync.server.testing import RunningServer
from raw_http import read_request

from .conftest import USER, Runner, environment, seeded_server

DAY = "2026-02-02"


def _notes(server: RunningServer, day: str | None = DAY) -> list[str | None]:
    """The notes of the user's entries on the server (of one day)."""
    days = {} if day is None else {"start": day, "end": day}
    with Client(server.base_url, username=USER[0], password=USER[1]) as client:
        return [entry.notes for entry in client.times.list(user=USER[0], **days)]


class Gate:
    """A proxy in front of the server, through which the command line is logged in.

    ``mode``: ``"open"`` forwards everything; ``"closed"`` closes every connection at once (the server
    cannot be reached); ``"drop-post"`` forwards, but drops the connection after the server answered the
    first ``POST /times`` (the server stored the entry; the command line never hears so).
    """

    def __init__(self, upstream: RunningServer) -> None:
        self.upstream = upstream
        self.mode = "open"
        self.dropped = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.base_url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/v1"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            if self.mode == "closed":
                return
            with socket.create_connection(("127.0.0.1", self.upstream.port)) as backend:
                while request := read_request(connection):
                    if self.mode == "closed":
                        return
                    backend.sendall(request)
                    response = read_request(backend)
                    if (
                        self.mode == "drop-post"
                        and request.startswith(b"POST /v1/times ")
                        and not self.dropped
                    ):
                        self.dropped += 1
                        return
                    connection.sendall(response)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def gate(run: Runner) -> Iterator[Gate]:
    """``run``, logged in through a :class:`Gate`, with a synced local copy."""
    opened = Gate(run.server)
    run("login", "--server", opened.base_url, "--user", USER[0], "--password-stdin", input=USER[1] + "\n")
    run("sync")
    yield opened
    opened.close()


def test_ls_report_and_export_read_the_local_copy_offline(run: Runner, gate: Gate) -> None:
    run("log", "1h", "gwm", "-m", "cached", "--date", DAY)
    online = run("ls", "--since", DAY, "--until", DAY).stdout
    gate.mode = "closed"
    assert run("ls", "--since", DAY, "--until", DAY, "--offline").stdout == online
    assert run("report", "--since", DAY, "--until", DAY, "--offline").stdout == "ganeti\t1h\t1\n"
    assert "cached" in run("export", "--offline").stdout
    assert "cannot reach" in run("ls", "--since", DAY, "--until", DAY, code=7).stderr


def test_offline_reads_say_what_waits_to_be_sent(run: Runner, gate: Gate) -> None:
    quiet = run("ls", "--since", DAY, "--until", DAY, "--offline")
    assert "Not shown" not in quiet.stderr
    gate.mode = "closed"
    run("log", "45m", "gwm", "-m", "first on the train", "--date", DAY, code=7)
    one = run("ls", "--since", DAY, "--until", DAY, "--offline")
    assert "Not shown: 1 change waits to be sent ('timesync sync' sends them)" in one.stderr
    assert one.stdout == quiet.stdout
    run("log", "15m", "gwm", "-m", "second on the train", "--date", DAY, code=7)
    two = run("report", "--since", DAY, "--until", DAY, "--offline")
    assert "Not shown: 2 changes wait to be sent" in two.stderr
    gate.mode = "open"
    run("sync")
    assert "Not shown" not in run("ls", "--since", DAY, "--until", DAY, "--offline").stderr


def test_offline_before_any_sync_says_what_to_do(logged_in: Runner) -> None:
    assert "timesync sync" in logged_in("ls", "--offline", code=7).stderr


def test_a_log_while_unreachable_is_queued_and_sent_once(run: Runner, gate: Gate) -> None:
    gate.mode = "closed"
    assert "queued" in run("log", "45m", "gwm", "-m", "on the train", "--date", DAY, code=7).stderr
    run("sync", code=7)  # still unreachable: nothing lost, nothing sent
    gate.mode = "open"
    assert "on the train" in run("sync").stdout
    run("sync")
    assert _notes(run.server).count("on the train") == 1


def test_stop_while_unreachable_queues_the_entry_and_ends_the_timer(run: Runner, gate: Gate) -> None:
    run("start", "gwm", "--at", "-30m", "-m", "timed offline")
    gate.mode = "closed"
    run("stop", code=7)
    run("status", "--check", code=1)
    gate.mode = "open"
    run("ls", "--today")  # the next command that reaches the server sends it
    assert _notes(run.server, None).count("timed offline") == 1


def test_an_entry_stored_before_the_connection_dropped_exists_once_after_sync(
    run: Runner, gate: Gate
) -> None:
    gate.mode = "drop-post"
    run("log", "20m", "gwm", "-m", "answer lost", "--date", "2026-02-03", code=7)
    assert gate.dropped == 1
    assert _notes(run.server, "2026-02-03") == ["answer lost"]  # the server had stored it
    run("sync")
    run("sync")
    assert _notes(run.server, "2026-02-03") == ["answer lost"]


def test_two_processes_syncing_at_once_send_each_entry_once(run: Runner, gate: Gate) -> None:
    gate.mode = "closed"
    for notes in ("one", "two", "three"):
        run("log", "10m", "gwm", "-m", notes, "--date", "2026-02-04", code=7)
    gate.mode = "open"
    command = [sys.executable, "-m", "pymesync.cli", "sync"]
    env = environment(run.home)
    running = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)
    ]
    for process in running:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    assert sorted(_notes(run.server, "2026-02-04")) == ["one", "three", "two"]


def test_a_queued_edit_of_an_entry_changed_meanwhile_is_a_conflict(run: Runner, gate: Gate) -> None:
    uuid = run("log", "1h", "gwm", "--date", "2026-02-05").stdout.split("[")[1].split("]")[0]
    gate.mode = "closed"
    run("edit", uuid, "-m", "mine, offline", code=7)
    with Client(run.server.base_url, username=USER[0], password=USER[1]) as client:
        [entry] = client.times.list(user=USER[0], start="2026-02-05", end="2026-02-05")
        client.times.update(entry.uuid, notes="theirs, online")
    gate.mode = "open"
    conflict = run("sync", code=6)
    assert "conflict" in conflict.stdout and "notes=mine, offline" in conflict.stdout
    assert _notes(run.server, "2026-02-05") == ["theirs, online"]
    number = conflict.stdout.split("#")[1].split(" ")[0]
    run("sync", "--discard", number)


def test_edit_sends_if_match(logged_in: Runner) -> None:
    uuid = logged_in("log", "1h", "gwm", "--date", "2026-02-06").stdout.split("[")[1].split("]")[0]
    with Client(logged_in.server.base_url, username=USER[0], password=USER[1]) as client:
        [entry] = client.times.list(user=USER[0], start="2026-02-06", end="2026-02-06")
        client.times.update(entry.uuid, notes="moved on")
    assert (
        "changed on the server (revision 1 → 2)"
        in logged_in("edit", uuid, "--expect-revision", "1", "-m", "x", code=6).stderr
    )
    assert "Updated" in logged_in("edit", uuid, "-m", "now mine").stdout


@pytest.fixture(scope="module")
def plain_server() -> Iterator[RunningServer]:
    """The seeded server with the extensions off: the command line sees what a reference server offers."""
    yield from seeded_server(sync_extensions=False)


def test_the_same_commands_work_against_a_server_without_the_extensions(
    plain_server: RunningServer, home: Path
) -> None:
    run = Runner(plain_server, home)
    run.login()
    run("log", "30m", "gwm", "-m", "plain", "--date", DAY)
    run("log", "15m", "gwm", "-m", "gone", "--date", DAY)
    assert "plain" in run("ls", "--since", DAY, "--until", DAY).stdout
    with Client(plain_server.base_url, username=USER[0], password=USER[1]) as client:
        [gone] = [entry for entry in client.times.list(user=USER[0]) if entry.notes == "gone"]
        client.times.delete(gone.uuid)
    listed = run("ls", "--since", DAY, "--until", DAY).stdout
    assert "plain" in listed and "gone" not in listed
