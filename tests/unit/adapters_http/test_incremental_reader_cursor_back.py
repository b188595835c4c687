"""A cursor that goes back further than the overlap must not replay a forgotten change twice.

The reader forgets the event ids of pages older than its cursor less twice the overlap. If the
next cursor the server gives is older than that (its clock stepped back, a replica behind it, an
unparseable cursor that resumes from the epoch), a resumed read is sent those changes again, and
a change replayed twice is not harmless: an insert replayed after a hard delete brings the record
back. The reader's answer must still equal a cold full replay (mana-sync.md §10.4).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

import pytest

from mana.adapters.in_process_sync import InProcessChangeLog
from mana.adapters.incremental_reader import IncrementalReader
from mana.adapters.memory import FixedClock, MemorySyncStore
from mana.adapters.sync_core import SyncServer
from mana.application.ports import Caller, PullPage
from mana.application.reading import FullReplayReader
from mana.domain.changes import Actor, Change, FieldChange
from mana.domain.timestamps import format_instant

ACTOR = Actor("system", "system:mcp", "Test via MCP")
ALICE = Caller("u_alice", "token-a")
SPACE = "sp_family"


def insert(record_id: str, clock: FixedClock) -> Change:
    now = format_instant(clock.now())
    data = {"id": record_id, "title": record_id, "spaceId": SPACE, "authorId": "u_alice", "createdAt": now}
    return Change("habits", record_id, "insert", data=data, space_id=SPACE, actor=ACTOR, origin="agent")


def rename(record_id: str, title: str, clock: FixedClock) -> Change:
    now = format_instant(clock.now())
    fields = {"title": FieldChange(title, now, now)}
    return Change("habits", record_id, "update", fields=fields, space_id=SPACE, actor=ACTOR, origin="agent")


def hard_delete(record_id: str) -> Change:
    return Change("habits", record_id, "delete", space_id=SPACE, actor=ACTOR, origin="agent")


class CursorLog:
    """The in-process log, whose final cursors can be replaced by one given (``garbage``)."""

    def __init__(self, inner: InProcessChangeLog) -> None:
        self.inner = inner
        self.cursor: str | None = None

    async def push(self, caller: Caller, app_id: str, change: Change, since: str) -> None:
        await self.inner.push(caller, app_id, change, since)

    async def pull(self, caller: Caller, app_id: str, collection: str, since: str) -> PullPage:
        page = await self.inner.pull(caller, app_id, collection, since)
        if self.cursor is not None and not page.has_more:
            page = PullPage(
                wire_changes=page.wire_changes,
                synced_until=self.cursor,
                has_more=False,
                invalid_event_ids=page.invalid_event_ids,
            )
        return page


@pytest.fixture
def server_clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def log(server_clock: FixedClock) -> CursorLog:
    server = SyncServer(MemorySyncStore(), lambda user: {SPACE}, clock=server_clock.now)
    return CursorLog(InProcessChangeLog(server))


async def history_read_long_after(
    log: CursorLog, server_clock: FixedClock, reader: IncrementalReader
) -> None:
    """Insert r1, read it; reads go on until its id is forgotten; then r1 is hard-deleted and read."""
    await log.push(ALICE, "habits", insert("r1", server_clock), "")
    await reader.read(ALICE, "habits", "habits")
    for _ in range(4):
        server_clock.advance(30)
        await reader.read(ALICE, "habits", "habits")
    await log.push(ALICE, "habits", hard_delete("r1"), "")
    state = await reader.read(ALICE, "habits", "habits")
    assert "r1" not in state.records


async def cold(log: CursorLog) -> set[str]:
    state = await FullReplayReader(log).read(ALICE, "habits", "habits")  # type: ignore[arg-type]
    return set(state.records)


def step_back(log: CursorLog, server_clock: FixedClock) -> None:
    server_clock.set(server_clock.now() - timedelta(seconds=125))  # an NTP step back


def unparseable(log: CursorLog, server_clock: FixedClock) -> None:
    log.cursor = "not a cursor"  # resumes from the epoch


@pytest.mark.parametrize("go_back", [step_back, unparseable])
async def test_a_cursor_back_past_what_was_forgotten_does_not_replay_a_forgotten_insert(
    log: CursorLog, server_clock: FixedClock, go_back: Callable[[CursorLog, FixedClock], None]
) -> None:
    reader = IncrementalReader(log, clock=FixedClock(), overlap_s=10.0)  # type: ignore[arg-type]
    await history_read_long_after(log, server_clock, reader)
    go_back(log, server_clock)
    for _ in range(3):
        state = await reader.read(ALICE, "habits", "habits")
        assert set(state.records) == await cold(log) == set()


async def test_a_cursor_back_by_less_than_the_overlap_keeps_the_entry(
    log: CursorLog, server_clock: FixedClock
) -> None:
    """A small step back is what the overlap is for: the warm entry stays (no cold re-read)."""
    reader = IncrementalReader(log, clock=FixedClock(), overlap_s=10.0)  # type: ignore[arg-type]
    await history_read_long_after(log, server_clock, reader)
    first = await reader.read(ALICE, "habits", "habits")
    server_clock.set(server_clock.now() - timedelta(seconds=4))
    await log.push(ALICE, "habits", insert("r2", server_clock), "")
    for _ in range(2):
        state = await reader.read(ALICE, "habits", "habits")
        assert state is first
        assert set(state.records) == await cold(log) == {"r2"}


def snapshot(state: object) -> dict[str, dict[str, object]]:
    return {rid: dict(rec.values) for rid, rec in state.records.items()}  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", range(40))
async def test_random_writes_and_server_clock_steps_read_as_a_cold_replay(seed: int) -> None:
    """Inserts, renames and hard deletes of a few records, reads in between, and a server clock
    that moves on by 0-40 s and now and then steps back by up to a minute: every read equals a
    cold full replay of the log."""
    rng = random.Random(seed)
    server_clock = FixedClock()
    log = CursorLog(InProcessChangeLog(SyncServer(MemorySyncStore(), lambda user: {SPACE}, server_clock.now)))
    reader = IncrementalReader(log, clock=FixedClock(), overlap_s=10.0)  # type: ignore[arg-type]
    live: set[str] = set()
    for step in range(60):
        if rng.random() < 0.15:
            server_clock.set(server_clock.now() - timedelta(seconds=rng.randint(1, 60)))
        else:
            server_clock.advance(rng.choice((0, 1, 5, 12, 25, 40)))
        record = f"r{rng.randint(0, 4)}"
        if record not in live:
            await log.push(ALICE, "habits", insert(record, server_clock), "")
            live.add(record)
        elif rng.random() < 0.5:
            await log.push(ALICE, "habits", rename(record, f"t{step}", server_clock), "")
        else:
            await log.push(ALICE, "habits", hard_delete(record), "")
            live.discard(record)
        if rng.random() < 0.6:
            state = await reader.read(ALICE, "habits", "habits")
            cold_state = await FullReplayReader(log).read(ALICE, "habits", "habits")  # type: ignore[arg-type]
            assert snapshot(state) == snapshot(cold_state), step
