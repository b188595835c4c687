"""End to end in the remote profile: SDK client → gateway → the HTTP adapters → the stand-ins of
mana-auth and mana-sync, all on loopback."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mana.adapters.crypto import AesGcmFieldCipher
from mana.adapters.standins.fake_mana_auth import DEFAULT_SERVICE_KEY, FakeManaAuth
from mana.adapters.standins.fake_mana_sync import FakeManaSync
from mana.adapters.standins.serve import serve

from .support import ALICE, ALICE_HOME, BOB, BOB_HOME, FAMILY, RunningGateway, gateway, mcp_client

ERAS = ["legacy", "auto"]


@contextlib.asynccontextmanager
async def remote_stack(tmp_path: Path) -> AsyncIterator[tuple[RunningGateway, FakeManaAuth, FakeManaSync]]:
    auth = FakeManaAuth()
    auth.add_space(ALICE_HOME, "Alice", type="personal", members=[(ALICE, "owner")])
    auth.add_space(BOB_HOME, "Bob", type="personal", members=[(BOB, "owner")])
    auth.add_space(FAMILY, "Family", type="family", members=[(ALICE, "owner"), (BOB, "member")])
    sync = FakeManaSync(auth.jwks, auth.memberships)
    async with serve(auth.app) as auth_url, serve(sync.app) as sync_url:
        env = {
            "MANA_AUTH_URL": auth_url,
            "MANA_SYNC_URL": sync_url,
            "MANA_SERVICE_KEY": DEFAULT_SERVICE_KEY,
            "JWT_ISSUER": auth.issuer,
            "HOST": "127.0.0.1",
        }
        async with gateway(tmp_path, env, profile="remote") as gw:
            gw.tokens.update({ALICE: auth.mint(ALICE), BOB: auth.mint(BOB)})
            yield gw, auth, sync


@pytest.mark.parametrize("mode", ERAS)
async def test_notes_tasks_and_habits_round_trip_through_the_real_upstreams(
    tmp_path: Path, mode: str
) -> None:
    async with remote_stack(tmp_path) as (gw, auth, sync):
        async with mcp_client(gw, ALICE, ALICE_HOME, mode=mode, client_name="Claude Code") as alice:
            note = await alice.call_tool("notes_create", {"title": "Plan", "content": "buy oat milk"})
            assert note.is_error is False
            task = await alice.call_tool("todo_create", {"title": "Call mum"})
            habit = await alice.call_tool("habits_create", {"title": "Walk"})
            assert task.is_error is False
            assert habit.is_error is False
            notes = await alice.call_tool("notes_search", {})
            tasks = await alice.call_tool("todo_list", {})
            spaces = await alice.call_tool("spaces_list", {})
        async with mcp_client(gw, BOB, BOB_HOME, mode=mode) as bob:
            bobs_notes = await bob.call_tool("notes_search", {})
        async with gw.http() as http:
            ready = await http.get("/ready")
            metrics = (await http.get("/metrics")).text
    assert notes.structured_content is not None
    assert [(n["title"], n["content"]) for n in notes.structured_content["notes"]] == [
        ("Plan", "buy oat milk")
    ]
    assert tasks.structured_content is not None
    assert [t["title"] for t in tasks.structured_content["tasks"]] == ["Call mum"]
    assert spaces.structured_content is not None
    assert {s["id"] for s in spaces.structured_content["spaces"]} == {ALICE_HOME, FAMILY}
    assert bobs_notes.structured_content == {"notes": [], "warnings": []}
    # what reached mana-sync: encrypted with Alice's master key from the vault, attributed to the agent
    cipher = AesGcmFieldCipher(auth.user(ALICE).master_key)
    stored = [sync.server.emit(row) for row in sync.store.rows("notes")]
    assert len(stored) == 1
    fields = stored[0]["data"]
    assert fields["title"].startswith("enc:1:")
    assert cipher.decrypt(fields["title"]) == "Plan"
    assert cipher.decrypt(fields["content"]) == "buy oat milk"
    assert stored[0]["actor"]["displayName"] == "Claude Code via MCP"
    assert {r.headers.get("x-client-id") for r in sync.requests_of("push")} == {"mana-mcp"}
    assert {r.headers.get("x-client-id") for r in sync.requests_of("pull")} == {"mana-mcp-reader"}
    assert ready.status_code == 200
    for upstream in ("sync_push", "sync_pull", "auth_jwks", "auth_vault_key", "auth_spaces", "sync_health"):
        assert f'upstream="{upstream}"' in metrics
    assert 'mana_mcp_master_key_cache_total{result="miss"} 2.0' in metrics  # Alice once, Bob once
    assert 'mana_mcp_master_key_cache_total{result="hit"} 3.0' in metrics


async def test_tokens_and_memberships_are_checked_against_mana_auth(tmp_path: Path) -> None:
    async with remote_stack(tmp_path) as (gw, auth, _sync), gw.http() as http:
        expired = auth.mint(ALICE, variant="expired")
        rejected = await http.post(
            "/mcp", json={}, headers={"Authorization": f"Bearer {expired}", "X-Mana-Space": ALICE_HOME}
        )
        foreign = await http.post("/mcp", json={}, headers=gw.headers(ALICE, BOB_HOME))
        auth.add_space("sp_new", "New", type="team", members=[(ALICE, "member")])
        new_space_right_away = await http.post("/mcp", json={}, headers=gw.headers(ALICE, "sp_new"))
    assert rejected.status_code == 401
    assert rejected.json() == {"error": "Invalid token: expired"}
    assert foreign.status_code == 403
    # the cached entry is younger than 30 s, so a space missing from it is not refetched yet
    assert new_space_right_away.status_code == 403
    assert auth.membership_calls == 1
