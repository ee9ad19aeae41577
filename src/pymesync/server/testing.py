"""Run a real TimeSync server for tests: a free loopback port, a fresh database, one admin.

Usage::

    with serve() as server:  # the admin is ("admin", "adminpass") unless ``admin=`` says otherwise
        with pymesync.Client(server.base_url, username="admin", password="adminpass") as client:
            client.projects.create(name="Example", slugs=["example"])
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pymesync.server import storage
from pymesync.server.ldap import LdapSettings
from pymesync.server.throttle import DEFAULT, LoginThrottle, Network

__all__ = ["RunningServer", "create_user", "serve"]

#: Cheap hashes for seeded users: tests log in often and never need a slow hash.
_TEST_BCRYPT_ROUNDS = 4


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    root_url: str
    database_url: str
    port: int


def create_user(
    database_url: str,
    username: str,
    password: str,
    *,
    site_admin: bool = False,
    site_manager: bool = False,
    site_spectator: bool = False,
) -> None:
    """Write a user straight into the database (the schema must exist, see :func:`serve`)."""
    engine = storage.create_engine(database_url)
    try:
        with storage.transaction(engine, write=True) as connection:
            storage.insert_user(
                connection,
                username,
                password,
                site_admin=site_admin,
                site_manager=site_manager,
                site_spectator=site_spectator,
                bcrypt_rounds=_TEST_BCRYPT_ROUNDS,
            )
    finally:
        engine.dispose()


@contextlib.contextmanager
def serve(
    database_url: str | None = None,
    *,
    token_lifetime: float = 1800.0,
    admin: tuple[str, str] | None = ("admin", "adminpass"),
    version: str = "v1",
    secret: str | None = None,
    cors_origins: tuple[str, ...] = (),
    min_password_length: int = 1,
    sync_extensions: bool = True,
    ldap_settings: LdapSettings | None = None,
    login_throttle: LoginThrottle = DEFAULT,
    trusted_proxies: tuple[Network, ...] = (),
    web: bool = True,
) -> Iterator[RunningServer]:
    """Run a TimeSync server on a free 127.0.0.1 port in a background thread (uvicorn), with a
    fresh SQLite database in a temp dir when database_url is None; create the schema and the
    admin user (site_admin, site_manager, site_spectator all true); yield; stop the server and
    remove temp files. ``secret``, ``cors_origins``, ``min_password_length``, ``sync_extensions``,
    ``ldap_settings`` (which also enables ``auth.type: "ldap"``), ``login_throttle``,
    ``trusted_proxies`` and ``web`` are the settings of :func:`pymesync.server.app.create_app`."""
    import uvicorn

    from pymesync.server.app import create_app
    from pymesync.server.protocol import PROTOCOL

    temp_dir = None if database_url is not None else Path(tempfile.mkdtemp(prefix="timesync-"))
    url = database_url or f"sqlite:///{temp_dir}/timesync.db"
    app = create_app(
        url,
        token_lifetime=token_lifetime,
        secret=secret,
        cors_origins=cors_origins,
        min_password_length=min_password_length,
        sync_extensions=sync_extensions,
        auth_modules=("password", "ldap") if ldap_settings is not None else ("password",),
        ldap_settings=ldap_settings,
        login_throttle=login_throttle,
        trusted_proxies=trusted_proxies,
        web=web,
    )
    if admin is not None:
        engine = storage.create_engine(url)
        try:
            with storage.transaction(engine, write=True) as connection:
                if not storage.user_exists(connection, admin[0]):
                    storage.insert_user(
                        connection,
                        admin[0],
                        admin[1],
                        site_admin=True,
                        site_manager=True,
                        site_spectator=True,
                        bcrypt_rounds=_TEST_BCRYPT_ROUNDS,
                    )
        finally:
            engine.dispose()
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only then, and without it
    # every kept-alive response waits ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
        http=PROTOCOL,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"timesync-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the TimeSync test server did not start")
            time.sleep(0.002)
        root = f"http://127.0.0.1:{port}"
        yield RunningServer(base_url=f"{root}/{version}", root_url=root, database_url=url, port=port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
