"""The face the core shows to every entrypoint: list the tools, call one.

The MCP gateway, the in-memory harness and any later REST or agent entrypoint all drive the use
cases through :class:`ToolService`, so none of them re-implements validation, policy or errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs

from mana.application.ports import Caller


@attrs.frozen(slots=True)
class Invocation:
    """Everything a call needs from its request; built fresh per request (D11), never per session."""

    caller: Caller
    space_id: str
    request_id: str
    client_name: str | None = None


@attrs.frozen(slots=True)
class ToolResult:
    """``structured`` is the ``structuredContent`` on success; ``text`` the single text block."""

    text: str
    structured: Mapping[str, Any] | None = None
    is_error: bool = False
    error_code: str | None = None


@attrs.frozen(slots=True)
class PublishedTool:
    """One ``tools/list`` entry in the wire vocabulary (tools.md §1.3)."""

    name: str
    canonical_name: str
    title: str
    description: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any]
    annotations: Mapping[str, Any]


class UnknownTool(Exception):
    """Not an exposed tool name: a protocol error (-32602), not a tool result."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown tool: {name}")
        self.name = name


class ToolService(Protocol):
    def published_tools(self) -> Sequence[PublishedTool]:
        """The exposed tools in ``tools/list`` order, after the exposure rules (D9)."""
        ...

    def input_schema(self, name: str) -> Mapping[str, Any] | None:
        """The input schema of an exposed tool, or None; cheap (the SDK asks on every modern call)."""
        ...

    async def call(
        self, name: str, arguments: Mapping[str, Any] | None, invocation: Invocation
    ) -> ToolResult:
        """Run the per-call pipeline of tools.md §1.6; raises :class:`UnknownTool` only."""
        ...
