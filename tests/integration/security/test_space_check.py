"""The space check is the only thing between a caller and other people's spaces: mana-sync accepts
any ``spaceId`` on a write (mana-sync.md §9). With the check on, a foreign space is refused before
any tool runs; with it off, the header is trusted, so the gateway says so at every start."""

from __future__ import annotations

from pathlib import Path

from tests.integration.gateway.support import ALICE, BOB, BOB_HOME, mcp_client, modern_call
from tests.integration.security.support import remote_stack

from mana.entrypoints.config import load_settings
from mana.entrypoints.container import Container, startup_warnings


async def test_a_write_into_a_foreign_space_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    async with remote_stack(tmp_path) as stack, stack.gw.http() as http:
        body, extra = modern_call("habits_create", {"title": "planted by alice"})
        refused = await http.post("/mcp", json=body, headers=stack.gw.headers(ALICE, BOB_HOME, **extra))
        async with mcp_client(stack.gw, BOB, BOB_HOME) as bob:
            seen = (await bob.call_tool("habits_list", {})).structured_content
    assert refused.status_code == 403
    assert refused.json() == {"error": "X-Mana-Space is not one of your spaces"}
    assert stack.sync.rows_stored == 0
    assert seen == {"habits": [], "warnings": []}


async def test_with_the_check_off_the_header_is_trusted(tmp_path: Path) -> None:
    """What MANA_SPACE_CHECK=off means against the real mana-sync semantics: Alice's write lands
    in Bob's personal space and Bob sees it. This is why it stays on and warns when off."""
    async with remote_stack(tmp_path, {"MANA_SPACE_CHECK": "off"}) as stack:
        async with mcp_client(stack.gw, ALICE, BOB_HOME) as alice:
            planted = await alice.call_tool("habits_create", {"title": "planted by alice"})
        async with mcp_client(stack.gw, BOB, BOB_HOME) as bob:
            seen = (await bob.call_tool("habits_list", {})).structured_content
        settings = stack.gw.container.settings()
    assert planted.is_error is False
    assert seen is not None
    assert [h["title"] for h in seen["habits"]] == ["planted by alice"]
    warnings = startup_warnings(settings, Container(settings=settings).catalog())
    assert any(w.startswith("MANA_SPACE_CHECK=off: X-Mana-Space is trusted as sent") for w in warnings)


def test_no_such_warning_with_the_check_on(tmp_path: Path) -> None:
    env = {"MANA_AUTH_URL": "http://a", "MANA_SYNC_URL": "http://s", "MANA_SERVICE_KEY": "k",
           "MANA_DATA_DIR": str(tmp_path)}  # fmt: skip
    settings = load_settings(env)
    assert startup_warnings(settings, Container(settings=settings).catalog()) == []
