"""The per-process caches of the hot path give exactly what recomputing would, and stay bounded."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from mana.application.invocation import Invocation, PublishedTool, ToolResult
from mana.application.service import agent_actor
from mana.domain.text import _cached_clean, clean_client_name
from mana.domain.timestamps import format_micros, normalise_timestamp
from mana.entrypoints.logs import JsonFormatter
from mana.entrypoints.mcp_server import header_schema_lookup


class Tools:
    def __init__(self, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        self._schemas = schemas

    def published_tools(self) -> Sequence[PublishedTool]:
        return [PublishedTool(n, n, n, "", s, {}, {}) for n, s in self._schemas.items()]

    def input_schema(self, name: str) -> Mapping[str, Any] | None:
        return self._schemas.get(name)

    async def call(self, name: str, arguments: Any, invocation: Invocation) -> ToolResult:
        raise NotImplementedError


def test_the_sdk_gets_a_real_schema_only_where_a_header_parameter_is_declared() -> None:
    plain = {"type": "object", "properties": {"title": {"type": "string"}}}
    routed = {"type": "object", "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}}
    lookup = header_schema_lookup(Tools({"notes_create": plain, "route": routed}))
    assert lookup("route") == routed
    assert lookup("notes_create") == {"type": "object"}  # nothing to check: same verdict, no walk
    assert lookup("unknown") is None


def test_client_names_are_cleaned_the_same_whether_cached_or_not() -> None:
    long_name = "Claude\tCode " + "x" * 1000
    before = _cached_clean.cache_info().currsize
    assert clean_client_name(long_name) == ("Claude Code " + "x" * 1000)[:60]
    assert _cached_clean.cache_info().currsize == before  # a long name is never kept
    assert clean_client_name("Claude\tCode") == clean_client_name("Claude\tCode") == "Claude Code"
    assert clean_client_name(42) is None


def test_one_actor_value_per_client_name() -> None:
    assert agent_actor("Claude Code") is agent_actor("Claude Code")
    assert agent_actor("Claude Code").display_name == "Claude Code via MCP"
    assert agent_actor(None).display_name == "Agent via MCP"
    assert agent_actor("y" * 300).display_name == "y" * 60 + " via MCP"


def test_cached_time_formatting_matches_the_written_form() -> None:
    assert format_micros(1_772_445_600_123_456) == "2026-03-02T10:00:00.123Z"
    assert normalise_timestamp("2026-03-02T12:00:00.5+02:00") == "2026-03-02T10:00:00.500Z"
    assert normalise_timestamp("2026-03-02") == "2026-03-02T00:00:00.000Z"
    assert (
        normalise_timestamp("2026-03-02T10:00:00.000Z" + " " * 40) is None
    )  # long: not cached, still checked


def test_log_times_are_right_within_and_across_seconds() -> None:
    formatter = JsonFormatter()
    times = []
    for created in (1_772_445_600.001, 1_772_445_600.999, 1_772_445_601.5, 1_772_445_600.25):
        record = logging.LogRecord("x", logging.INFO, "x", 0, "event", None, None)
        record.created = created
        times.append(formatter.format(record).split('"time":"')[1][:24])
    stamps = (1_772_445_600.001, 1_772_445_600.999, 1_772_445_601.5, 1_772_445_600.25)
    # what formatting every record from scratch gives
    expected = [
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z" for t in stamps
    ]
    assert times == expected
