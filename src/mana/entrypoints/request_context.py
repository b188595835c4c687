"""What the HTTP edge learned about the current ``/mcp`` request, handed to the MCP handlers.

The ASGI wrapper sets it before calling the SDK; the SDK copies context variables onto the task
that runs the handler (mcp-sdk-notes.md §3.3), so the handler sees the request that carried its
message, in both eras. This is how the tool context is built per request (D11).
"""

from __future__ import annotations

from contextvars import ContextVar

import attrs

from mana.application.ports import VerifiedToken


@attrs.frozen(slots=True)
class McpRequest:
    token: VerifiedToken
    space_id: str | None
    """None only on GET and DELETE sent without X-Mana-Space, which run no tools."""
    request_id: str
    session_id: str | None = None
    session_client_name: str | None = None
    """The legacy session's ``initialize`` ``clientInfo.name`` (from the owner map)."""


current_mcp_request: ContextVar[McpRequest | None] = ContextVar("mana_mcp_request", default=None)
