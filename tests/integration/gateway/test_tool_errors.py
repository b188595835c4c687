"""Every tool error the adapters can provoke, through the SDK client in both eras: an ``isError``
result with its code and message, counted under its outcome; never a JSON-RPC error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mana.entrypoints.container import Container

from .support import ALICE, gateway, mcp_client

UUID = "0b0e7a2e-4c71-4c53-9a62-0d3b6f2f9c11"

Setup = Callable[[Container], None]


def nothing(container: Container) -> None:
    return None


def vault(mode: str) -> Setup:
    def setup(container: Container) -> None:
        getattr(container.adapters.vault(), mode)(ALICE)

    return setup


def sync_fault(fault: str) -> Setup:
    def setup(container: Container) -> None:
        container.adapters.sync_server().fail(fault)

    return setup


def spaces_down(container: Container) -> None:
    container.adapters.directory().set_failing("timeout")


CASES: list[tuple[str, Setup, dict[str, str], str, dict[str, Any], str, str]] = [
    ("nothing_to_update", nothing, {}, "habits_update", {"id": UUID}, "input_invalid",
     "Nothing to update: pass at least one of title, icon, color, targetPerDay, defaultDuration."),
    ("vault_not_initialised", vault("set_not_initialised"), {}, "notes_create", {"title": "x"}, "tool_error",
     "The encryption vault of this account is not set up yet; open the Mana app once to set it up, then try "
     "again. Nothing was written."),
    ("key_unavailable", vault("set_failing"), {}, "todo_list", {}, "upstream_error",
     "Could not get the encryption key from mana-auth (HTTP 500); try again later."),
    ("sync_inactive", sync_fault("inactive"), {}, "habits_list", {}, "tool_error",
     "Cloud sync is not active for this account, so mana-sync refused the request."),
    ("upstream_unauthorized", sync_fault("unauthorized"), {}, "habits_create", {"title": "x"},
     "upstream_error",
     "mana-sync rejected the access token; refresh the token and try again. Nothing was written."),
    ("sync_read_failed", sync_fault("error"), {}, "habits_list", {}, "upstream_error",
     "Could not read habits from mana-sync (HTTP 500); try again later."),
    ("sync_write_failed", sync_fault("error"), {}, "notes_create", {"title": "x"}, "upstream_error",
     "Could not save the change to mana-sync (HTTP 500). Nothing was written."),
    ("spaces_unavailable", spaces_down, {"MANA_SPACE_CHECK": "off"}, "spaces_list", {}, "upstream_error",
     "Could not list spaces from mana-auth (timeout); try again later."),
]  # fmt: skip


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize(
    ("code", "setup", "env", "tool", "arguments", "outcome", "message"), CASES, ids=[c[0] for c in CASES]
)
async def test_tool_error(
    tmp_path: Path,
    mode: str,
    code: str,
    setup: Setup,
    env: dict[str, str],
    tool: str,
    arguments: dict[str, Any],
    outcome: str,
    message: str,
) -> None:
    async with gateway(tmp_path, env, configure=setup) as gw:
        async with mcp_client(gw, mode=mode) as client:
            result = await client.call_tool(tool, arguments)
        async with gw.http() as http:
            metrics = (await http.get("/metrics")).text
    assert result.is_error is True
    assert result.structured_content is None
    assert result.meta is not None
    assert result.meta["mana/error"] == code
    assert [block.text for block in result.content] == [message]  # type: ignore[union-attr]
    canonical = tool.replace("_", ".", 1)
    assert f'mana_mcp_tool_invocations_total{{outcome="{outcome}",tool="{canonical}"}} 1.0' in metrics
