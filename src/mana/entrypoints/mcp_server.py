"""The MCP face of the :class:`ToolService`: one low-level ``mcp.server.Server`` shared by all callers.

Handlers read the caller from the ContextVar the HTTP edge sets per request, so the tool context
is always this request's (D11). Every failure becomes an ``isError`` result; the only JSON-RPC
error is -32602 for an unknown tool (tools.md §1.5). Results go out as plain dicts in wire form:
the SDK validates and serialises them once, and the text block is the core's JSON, never re-encoded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError

from mana.application.invocation import Invocation, PublishedTool, ToolResult, ToolService, UnknownTool
from mana.entrypoints.request_context import McpRequest, current_mcp_request

log = logging.getLogger(__name__)

SERVER_NAME = "mana-mcp"
SERVER_TITLE = "Mana"
SPACES_TOOL = "spaces.list"


def instructions(spaces_tool: str | None) -> str:
    text = (
        "Every tool works inside the active space: the space named by this connection's X-Mana-Space header."
    )
    if spaces_tool:
        text += f" Call {spaces_tool} to list your spaces and see which one is active."
    return text


MAX_SHOWN_NAME = 128
"""MCP tool names are at most 128 characters; a longer unknown name is cut before it is echoed."""


def shown_name(name: str) -> str:
    return name if len(name) <= MAX_SHOWN_NAME else name[:MAX_SHOWN_NAME] + "…"


def tool_entry(tool: PublishedTool) -> dict[str, Any]:
    """One ``tools/list`` entry in wire form (tools.md §1.3)."""
    return {
        "name": tool.name,
        "title": tool.title,
        "description": tool.description,
        "inputSchema": tool.input_schema,
        "outputSchema": tool.output_schema,
        "annotations": tool.annotations,
    }


def result_payload(result: ToolResult) -> dict[str, Any]:
    """A ``CallToolResult`` in wire form (tools.md §1.5)."""
    payload: dict[str, Any] = {
        "content": [{"type": "text", "text": result.text}],
        "isError": result.is_error,
        "resultType": "complete",
    }
    if result.is_error:
        payload["_meta"] = {"mana/error": result.error_code or "internal"}
    elif result.structured is not None:
        payload["structuredContent"] = result.structured
    return payload


def internal_error_payload(tool: str, request_id: str) -> dict[str, Any]:
    text = f"Internal error in {tool}; reference {request_id}."
    return {
        "content": [{"type": "text", "text": text}],
        "isError": True,
        "resultType": "complete",
        "_meta": {"mana/error": "internal"},
    }


def _client_name(ctx: ServerRequestContext[Any, Any], request: McpRequest) -> str | None:
    """``clientInfo.name``: the legacy session's ``initialize``, or this modern request's ``_meta``."""
    params = ctx.session.client_params
    if params is not None and params.client_info.name:
        return params.client_info.name
    return request.session_client_name


class McpHandlers:
    def __init__(self, tools: ToolService) -> None:
        self._tools = tools
        # ttlMs, cacheScope and resultType are required on the 2026-07-28 wire; older eras' sieve drops them.
        self._list_result = {
            "tools": [tool_entry(t) for t in tools.published_tools()],
            "ttlMs": 0,
            "cacheScope": "private",
            "resultType": "complete",
        }

    async def list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> dict[str, Any]:
        # Fixed per process (no listChanged): built once; the SDK copies before shaping the wire form.
        return self._list_result

    async def call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> Any:
        name = params.name
        request = current_mcp_request.get()
        if request is None or request.space_id is None:
            # Only reachable if the SDK is driven without the gateway's edge in front of it.
            log.error("tools/call without a request context", extra={"tool_name": name[:128]})
            return internal_error_payload(name, request.request_id if request else "-")
        invocation = Invocation(
            caller=request.token.caller,
            space_id=request.space_id,
            request_id=request.request_id,
            client_name=_client_name(ctx, request),
        )
        try:
            result = await self._tools.call(name, params.arguments, invocation)
        except UnknownTool:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {shown_name(name)}") from None
        except Exception:
            log.exception("tool call raised", extra={"tool_name": name[:128]})
            return internal_error_payload(name, request.request_id)
        return result_payload(result)


_NO_HEADER_PARAMS: Mapping[str, Any] = {"type": "object"}


def header_schema_lookup(tools: ToolService) -> Any:
    """What the SDK is given as ``get_tool_input_schema``: it only reads it to check ``Mcp-Param-*``
    headers against properties annotated ``x-mcp-header`` (modern era), walking the whole schema
    on every call. For a tool that annotates none, a bare object schema gives the same verdict
    (nothing to check) without the walk; a tool that does annotate one gets its real schema."""
    annotated = {
        tool.name: tool.input_schema
        for tool in tools.published_tools()
        if "x-mcp-header" in json.dumps(tool.input_schema)
    }

    def lookup(name: str) -> Mapping[str, Any] | None:
        schema = annotated.get(name)
        if schema is not None:
            return schema
        return _NO_HEADER_PARAMS if tools.input_schema(name) is not None else None

    return lookup


def build_mcp_server(tools: ToolService, version: str) -> Server[Any]:
    """The shared server: tools only, no middleware (the OpenTelemetry default costs ~20 µs a call)."""
    handlers = McpHandlers(tools)
    spaces = next((t.name for t in tools.published_tools() if t.canonical_name == SPACES_TOOL), None)
    server: Server[Any] = Server(
        SERVER_NAME,
        version=version,
        title=SERVER_TITLE,
        instructions=instructions(spaces),
        get_tool_input_schema=header_schema_lookup(tools),
        on_list_tools=handlers.list_tools,  # type: ignore[arg-type]
        on_call_tool=handlers.call_tool,
    )
    server.middleware.clear()
    return server


def published_names(tools: ToolService) -> Mapping[str, str]:
    """Exposed name → canonical name, in ``tools/list`` order."""
    return {t.name: t.canonical_name for t in tools.published_tools()}
