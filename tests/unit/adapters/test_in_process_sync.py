"""The ChangeLog port served in process: envelope, client ids, paging and status mapping."""

from __future__ import annotations

from typing import Any

import pytest

from mana.adapters.in_process_sync import InProcessChangeLog
from mana.adapters.memory import FixedClock, MemorySyncStore
from mana.adapters.sync_core import SyncServer, WireFormat
from mana.application.errors import SyncInactive, SyncReadFailed, SyncUnauthorized, SyncWriteFailed
from mana.application.ports import Caller
from mana.application.reading import FullReplayReader
from mana.domain.changes import READER_CLIENT_ID, WIRE_CLIENT_ID, Actor, Change, FieldChange

EPOCH = "1970-01-01T00:00:00.000Z"
NOW = "2026-05-01T09:00:00.000Z"
ALICE = Caller("u_alice", "token-a")
ACTOR = Actor("system", "system:mcp", "Agent via MCP")


def make(wire_format: WireFormat = "current") -> tuple[InProcessChangeLog, SyncServer, MemorySyncStore]:
    store = MemorySyncStore()
    server = SyncServer(store, lambda user: {"sp_family"}, clock=FixedClock().now, wire_format=wire_format)
    return InProcessChangeLog(server), server, store


def habit(record_id: str, title: str = "Walk") -> Change:
    data = {
        "id": record_id,
        "title": title,
        "spaceId": "sp_family",
        "authorId": ALICE.user_id,
        "createdAt": NOW,
    }
    return Change("habits", record_id, "insert", data=data, space_id="sp_family", actor=ACTOR, origin="agent")


def rename(record_id: str, title: str, at: str) -> Change:
    fields = {"title": FieldChange(title, at=at, updated_at=at)}
    return Change(
        "habits", record_id, "update", fields=fields, space_id="sp_family", actor=ACTOR, origin="agent"
    )


async def test_push_sends_one_change_with_the_writer_id_and_pull_sees_it() -> None:
    log, _, store = make()
    await log.push(ALICE, "habits", habit("h1"), NOW)
    [row] = store.rows()
    assert row.client_id == WIRE_CLIENT_ID
    assert row.user_id == ALICE.user_id
    page = await log.pull(ALICE, "habits", "habits", EPOCH)
    assert page.has_more is False
    assert page.invalid_event_ids == []
    [change] = page.changes
    assert change.record_id == "h1"
    assert change.actor == ACTOR.to_wire()
    assert change.origin == "agent"
    assert change.data is not None
    assert change.data["title"] == "Walk"


async def test_pull_uses_the_reader_id_so_rows_stored_under_it_are_excluded() -> None:
    log, server, _ = make()
    server.push("u_alice", READER_CLIENT_ID, "habits", {"changes": [habit_wire("echo")]})
    await log.push(ALICE, "habits", habit("mine"), NOW)
    page = await log.pull(ALICE, "habits", "habits", EPOCH)
    assert [c.record_id for c in page.changes] == ["mine"]


def habit_wire(record_id: str) -> dict[str, Any]:
    return {
        "table": "habits",
        "id": record_id,
        "op": "insert",
        "data": {"id": record_id},
        "spaceId": "sp_family",
    }


@pytest.mark.parametrize("wire_format", ["current", "legacy"])
async def test_field_times_survive_both_wire_formats(wire_format: WireFormat) -> None:
    log, _, _ = make(wire_format)
    await log.push(ALICE, "habits", habit("h1"), NOW)
    await log.push(ALICE, "habits", rename("h1", "Evening walk", "2026-05-01T10:00:00.000Z"), NOW)
    page = await log.pull(ALICE, "habits", "habits", EPOCH)
    fields = page.changes[1].fields
    assert fields is not None
    assert fields["title"].value == "Evening walk"
    assert fields["title"].time == "2026-05-01T10:00:00.000Z"


async def test_full_replay_reader_pages_through_2500_changes() -> None:
    log, server, _ = make()
    batch = {"changes": [habit_wire(f"h{i}") for i in range(2500)]}
    assert server.push("u_bob", "browser", "habits", batch).status == 200  # a co-member's rows
    await log.push(ALICE, "habits", rename("h7", "Renamed", "2026-05-01T10:00:00.000Z"), NOW)
    state = await FullReplayReader(log).read(ALICE, "habits", "habits")
    assert len(state.records) == 2500
    assert state.records["h7"].values["title"] == "Renamed"


async def test_invalid_changes_are_counted_not_returned() -> None:
    log, server, _ = make()
    server.push("u_alice", "browser", "habits", {"changes": [{**habit_wire("bad"), "actor": None}]})
    await log.push(ALICE, "habits", habit("good"), NOW)
    page = await log.pull(ALICE, "habits", "habits", EPOCH)
    assert [c.record_id for c in page.changes] == ["good"]
    assert len(page.invalid_event_ids) == 1
    assert isinstance(page.invalid_event_ids[0], str)


@pytest.mark.parametrize(
    ("fault", "read_error", "write_error"),
    [
        ("unauthorized", SyncUnauthorized, SyncUnauthorized),
        ("inactive", SyncInactive, SyncInactive),
        ("error", SyncReadFailed, SyncWriteFailed),
    ],
)
async def test_statuses_map_like_the_http_adapter(
    fault: Any, read_error: type[Exception], write_error: type[Exception]
) -> None:
    log, server, store = make()
    server.fail(fault)
    with pytest.raises(read_error) as read:
        await log.pull(ALICE, "habits", "habits", EPOCH)
    with pytest.raises(write_error) as write:
        await log.push(ALICE, "habits", habit("h1"), NOW)
    assert len(store) == 0
    if fault == "error":
        assert isinstance(read.value, SyncReadFailed)
        assert read.value.reason == "HTTP 500"
        assert isinstance(write.value, SyncWriteFailed)
        assert write.value.reason == "HTTP 500"
        assert write.value.maybe_written is False


async def test_a_dropped_connection_may_or_may_not_have_written() -> None:
    log, server, _ = make()
    server.fail("drop")
    with pytest.raises(SyncWriteFailed) as write:
        await log.push(ALICE, "habits", habit("h1"), NOW)
    assert write.value.maybe_written is True
    assert write.value.reason == "connection failed"
    with pytest.raises(SyncReadFailed) as read:
        await log.pull(ALICE, "habits", "habits", EPOCH)
    assert read.value.reason == "connection failed"


async def test_a_rejected_push_is_a_write_failure_with_its_status() -> None:
    log, _, store = make()
    with pytest.raises(SyncWriteFailed) as failure:
        await log.push(ALICE, "habits", Change("habits", "", "insert", data={}), NOW)
    assert failure.value.reason == "HTTP 400"
    assert len(store) == 0
    with pytest.raises(SyncReadFailed) as read:
        await log.pull(ALICE, "habits", "habits", "")
    assert read.value.reason == "HTTP 400"
