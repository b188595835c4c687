"""Two users working at the same time, in both eras, never see each other's data (D11)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from mcp import Client

from .support import ALICE, ALICE_HOME, BOB, BOB_HOME, FAMILY, gateway, mcp_client


async def work(client: Client, who: str, rounds: int) -> None:
    for i in range(rounds):
        for result in await asyncio.gather(
            client.call_tool("notes_create", {"title": f"{who} note {i}", "content": f"{who} secret {i}"}),
            client.call_tool("todo_create", {"title": f"{who} task {i}"}),
            client.call_tool("habits_create", {"title": f"{who} habit {i}"}),
        ):
            assert result.is_error is False


async def titles(client: Client) -> dict[str, set[str]]:
    notes = (await client.call_tool("notes_search", {"limit": 100})).structured_content
    tasks = (await client.call_tool("todo_list", {"limit": 100})).structured_content
    habits = (await client.call_tool("habits_list", {})).structured_content
    assert notes is not None
    assert tasks is not None
    assert habits is not None
    return {
        "notes": {n["title"] for n in notes["notes"]} | {n["content"] for n in notes["notes"]},
        "tasks": {t["title"] for t in tasks["tasks"]},
        "habits": {h["title"] for h in habits["habits"]},
    }


@pytest.mark.parametrize(
    ("alice_mode", "bob_mode"), [("legacy", "legacy"), ("auto", "auto"), ("legacy", "auto")]
)
async def test_concurrent_users_stay_in_their_own_spaces(
    tmp_path: Path, alice_mode: str, bob_mode: str
) -> None:
    rounds = 4
    async with (
        gateway(tmp_path) as gw,
        mcp_client(gw, ALICE, ALICE_HOME, mode=alice_mode) as alice,
        mcp_client(gw, BOB, BOB_HOME, mode=bob_mode) as bob,
    ):
        await asyncio.gather(work(alice, "alice", rounds), work(bob, "bob", rounds))
        seen_by_alice, seen_by_bob = await asyncio.gather(titles(alice), titles(bob))
    for kind, seen in seen_by_alice.items():
        assert seen, kind
        assert all(title.startswith("alice") for title in seen), (kind, seen)
    for kind, seen in seen_by_bob.items():
        assert seen, kind
        assert all(title.startswith("bob") for title in seen), (kind, seen)
    assert len(seen_by_alice["tasks"]) == rounds
    assert len(seen_by_bob["habits"]) == rounds


async def test_a_shared_space_is_shared_and_a_personal_one_is_not(tmp_path: Path) -> None:
    """Habits carry no encrypted field, so another member reads them in clear (tasks would be
    encrypted with the author's own master key)."""
    async with gateway(tmp_path) as gw:
        async with mcp_client(gw, ALICE, FAMILY) as alice_family:
            assert (await alice_family.call_tool("habits_create", {"title": "family walk"})).is_error is False
        async with mcp_client(gw, ALICE, ALICE_HOME, mode="auto") as alice_home:
            assert (await alice_home.call_tool("habits_create", {"title": "alice only"})).is_error is False
        async with mcp_client(gw, BOB, FAMILY, mode="auto") as bob_family:
            family = (await bob_family.call_tool("habits_list", {})).structured_content
        async with mcp_client(gw, BOB, BOB_HOME) as bob_home:
            home = (await bob_home.call_tool("habits_list", {})).structured_content
    assert family is not None
    assert home is not None
    assert [h["title"] for h in family["habits"]] == ["family walk"]
    assert home["habits"] == []
