"""The deployment snippets of docs/server.md, run where the tools are installed.

The systemd unit goes through ``systemd-analyze verify``; the nginx server block runs in front of a
real server with a self-signed certificate, and the API's requests go through it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pymesync.server import schema, storage
from pymesync.server.routes.times import PAGE
from pymesync.server.testing import RunningServer

from .conftest import running_server
from .helpers import ADMIN, make_api
from .processes import free_port

_NGINX_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
_NGINX_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
DOC = Path(__file__).resolve().parents[2] / "docs" / "server.md"


def _snippet(opening: str) -> str:
    """The fenced block of docs/server.md that starts with ``opening``."""
    found = re.search(rf"```\w*\n({re.escape(opening)}.*?)```", DOC.read_text(), re.S)
    assert found is not None, opening
    return found.group(1)


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = _snippet("# /etc/systemd/system/timesync.service")
    executable = shutil.which("timesync-server")
    assert executable is not None
    path = tmp_path / "timesync.service"
    path.write_text(unit.replace("/opt/timesync/bin/timesync-server", executable))
    checked = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert "timesync.service" not in checked.stderr, checked.stderr


def _self_signed(directory: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    certificate, key = directory / "cert.pem", directory / "key.pem"
    command = [
        openssl,
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
    ]
    subprocess.run([*command, "-keyout", str(key), "-out", str(certificate)], check=True, capture_output=True)
    return certificate, key


@pytest.fixture
def nginx_in_front(tmp_path: Path) -> Iterator[tuple[str, RunningServer]]:
    """The documented server block on a free port, forwarding to a fresh server; yields its URL."""
    nginx = shutil.which("nginx", path="/usr/sbin:/usr/local/sbin:" + os.environ.get("PATH", ""))
    if nginx is None:
        pytest.skip("nginx is not installed")
    certificate, key = _self_signed(tmp_path)
    port = free_port()
    with running_server("sqlite") as server:
        block = (
            _snippet("server {\n    listen 443 ssl;")
            .replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
            .replace("/etc/letsencrypt/live/timesync.example.org/fullchain.pem", str(certificate))
            .replace("/etc/letsencrypt/live/timesync.example.org/privkey.pem", str(key))
            .replace("127.0.0.1:8000", f"127.0.0.1:{server.port}")
        )
        user = "user root;" if os.geteuid() == 0 else ""  # workers that may enter the pytest directory
        temp_paths = "".join(f"{kind}_temp_path {tmp_path}/{kind};\n" for kind in _NGINX_TEMP_PATHS)
        config = tmp_path / "nginx.conf"
        config.write_text(
            f"{user}\nworker_processes 1;\nerror_log {tmp_path}/error.log;\npid {tmp_path}/nginx.pid;\n"
            f"events {{}}\nhttp {{\naccess_log off;\n{temp_paths}{block}\n}}\n"
        )
        tested = subprocess.run(
            [nginx, "-t", "-p", str(tmp_path), "-c", str(config)], capture_output=True, text=True
        )
        assert tested.returncode == 0, tested.stderr
        process = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(config), "-g", "daemon off;"])
        try:
            yield f"https://localhost:{port}/v1", server
        finally:
            process.terminate()
            process.wait(timeout=15)


def _request(url: str, body: bytes | None = None) -> tuple[int, bytes, dict[str, str]]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(request, context=context, timeout=30) as answer:
                return answer.status, answer.read(), dict(answer.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read(), dict(error.headers)
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _copy_times(database_url: str, copies: int) -> None:
    """Store ``copies`` more times like the one there, with their activities."""
    engine = storage.create_engine(database_url)
    times, timesactivities = schema.times, schema.timesactivities
    try:
        with storage.transaction(engine, write=True) as connection:
            row = connection.execute(sa.select(times)).one()._asdict()
            activity = connection.execute(sa.select(timesactivities.c.activity)).scalar_one()
            for _ in range(copies):
                values = {**row, "id": None, "uuid": str(uuid.uuid4())}
                time_id = connection.execute(sa.insert(times).values(values)).inserted_primary_key[0]
                connection.execute(sa.insert(timesactivities).values(time=time_id, activity=activity))
    finally:
        engine.dispose()


def test_nginx_server_block(nginx_in_front: tuple[str, RunningServer]) -> None:
    url, server = nginx_in_front
    login = json.dumps({"auth": {"type": "password", "username": ADMIN[0], "password": ADMIN[1]}})
    status, body, _ = _request(f"{url}/login", login.encode())
    assert status == 200, body
    token = json.loads(body)["token"]

    api = make_api(server)
    slug = api.create_project(users={ADMIN[0]: {"member": True}})["slugs"][0]
    activity = api.create_activity()["slug"]
    entry = {
        "duration": 60,
        "user": ADMIN[0],
        "project": slug,
        "activities": [activity],
        "date_worked": "2026-11-02",
    }
    api.ok(api.post("/times", entry, token))
    _copy_times(server.database_url, 2 * PAGE)  # a list of several pages is streamed
    status, body, headers = _request(f"{url}/times?token={token}")
    assert status == 200 and len(json.loads(body)) == 2 * PAGE + 1
    assert headers.get("Transfer-Encoding") == "chunked"

    def with_notes(size: int) -> bytes:
        return json.dumps(
            {"auth": {"type": "token", "token": token}, "object": {"notes": "x" * size}}
        ).encode()

    status, body, _ = _request(f"{url}/times", with_notes(1_000_000))  # under 1 MiB: the server answers
    assert status == 400 and json.loads(body)["error"] == "Bad object"
    assert _request(f"{url}/times", with_notes(1 << 20))[0] == 413
