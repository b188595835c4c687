"""One HTTP request straight into an ASGI callable, no sockets: for benchmarks and tests.

The body arrives in one message and the client never hangs up (``receive`` waits for ever after
the body), which is what a streaming answer needs to see.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any


async def asgi_request(
    app: Any, method: str, headers: Sequence[tuple[bytes, bytes]], body: bytes = b"", path: str = "/mcp"
) -> list[dict[str, Any]]:
    """Every message ``app`` sent for one request, in order."""
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": list(headers),
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
        "root_path": "",
    }
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent
