"""Serving an ASGI app with Hypercorn on 127.0.0.1 on an ephemeral port, and dropping a connection.

The socket is bound here (port 0) and handed to Hypercorn as a file descriptor, so the port is
known before the server starts and two servers never race for one port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config
from hypercorn.protocol.events import StreamClosed
from hypercorn.protocol.http_stream import HTTPStream

LOOPBACK = "127.0.0.1"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


@contextlib.asynccontextmanager
async def serve(app: ASGIApp, *, graceful_timeout_s: float = 1.0) -> AsyncIterator[str]:
    """Serve ``app`` until the block ends; yields its base URL, ``http://127.0.0.1:<port>``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((LOOPBACK, 0))
        sock.listen(128)
        port = sock.getsockname()[1]
    except BaseException:
        sock.close()
        raise
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]  # Hypercorn owns (and closes) the socket from here on
    config.graceful_timeout = graceful_timeout_s
    config.accesslog = None
    config.errorlog = logging.getLogger("mana.standins.hypercorn")
    config.loglevel = "WARNING"
    stop = asyncio.Event()
    task = asyncio.create_task(hypercorn_serve(app, config, shutdown_trigger=stop.wait))
    try:
        await asyncio.sleep(0)
        if task.done():
            task.result()  # a server that failed to start raises here
        yield f"http://{LOOPBACK}:{port}"
    finally:
        stop.set()
        await task


async def drop_connection(send: Send) -> None:
    """Close the request's TCP connection without sending any HTTP response.

    ``send`` must be the one Hypercorn handed to the ASGI app (not a wrapper of it). Returning
    from an app or raising would make Hypercorn answer 500, which is not what a crashed upstream
    handler looks like from the client: the socket just closes.
    """
    stream = getattr(send, "__self__", None)
    if not isinstance(stream, HTTPStream):
        raise RuntimeError("drop_connection needs the send callable of a Hypercorn HTTP stream")
    stream.closed = True  # so Hypercorn does not send its own 500 when the app returns
    await stream.send(StreamClosed(stream_id=stream.stream_id))


DROP_HEADER = b"x-standin-drop"
"""A response carrying this header is not sent: the connection is dropped instead."""


def with_connection_drops(app: ASGIApp) -> Any:
    """Wrap ``app`` so that a response with :data:`DROP_HEADER` becomes a dropped connection.

    The app decides (after storing, for example) and marks its response; the wrapper sees the
    mark in ``http.response.start`` and closes the socket instead of answering.
    """

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        dropped = False

        async def guarded_send(message: Message) -> None:
            nonlocal dropped
            if dropped:
                return
            if message["type"] == "http.response.start" and any(
                name.lower() == DROP_HEADER for name, _ in message.get("headers", ())
            ):
                dropped = True
                await drop_connection(send)
                return
            await send(message)

        await app(scope, receive, guarded_send)

    return wrapped
