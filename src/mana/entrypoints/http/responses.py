"""Gateway-generated answers: ``{"error": "<message>"}`` JSON, encoded once per message."""

from __future__ import annotations

import json
from functools import lru_cache

from starlette.types import Send

Headers = list[tuple[bytes, bytes]]

INTERNAL_ERROR = "Internal error"
NOT_FOUND = "Not found"
METHOD_NOT_ALLOWED = "Method not allowed"
MISDIRECTED = "Misdirected request"
ORIGIN_NOT_ALLOWED = "Origin not allowed"
BODY_TOO_LARGE = "Request body too large"
VERIFICATION_UNAVAILABLE = "Token verification is temporarily unavailable"
FOREIGN_SESSION = "Session belongs to a different user"
TOO_MANY_SESSIONS = (
    "Too many open MCP sessions for this user (limit 100); close unused sessions or wait for them to expire"
)
GATEWAY_FULL = "Too many open MCP sessions on this gateway; try again later"
SHUTTING_DOWN = "The gateway is shutting down; try again"


@lru_cache(maxsize=256)
def error_body(message: str) -> bytes:
    return json.dumps({"error": message}, ensure_ascii=False).encode()


async def send_body(send: Send, status: int, body: bytes, headers: Headers, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_error(send: Send, status: int, message: str, headers: Headers | None = None) -> None:
    await send_body(send, status, error_body(message), headers or [], b"application/json")


async def send_empty(send: Send, status: int, headers: Headers) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
