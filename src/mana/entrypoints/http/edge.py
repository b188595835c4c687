"""The outermost ASGI layer: request id, CORS headers and preflight for every route, then dispatch.

``/mcp`` goes to :class:`McpEndpoint`; everything else (lifespan included) to Quart. Wrapping
Quart's ``asgi_app`` is the only way to hand the SDK the raw ``send`` (mcp-sdk-notes.md §5).
"""

from __future__ import annotations

import logging
import os
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mana.entrypoints.http import responses as r
from mana.entrypoints.http.cors import CorsPolicy
from mana.entrypoints.http.mcp_asgi import McpEndpoint
from mana.entrypoints.logs import request_id_var

log = logging.getLogger(__name__)

MCP_PATH = "/mcp"
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")


def request_id(incoming: bytes | None) -> str:
    """The caller's id when it is 1-64 characters of ``[A-Za-z0-9._-]``, else a fresh 16-hex-digit one."""
    if incoming is not None and _REQUEST_ID.fullmatch(incoming):
        return incoming.decode("ascii")
    return os.urandom(8).hex()


class Edge:
    def __init__(self, inner: ASGIApp, mcp: McpEndpoint, cors: CorsPolicy) -> None:
        self._inner = inner
        self._mcp = mcp
        self._cors = cors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._inner(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for key, value in scope["headers"]:
            headers.setdefault(key, value)
        rid = request_id(headers.get(b"x-request-id"))
        origin = headers.get(b"origin")
        reset = request_id_var.set(rid)
        extra = [(b"x-request-id", rid.encode("ascii")), *self._cors.response_headers(origin)]
        started = False

        async def decorated(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        try:
            if scope["method"] == "OPTIONS":
                await r.send_empty(
                    send, 204, [(b"x-request-id", extra[0][1]), *self._cors.preflight_headers(origin)]
                )
            elif scope["path"] == MCP_PATH:
                await self._mcp(scope, receive, decorated, headers)
            else:
                await self._inner(scope, receive, decorated)
        except Exception:
            log.exception("unhandled error", extra={"path": scope["path"][:200]})
            if not started:
                await r.send_error(decorated, 500, r.INTERNAL_ERROR)
        finally:
            request_id_var.reset(reset)
