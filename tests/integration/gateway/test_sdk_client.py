"""The SDK's own client against the served gateway, in both protocol eras, over the real core."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError

from mana.entrypoints.container import Container

from .support import ALICE, ALICE_HOME, BOB, FAMILY, gateway, mcp_client

ERAS = ["legacy", "auto"]  # auto probes server/discover and speaks 2026-07-28
EXPECTED_ORDER = [
    "habits_create", "habits_list", "habits_update", "habits_archive", "journal_add", "notes_create",
    "notes_search", "spaces_list", "todo_create", "todo_list", "todo_complete",
]  # fmt: skip


def text_of(result: Any) -> str:
    assert len(result.content) == 1
    return str(result.content[0].text)


@pytest.mark.parametrize("mode", ERAS)
async def test_lists_the_catalogue_as_published(tmp_path: Path, mode: str) -> None:
    async with gateway(tmp_path) as gw, mcp_client(gw, mode=mode) as client:
        listed = await client.list_tools()
        published = {t.name: t for t in gw.container.catalog().published}
    assert [t.name for t in listed.tools] == EXPECTED_ORDER
    for tool in listed.tools:
        expected = published[tool.name]
        wire = tool.model_dump(by_alias=True, exclude_none=True, mode="json")
        assert wire["title"] == expected.title
        assert wire["description"] == expected.description
        assert wire["inputSchema"] == expected.input_schema
        assert wire["outputSchema"] == expected.output_schema
        assert wire["annotations"] == expected.annotations
    assert listed.next_cursor is None


@pytest.mark.parametrize("mode", ERAS)
async def test_every_tool_through_the_sdk_client(tmp_path: Path, mode: str) -> None:
    """The client validates every structuredContent against its outputSchema; the text is the same JSON."""
    async with gateway(tmp_path) as gw, mcp_client(gw, mode=mode, client_name="Claude Code") as client:
        results: dict[str, Any] = {}

        async def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
            result = await client.call_tool(name, arguments)
            assert result.is_error is False, text_of(result)
            assert json.loads(text_of(result)) == result.structured_content
            results[name] = result.structured_content
            return result.structured_content  # type: ignore[return-value]

        habit = (await call("habits_create", {"title": "Coffee", "targetPerDay": 3}))["habit"]
        assert habit["title"] == "Coffee"
        assert habit["order"] == 0
        await call("habits_update", {"id": habit["id"], "title": "Tea"})
        listed = await call("habits_list", {})
        assert [h["title"] for h in listed["habits"]] == ["Tea"]
        await call("habits_archive", {"id": habit["id"]})
        assert (await call("habits_list", {}))["habits"] == []
        assert [h["id"] for h in (await call("habits_list", {"includeArchived": True}))["habits"]] == [
            habit["id"]
        ]

        entry = (await call("journal_add", {"content": "Walked by the river", "tags": ["outside"]}))["entry"]
        assert entry["content"] == "Walked by the river"
        note = (await call("notes_create", {"title": "Groceries", "content": "oat milk"}))["note"]
        found = await call("notes_search", {"query": "oat"})
        assert [n["id"] for n in found["notes"]] == [note["id"]]
        assert found["notes"][0]["content"] == "oat milk"

        spaces = await call("spaces_list", {})
        assert spaces["activeSpaceId"] == ALICE_HOME
        assert [s["id"] for s in spaces["spaces"]] == [ALICE_HOME, FAMILY]

        task = (
            await call("todo_create", {"title": "Call mum", "priority": "high", "dueDate": "2026-12-24"})
        )["task"]
        assert task["dueDate"] == "2026-12-24T00:00:00.000Z"
        assert [t["id"] for t in (await call("todo_list", {}))["tasks"]] == [task["id"]]
        assert (await call("todo_complete", {"id": task["id"]}))["ok"] is True
        assert (await call("todo_list", {}))["tasks"] == []
        assert [t["isCompleted"] for t in (await call("todo_list", {"includeCompleted": True}))["tasks"]] == [
            True
        ]
    assert set(results) == set(EXPECTED_ORDER)
    assert_actor(gw.container, "Claude Code via MCP")


def assert_actor(container: Container, display_name: str) -> None:
    """Every change the gateway wrote carries the client name from this connection (D2)."""
    store = container.adapters.store()
    server = container.adapters.sync_server()
    rows = store.rows()
    assert rows
    for row in rows:
        change = server.emit(row)
        assert change["actor"] == {"kind": "system", "principalId": "system:mcp", "displayName": display_name}


@pytest.mark.parametrize("mode", ERAS)
async def test_tool_errors_are_results_with_a_code(tmp_path: Path, mode: str) -> None:
    async with gateway(tmp_path) as gw, mcp_client(gw, mode=mode) as client:
        invalid = await client.call_tool("todo_create", {"title": "x", "priority": "someday", "extra": 1})
        assert invalid.is_error is True
        assert invalid.structured_content is None
        assert invalid.meta is not None
        assert invalid.meta["mana/error"] == "input_invalid"
        assert text_of(invalid) == (
            "Invalid arguments for todo_create: /extra: is not allowed; "
            "/priority: must be one of: low, medium, high, urgent"
        )
        missing = await client.call_tool(
            "habits_update", {"id": "00000000-0000-4000-8000-000000000000", "title": "x"}
        )
        assert missing.is_error is True
        assert missing.meta is not None
        assert missing.meta["mana/error"] == "not_found"
        assert (
            text_of(missing)
            == "Habit 00000000-0000-4000-8000-000000000000 was not found in the active space."
        )
        gw.container.adapters.vault().set_zero_knowledge(ALICE)
        zk = await client.call_tool("notes_create", {"title": "secret"})
        assert zk.is_error is True
        assert zk.meta is not None
        assert zk.meta["mana/error"] == "zero_knowledge"
        assert text_of(zk).endswith("Nothing was written.")
        with pytest.raises(MCPError) as unknown:
            await client.call_tool("habits.create", {"title": "dotted names are not exposed by default"})
        assert unknown.value.error.code == -32602
        assert unknown.value.error.message == "Unknown tool: habits.create"
    assert gw.container.adapters.store().rows() == []


@pytest.mark.parametrize("mode", ERAS)
async def test_rate_limit_is_a_tool_error_not_an_http_status(tmp_path: Path, mode: str) -> None:
    async with gateway(tmp_path, {"MANA_RATE_LIMIT": "2"}) as gw, mcp_client(gw, mode=mode) as client:
        for _ in range(2):
            assert (await client.call_tool("spaces_list", {})).is_error is False
        limited = await client.call_tool("spaces_list", {})
        assert limited.is_error is True
        assert limited.meta is not None
        assert limited.meta["mana/error"] == "rate_limited"
        assert text_of(limited).startswith(
            "Rate limit reached for spaces_list: at most 2 calls per 60 seconds."
        )
        other = await client.call_tool("habits_list", {})
        assert other.is_error is False


@pytest.mark.parametrize("mode", ERAS)
async def test_dotted_naming_mode(tmp_path: Path, mode: str) -> None:
    async with gateway(tmp_path, {"MANA_TOOL_NAMES": "dotted"}) as gw, mcp_client(gw, mode=mode) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert names == [n.replace("_", ".", 1) for n in EXPECTED_ORDER]
        assert (await client.call_tool("spaces.list", {})).is_error is False
        with pytest.raises(MCPError) as unknown:
            await client.call_tool("spaces_list", {})
        assert unknown.value.error.code == -32602


@pytest.mark.parametrize("mode", ERAS)
async def test_server_identity_capabilities_and_instructions(tmp_path: Path, mode: str) -> None:
    async with gateway(tmp_path) as gw, mcp_client(gw, mode=mode) as client:
        info = client.server_info
        capabilities = client.server_capabilities
        instructions = client.instructions
        version = client.protocol_version
    assert version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
    assert info is not None
    assert (info.name, info.title, info.version) == ("mana-mcp", "Mana", "0.1.0")
    assert capabilities.tools is not None
    assert not capabilities.tools.list_changed
    assert capabilities.resources is None
    assert capabilities.prompts is None
    assert instructions is not None
    assert "X-Mana-Space" in instructions
    assert "spaces_list" in instructions
    assert BOB in gw.tokens
