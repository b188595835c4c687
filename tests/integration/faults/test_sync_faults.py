"""mana-sync failing under the gateway (issue #5): 5xx in the middle of a batch of writes, timeouts,
dropped connections, the 402 billing gate.

For every write the agent is told one of three things, and each must be true of mana-sync's own log
(replayed from scratch, not through the gateway's caches): *done* → visible, whole; *nothing was
written* → absent; *may or may not* → whole or absent, never half. The gateway stays up, says
clearly what happened, and works again as soon as mana-sync does.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from tests.integration.faults.support import (
    Ledger,
    cold_replay,
    create_notes,
    fault_stack,
    listed_notes,
)
from tests.integration.gateway.support import ALICE, ALICE_HOME, mcp_client
from tests.integration.security.support import RemoteStack, captured_logs, no_stack_traces

ERAS = ["legacy", "auto"]


def notes(titles: list[str]) -> list[tuple[str, str]]:
    return sorted((title, f"body of {title}") for title in titles)


async def assert_consistent(stack: RemoteStack, ledger: Ledger) -> None:
    """Done writes are visible whole, failed ones absent, maybe ones whole or absent; the gateway's
    list and a cold replay of mana-sync's log agree."""
    async with mcp_client(stack.gw, ALICE, ALICE_HOME, mode="auto") as alice:
        seen = await listed_notes(alice)
    assert seen == cold_replay(stack, ALICE, ALICE_HOME)
    titles = [title for title, _ in seen]
    assert len(titles) == len(set(titles)), "a retried push must not show a record twice"
    for title in ledger.done:
        assert (title, f"body of {title}") in seen, title
    for title in ledger.failed:
        assert title not in titles, title
    expected = set(notes(ledger.done))
    assert set(seen) - expected <= set(notes(ledger.maybe))


async def still_healthy(stack: RemoteStack) -> None:
    async with stack.gw.http() as http:
        health = await http.get("/health")
        ready = await http.get("/ready")
    assert health.status_code == 200
    assert ready.status_code == 200, ready.text


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("status", [500, 400, 413])
async def test_an_error_status_in_the_middle_of_a_batch(tmp_path: Path, mode: str, status: int) -> None:
    """Not retried (only 502-504 are): that one write fails with nothing written, the others land."""
    titles = [f"batch {i}" for i in range(8)]
    ledger = Ledger()
    with captured_logs() as logs:
        async with fault_stack(tmp_path) as stack:
            async with mcp_client(stack.gw, ALICE, ALICE_HOME, mode=mode) as alice:
                await create_notes(alice, titles[:4], ledger)
                stack.sync.fail(status, op="push")
                await create_notes(alice, titles[4:], ledger)
            await assert_consistent(stack, ledger)
            await still_healthy(stack)
            stored = len(stack.sync.store.rows("notes"))
    assert ledger.failed == ["batch 4"]
    assert ledger.done == [t for t in titles if t != "batch 4"]
    assert ledger.messages == [
        f"Could not save the change to mana-sync (HTTP {status}). Nothing was written."
    ]
    assert stored == 7
    assert no_stack_traces(logs.lines) == []


@pytest.mark.parametrize("mode", ERAS)
async def test_concurrent_writes_while_mana_sync_fails_some(tmp_path: Path, mode: str) -> None:
    titles = [f"parallel {i}" for i in range(12)]
    ledger = Ledger()
    async with fault_stack(tmp_path) as stack:
        stack.sync.fail(500, op="push", times=4)
        async with mcp_client(stack.gw, ALICE, ALICE_HOME, mode=mode) as alice:
            calls = [alice.call_tool("notes_create", {"title": t, "content": f"body of {t}"}) for t in titles]
            for title, result in zip(titles, await asyncio.gather(*calls), strict=True):
                ledger.record(title, result)
        await assert_consistent(stack, ledger)
        stored = len(stack.sync.store.rows("notes"))
    assert len(ledger.failed) == 4
    assert len(ledger.done) == 8 == stored
    assert ledger.maybe == []


async def test_a_503_is_retried_once_and_two_are_reported(tmp_path: Path) -> None:
    ledger = Ledger()
    async with fault_stack(tmp_path) as stack:
        async with mcp_client(stack.gw, ALICE, ALICE_HOME) as alice:
            stack.sync.fail(503, op="push")
            await create_notes(alice, ["retried"], ledger)
            stack.sync.fail(503, op="push", times=2)
            await create_notes(alice, ["given up"], ledger)
        await assert_consistent(stack, ledger)
        pushes = [r.outcome for r in stack.sync.requests_of("push")]
    assert ledger.done == ["retried"]
    assert ledger.failed == ["given up"]
    assert ledger.messages == ["Could not save the change to mana-sync (HTTP 503). Nothing was written."]
    assert pushes == ["503", "200", "503", "503"]


async def test_a_push_answered_too_late_is_reported_as_maybe_and_is_whole(tmp_path: Path) -> None:
    """mana-sync stores, then answers after the gateway gave up (twice: the one retry is
    byte-identical). The agent is told to list first; the note is there once, title and content."""
    ledger = Ledger()
    async with fault_stack(tmp_path) as stack:
        async with mcp_client(stack.gw, ALICE, ALICE_HOME) as alice:
            stack.sync.set_latency(1.0, op="push", after_store=True)
            await create_notes(alice, ["slow"], ledger)
            stack.sync.set_latency(0.0)
            await create_notes(alice, ["after"], ledger)
        await assert_consistent(stack, ledger)
        seen = cold_replay(stack, ALICE, ALICE_HOME)
        stored = len(stack.sync.store.rows("notes"))
    assert ledger.maybe == ["slow"]
    assert ledger.messages == [
        "mana-sync did not confirm the change (timeout); it may or may not have been saved, so list "
        "before retrying."
    ]
    assert ledger.done == ["after"]
    assert stored == 3  # the slow push landed twice (mana-sync does not de-duplicate) ...
    assert seen == notes(["after", "slow"])  # ... and replays as one whole note


async def test_dropped_connections(tmp_path: Path) -> None:
    ledger = Ledger()
    async with fault_stack(tmp_path) as stack:
        async with mcp_client(stack.gw, ALICE, ALICE_HOME) as alice:
            stack.sync.fail("drop", op="push")  # before storing; the retry goes through
            await create_notes(alice, ["dropped once"], ledger)
            stack.sync.fail("drop_after_store", op="push")  # stored, then dropped; retried
            await create_notes(alice, ["stored then dropped"], ledger)
            stack.sync.fail("drop", op="push", times=2)  # both attempts lost before storing
            await create_notes(alice, ["dropped twice"], ledger)
            stack.sync.fail("drop", op="pull")  # a read retries too
            listed = await listed_notes(alice)
        await assert_consistent(stack, ledger)
        stored = [r.stored for r in stack.sync.requests_of("push")]
    assert ledger.done == ["dropped once", "stored then dropped"]
    assert ledger.maybe == ["dropped twice"]  # sent, unanswered: the gateway cannot know
    assert stored == [0, 1, 1, 1, 0, 0]
    assert listed == notes(["dropped once", "stored then dropped"])


async def test_reads_time_out_clearly_and_recover(tmp_path: Path) -> None:
    async with fault_stack(tmp_path) as stack:
        async with mcp_client(stack.gw, ALICE, ALICE_HOME) as alice:
            assert (await alice.call_tool("habits_create", {"title": "Walk"})).is_error is False
            stack.sync.set_latency(1.0, op="pull")
            failed = await alice.call_tool("habits_list", {})
            stack.sync.fail(500, op="pull")
            stack.sync.set_latency(0.0)
            error = await alice.call_tool("todo_list", {})
            back = await alice.call_tool("habits_list", {})
        await still_healthy(stack)
    assert failed.is_error is True
    assert failed.content[0].text == "Could not read habits from mana-sync (timeout); try again later."  # type: ignore[union-attr]
    assert error.content[0].text == "Could not read tasks from mana-sync (HTTP 500); try again later."  # type: ignore[union-attr]
    assert back.is_error is False
    assert back.structured_content is not None
    assert [h["title"] for h in back.structured_content["habits"]] == ["Walk"]


async def test_a_read_failing_on_a_later_page_shows_nothing_partial(tmp_path: Path) -> None:
    """1,500 habits are two pages; the second fails. The list is an error, not the first 1,000, and
    the next read (the gateway's cached read state was dropped) is complete."""
    async with fault_stack(tmp_path) as stack:
        async with mcp_client(stack.gw, ALICE, ALICE_HOME, mode="auto") as alice:
            assert (await alice.call_tool("habits_create", {"title": "h0000"})).is_error is False
            plant_habits(stack, 1499)
            before = len(stack.sync.requests_of("pull"))
            stack.sync.fail(500, op="pull", skip=1)
            broken = await alice.call_tool("habits_list", {})
            after = await alice.call_tool("habits_list", {})
        pulls = [(r.outcome, r.since) for r in stack.sync.requests_of("pull")[before:]]
    assert broken.is_error is True
    assert broken.structured_content is None
    assert broken.content[0].text == "Could not read habits from mana-sync (HTTP 500); try again later."  # type: ignore[union-attr]
    assert after.is_error is False
    assert after.structured_content is not None
    assert len(after.structured_content["habits"]) == 1500
    assert [outcome for outcome, _ in pulls] == ["200", "500", "200", "200"]
    assert pulls[2][1] == "1970-01-01T00:00:00.000Z"  # the retry read starts over, not from the bad page


def plant_habits(stack: RemoteStack, count: int) -> None:
    """Habits written by Alice's browser, straight into the stand-in's log in one push."""
    changes = []
    for i in range(1, count + 1):
        record = f"00000000-0000-4000-8000-{i:012d}"
        data = {"id": record, "title": f"h{i:04d}", "spaceId": ALICE_HOME, "authorId": ALICE,
                "visibility": "space", "order": i}  # fmt: skip
        changes.append({"table": "habits", "id": record, "op": "insert", "spaceId": ALICE_HOME, "data": data})
    body = {"clientId": "browser-1", "since": "", "changes": changes}
    answer = stack.sync.server.push(ALICE, "browser-1", "habits", json.dumps(body).encode())
    assert answer.status == 200, answer.text


@pytest.mark.parametrize("mode", ERAS)
async def test_the_billing_gate(tmp_path: Path, mode: str) -> None:
    """402 ``sync_inactive``: a clear tool error on reads and writes, nothing written, and the
    account works again the moment sync is active."""
    ledger = Ledger()
    async with fault_stack(tmp_path) as stack:
        async with mcp_client(stack.gw, ALICE, ALICE_HOME, mode=mode) as alice:
            stack.sync.inactive_users.add(ALICE)
            write = await alice.call_tool("notes_create", {"title": "blocked", "content": "body of blocked"})
            read = await alice.call_tool("todo_list", {})
            stack.sync.inactive_users.discard(ALICE)
            await create_notes(alice, ["active again"], ledger)
        await assert_consistent(stack, ledger)
        await still_healthy(stack)
        seen = cold_replay(stack, ALICE, ALICE_HOME)
    assert write.meta is not None
    assert read.meta is not None
    assert (write.meta["mana/error"], read.meta["mana/error"]) == ("sync_inactive", "sync_inactive")
    assert write.content[0].text == (  # type: ignore[union-attr]
        "Cloud sync is not active for this account, so mana-sync refused the request. Nothing was written."
    )
    assert seen == notes(["active again"])
