"""Run uvicorn on a socket we bind ourselves, and stop it within a bounded time.

Binding first lets ``serve`` report a port in use as one line and print the address it really
listens on (also the port the OS chose for ``--port 0``) before any worker starts.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import time

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

logger = logging.getLogger("uvicorn.error")

#: How long the supervisor waits for its workers beyond their own graceful-shutdown bound
#: (the app's lifespan shutdown and the interpreter's exit) before it kills them.
WORKER_EXIT_GRACE = 3.0


class ListenError(Exception):
    """The address cannot be listened on; the message is one line for the operator."""


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``.

    Its protocol is IPPROTO_TCP, so asyncio sets TCP_NODELAY on the connections it accepts (see
    :mod:`protocol`); SO_REUSEADDR, as uvicorn sets it, lets a restart bind while old connections
    of the previous process linger in TIME_WAIT.
    """
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        where = f"{url_host(host)}:{port}"
        raise ListenError(f"cannot listen on {where}: unknown host ({exc.strerror})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason = "address already in use"
        raise ListenError(f"cannot listen on {url_host(host)}:{port}: {reason}") from None
    sock.set_inheritable(True)  # worker processes receive it
    return sock


def default_workers() -> int:
    """One worker per CPU this process may run on (the affinity mask, as a container limits it):
    each worker is one event loop, and one loop uses one core at most."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def bound_address(sock: socket.socket) -> str:
    """``host:port`` of a listening socket, with the port the OS chose for port 0."""
    host, port = sock.getsockname()[:2]
    return f"{url_host(host)}:{port}"


class BoundedMultiprocess(Multiprocess):
    """uvicorn's worker supervisor, except that on shutdown it waits for its workers only so
    long: each worker stops within ``timeout_graceful_shutdown``, but one that hangs anyway (a
    stuck thread, a slow exit) is killed rather than holding up the whole service forever."""

    def join_all(self) -> None:
        bound = (self.config.timeout_graceful_shutdown or 0) + WORKER_EXIT_GRACE
        deadline = time.monotonic() + bound
        for worker in self.processes:
            worker.process.join(max(0.0, deadline - time.monotonic()))
        for worker in self.processes:
            if worker.process.is_alive():
                logger.error("Killing worker process [%s]: it did not stop within %.0f s", worker.pid, bound)
                worker.kill()
                worker.process.join()


def run(config: uvicorn.Config, sock: socket.socket) -> bool:
    """Serve on ``sock`` with ``config.workers`` processes until SIGINT or SIGTERM; False when the
    server could not start (uvicorn has logged why).

    On either signal the server stops accepting, lets requests in flight finish for up to
    ``config.timeout_graceful_shutdown`` seconds, then cancels what still runs (a response to a
    client that stopped reading, say) and exits.
    """
    try:
        if config.workers > 1:
            supervisor = BoundedMultiprocess(config, sockets=[sock])
            supervisor.run()
            return all(worker.exitcode != STARTUP_FAILURE for worker in supervisor.processes)
        server = uvicorn.Server(config)
        try:
            server.run(sockets=[sock])
        except SystemExit as exit:  # uvicorn's way to report an app it could not load
            if exit.code != STARTUP_FAILURE:
                raise
        return server.started
    finally:
        sock.close()
