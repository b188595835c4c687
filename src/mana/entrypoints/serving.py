"""Running an app under Hypercorn: one worker, on a socket we bind ourselves.

Binding first (then handing Hypercorn the file descriptor) lets tests use port 0 and learn the
port, and lets ``serve`` report a taken port as one clear line before anything else starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

log = logging.getLogger(__name__)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket; raises ``OSError`` (e.g. address in use) with the OS's reason."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock


def bind_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on one address, one per worker process.

    One socket shared by forked workers leaves the balancing to whichever process accepts first,
    and with keep-alive clients that is one worker for every connection opened at once (all 16 of
    a benchmark's, measured). With ``SO_REUSEPORT`` each worker listens on a socket of its own and
    the kernel spreads new connections over them. Only sockets of the same user can join the
    group. Where the option is missing, the one shared socket is all there is.
    """
    if count < 2 or not hasattr(socket, "SO_REUSEPORT"):
        return [bind_socket(host, port)]
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    if port:
        _refuse_a_held_port(family, host, port)
    made: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            made.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host.strip("[]"), port))
            port = sock.getsockname()[1]  # port 0: the others join the one the first was given
            sock.listen(1024)
    except OSError:
        for sock in made:
            sock.close()
        raise
    return made


def _refuse_a_held_port(family: socket.AddressFamily, host: str, port: int) -> None:
    """``OSError`` (address in use) if anything listens on the port, even a ``SO_REUSEPORT`` group.

    The kernel lets a socket of the same user join another process's group, so a second gateway
    started on the port (or one started while the old one still drains) would silently take a
    share of its connections. A socket without ``SO_REUSEPORT`` cannot bind beside a listener of
    any kind, so it asks first (closed again at once: a plain bind is the check, not the listener).
    """
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no listener
        probe.bind((host.strip("[]"), port))
    finally:
        probe.close()


def hypercorn_config(sock: socket.socket, *, graceful_timeout_s: float = 5.0) -> Config:
    config = Config()
    # Hypercorn closes the descriptor it is given; a duplicate keeps ``sock`` ours to close.
    config.bind = [f"fd://{os.dup(sock.fileno())}"]
    config.workers = 1
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = graceful_timeout_s
    config.keep_alive_timeout = 75
    config.include_server_header = False
    return config


async def serve_app(
    app: Any,
    sock: socket.socket,
    shutdown: Callable[[], Awaitable[object]],
    *,
    graceful_timeout_s: float = 5.0,
) -> None:
    """Serve ``app`` on ``sock`` until ``shutdown()`` returns."""
    await serve(app, hypercorn_config(sock, graceful_timeout_s=graceful_timeout_s), shutdown_trigger=shutdown)


@contextlib.asynccontextmanager
async def running(app: Any, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve ``app`` in the background for the body of the block; yields its base URL."""
    sock = bind_socket(host, port)
    bound_port = sock.getsockname()[1]
    stop = asyncio.Event()
    task = asyncio.create_task(serve_app(app, sock, stop.wait, graceful_timeout_s=1.0))
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, 10)
        finally:
            sock.close()
