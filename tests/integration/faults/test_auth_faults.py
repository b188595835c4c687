"""mana-auth failing under the gateway (issue #5): the JWKS, the vault key, the memberships.

The gateway answers each outage with its documented status or tool error, writes nothing it cannot
encrypt, keeps serving what does not need the failing part, and recovers on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from tests.integration.faults.support import SLOW_S, fault_stack, short_timeouts
from tests.integration.gateway.support import (
    ALICE,
    ALICE_HOME,
    BOB,
    BOB_HOME,
    gateway,
    initialize,
    mcp_client,
)
from tests.integration.security.support import captured_logs, no_stack_traces, remote_auth

from mana.adapters.standins.fake_mana_auth import DEFAULT_SERVICE_KEY
from mana.adapters.standins.fake_mana_sync import FakeManaSync
from mana.adapters.standins.serve import serve


async def test_jwks_down_at_startup_is_503_then_recovers_by_itself(tmp_path: Path) -> None:
    auth = remote_auth()
    auth.jwks_status = 503
    sync = FakeManaSync(auth.jwks, auth.memberships)
    with captured_logs() as logs:
        async with serve(auth.app) as auth_url, serve(sync.app) as sync_url:
            env = {
                "MANA_AUTH_URL": auth_url,
                "MANA_SYNC_URL": sync_url,
                "MANA_SERVICE_KEY": DEFAULT_SERVICE_KEY,
                "JWT_ISSUER": auth.issuer,
                "HOST": "127.0.0.1",
            }
            async with gateway(tmp_path, env, profile="remote") as gw, gw.http() as http:
                headers = {"Authorization": f"Bearer {auth.mint(ALICE)}", "X-Mana-Space": ALICE_HOME,
                           "Accept": "application/json, text/event-stream"}  # fmt: skip
                down = await http.post("/mcp", json=initialize(), headers=headers)
                ready_down = await http.get("/ready")
                auth.jwks_status = None
                await asyncio.sleep(1.1)  # fetch attempts without any key are at most one per second
                up = await http.post("/mcp", json=initialize(), headers=headers)
    assert down.status_code == 503
    assert down.json() == {"error": "Token verification is temporarily unavailable"}
    assert down.headers["retry-after"] == "5"
    assert "www-authenticate" not in down.headers  # not a 401: clients must not start an OAuth flow
    assert ready_down.status_code == 503
    assert ready_down.json()["checks"]["jwks"] == {"status": "fail", "error": "HTTP 503"}
    assert up.status_code == 200  # nobody restarted anything
    assert no_stack_traces(logs.lines) == []


async def test_jwks_down_later_keeps_known_keys_working(tmp_path: Path) -> None:
    with captured_logs() as logs:
        async with fault_stack(tmp_path) as stack, stack.gw.http() as http:
            auth = stack.auth
            warm = await http.post("/mcp", json=initialize(), headers=stack.gw.headers(ALICE))
            assert warm.status_code == 200  # the key set is held from here on
            auth.jwks_status = 500
            fresh = auth.mint(ALICE)  # same signing key: still verifiable from the cached set
            kept = await http.post("/mcp", json=initialize(), headers=stack.gw.headers(ALICE) | {
                "Authorization": f"Bearer {fresh}"})  # fmt: skip
            auth.rotate()  # a key the gateway has never seen, while the JWKS is down
            rotated = auth.mint(ALICE)
            unknown = await http.post("/mcp", json=initialize(), headers=stack.gw.headers(ALICE) | {
                "Authorization": f"Bearer {rotated}"})  # fmt: skip
            auth.jwks_status = None
            await asyncio.sleep(0)  # no waiting for the 30 s refetch window: that one was spent
            still_unknown = await http.post("/mcp", json=initialize(), headers=stack.gw.headers(ALICE) | {
                "Authorization": f"Bearer {rotated}"})  # fmt: skip
    assert kept.status_code == 200, kept.text
    assert unknown.status_code == 401
    assert unknown.json() == {"error": "Invalid token: unknown signing key"}
    assert still_unknown.status_code == 401  # the next refetch is allowed 30 s after the last one
    assert no_stack_traces(logs.lines) == []


async def test_vault_down_fails_encrypted_tools_only_and_writes_nothing(tmp_path: Path) -> None:
    with captured_logs() as logs:
        async with fault_stack(tmp_path) as stack:
            auth, sync = stack.auth, stack.sync
            auth.set_vault(ALICE, "error")
            async with mcp_client(stack.gw, ALICE, ALICE_HOME) as alice:
                note = await alice.call_tool("notes_create", {"title": "secret plan"})
                tasks = await alice.call_tool("todo_list", {})
                habit = await alice.call_tool("habits_create", {"title": "Walk"})  # plaintext: works
                auth.set_vault(ALICE, "normal")
                back = await alice.call_tool("notes_create", {"title": "secret plan"})
                auth.latency_s = SLOW_S  # now the vault answers too late
                async with mcp_client(stack.gw, BOB, BOB_HOME) as bob:  # Bob's key is not cached yet
                    slow = await bob.call_tool("journal_add", {"content": "dear diary"})
                auth.latency_s = 0.0
            notes_rows = len(sync.store.rows("notes"))
            journal_rows = len(sync.store.rows("journal"))
    texts = [r.content[0].text for r in (note, tasks, slow)]  # type: ignore[union-attr]
    assert texts == [
        "Could not get the encryption key from mana-auth (HTTP 500); try again later. Nothing was written.",
        "Could not get the encryption key from mana-auth (HTTP 500); try again later.",
        "Could not get the encryption key from mana-auth (timeout); try again later. Nothing was written.",
    ]
    assert all(r.meta["mana/error"] == "key_unavailable" for r in (note, tasks, slow))  # type: ignore[index]
    assert habit.is_error is False
    assert back.is_error is False  # the failure was not cached
    assert notes_rows == 1  # only the write after recovery
    assert journal_rows == 0
    assert no_stack_traces(logs.lines) == []


async def test_memberships_down_serves_cached_users_and_503s_new_ones(tmp_path: Path) -> None:
    async with fault_stack(tmp_path) as stack, stack.gw.http() as http:
        gw, auth = stack.gw, stack.auth
        alice_before = await http.post("/mcp", json=initialize(), headers=gw.headers(ALICE))
        auth.spaces_status = 500
        alice_during = await http.post("/mcp", json=initialize(), headers=gw.headers(ALICE))
        bob_during = await http.post("/mcp", json=initialize(), headers=gw.headers(BOB, BOB_HOME))
        auth.spaces_status = None
        bob_after = await http.post("/mcp", json=initialize(), headers=gw.headers(BOB, BOB_HOME))
        health = await http.get("/health")
    assert alice_before.status_code == alice_during.status_code == 200  # cached for 5 min
    assert bob_during.status_code == 503
    assert bob_during.json() == {"error": "Could not verify space membership; try again"}
    assert bob_during.headers["retry-after"] == "5"
    assert bob_after.status_code == 200  # failures are not cached
    assert health.status_code == 200


async def test_mana_auth_gone_after_start(tmp_path: Path) -> None:
    """mana-auth stops answering at all (connections refused). The cached key set and memberships
    keep plaintext tools working; the key, never fetched, fails clearly and nothing is written."""
    auth = remote_auth()
    sync = FakeManaSync(auth.jwks, auth.memberships)
    async with contextlib.AsyncExitStack() as stack:
        logs = stack.enter_context(captured_logs())
        sync_url = await stack.enter_async_context(serve(sync.app))
        auth_server = serve(auth.app)
        auth_url = await auth_server.__aenter__()
        env = {"MANA_AUTH_URL": auth_url, "MANA_SYNC_URL": sync_url, "MANA_SERVICE_KEY": DEFAULT_SERVICE_KEY,
               "HOST": "127.0.0.1"}  # fmt: skip
        gw = await stack.enter_async_context(
            gateway(tmp_path, env, profile="remote", configure=short_timeouts)
        )
        gw.tokens[ALICE] = auth.mint(ALICE)
        async with gw.http() as http:
            assert (await http.post("/mcp", json=initialize(), headers=gw.headers(ALICE))).status_code == 200
        await auth_server.__aexit__(None, None, None)  # mana-auth is gone
        async with mcp_client(gw, ALICE, ALICE_HOME, mode="auto") as alice:
            habit = await alice.call_tool("habits_create", {"title": "Walk"})
            note = await alice.call_tool("notes_create", {"title": "x"})
            spaces = await alice.call_tool("spaces_list", {})
        async with gw.http() as http:
            ready = await http.get("/ready")
    assert habit.is_error is False
    assert note.content[0].text == (  # type: ignore[union-attr]
        "Could not get the encryption key from mana-auth (connection failed); try again later. "
        "Nothing was written."
    )
    assert spaces.is_error is False  # answered from the membership cache
    assert sync.store.rows("notes") == []
    assert ready.status_code == 200  # keys younger than 10 min are enough; mana-sync answers
    assert no_stack_traces(logs.lines) == []
