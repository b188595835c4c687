"""``python -m bench.bare_http``: Hypercorn alone, answering every ``POST`` with a fixed tool result.

The floor under the floor: the same Hypercorn configuration as the gateway (``serve_app``), a raw
ASGI app that reads the request body and answers a constant JSON-RPC result of a
``notes.create``'s size, no SDK, no Quart, no tool. Its server CPU per request is what HTTP/1.1 on
Hypercorn + h11 costs on this machine before anything of MCP runs, so it bounds what any
gateway on this stack can reach per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from typing import Any

from mana.entrypoints.serving import bind_socket, serve_app

_NOTE = {
    "id": "00000000-0000-4000-8000-000000000000",
    "title": "Bench note",
    "content": "A short body for the benchmark.",
    "color": None,
    "isPinned": False,
    "isArchived": False,
    "createdAt": "2026-12-01T00:00:00.000Z",
    "updatedAt": "2026-12-01T00:00:00.000Z",
}
_TEXT = json.dumps(_NOTE, separators=(",", ":"))
ANSWER = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {
            "content": [{"type": "text", "text": _TEXT}],
            "structuredContent": _NOTE,
            "isError": False,
        },
    },
    separators=(",", ":"),
).encode()
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:  # the whole body, as any real handler reads it
        message = await receive()
        more = message.get("more_body", False)
    if scope["path"] == "/health":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"{}"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    sock = bind_socket("127.0.0.1", args.port)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await serve_app(app, sock, stop.wait)


if __name__ == "__main__":
    asyncio.run(main())
