"""The incremental pull cache on the in-process sync core: resume cursor, drop rules, LRU, locking."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from mana.adapters.in_process_sync import InProcessChangeLog
from mana.adapters.incremental_reader import IncrementalReader, resume_cursor
from mana.adapters.memory import FixedClock, MemorySyncStore
from mana.adapters.sync_core import SyncServer
from mana.application.errors import SyncReadFailed
from mana.application.ports import Caller, PullPage
from mana.application.reading import FullReplayReader
from mana.domain.changes import Actor, Change, FieldChange
from mana.domain.timestamps import EPOCH_CURSOR, format_instant

ACTOR = Actor("system", "system:mcp", "Test via MCP")
ALICE = Caller("u_alice", "token-a")
BOB = Caller("u_bob", "token-b")


class RecordingLog:
    """The in-process change log, recording each pull's cursor and able to fail the next pulls."""

    def __init__(self, inner: InProcessChangeLog) -> None:
        self.inner = inner
        self.pulls: list[tuple[str, str]] = []
        self.fail_next = 0
        self.in_flight = 0
        self.max_in_flight = 0

    async def push(self, caller: Caller, app_id: str, change: Change, since: str) -> None:
        await self.inner.push(caller, app_id, change, since)

    async def pull(self, caller: Caller, app_id: str, collection: str, since: str) -> PullPage:
        self.pulls.append((caller.user_id, since))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)
            if self.fail_next:
                self.fail_next -= 1
                raise SyncReadFailed("timeout")
            return await self.inner.pull(caller, app_id, collection, since)
        finally:
            self.in_flight -= 1


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def members() -> dict[str, set[str]]:
    return {"u_alice": {"sp_family"}, "u_bob": {"sp_family"}}


@pytest.fixture
def log(clock, members) -> RecordingLog:
    server = SyncServer(MemorySyncStore(), lambda user: members.get(user, set()), clock=clock.now)
    return RecordingLog(InProcessChangeLog(server))


def insert(record_id: str, title: str, space: str, author: str, clock: FixedClock) -> Change:
    now = format_instant(clock.now())
    data = {"id": record_id, "title": title, "spaceId": space, "authorId": author, "createdAt": now}
    return Change("habits", record_id, "insert", data=data, space_id=space, actor=ACTOR, origin="agent")


def update(record_id: str, title: str, space: str, clock: FixedClock) -> Change:
    now = format_instant(clock.now())
    fields = {"title": FieldChange(title, now, now)}
    return Change("habits", record_id, "update", fields=fields, space_id=space, actor=ACTOR, origin="agent")


def titles(state) -> dict[str, object]:
    return {rid: rec.values.get("title") for rid, rec in state.records.items()}


@pytest.mark.parametrize(
    ("cursor", "expected"),
    [
        ("2026-05-01T09:40:02.5512Z", "2026-05-01T09:39:52.551200Z"),
        ("2026-05-01T09:40:02Z", "2026-05-01T09:39:52.000000Z"),
        ("2026-05-01T11:40:02.123456789+02:00", "2026-05-01T09:39:52.123456Z"),
        ("1970-01-01T00:00:05Z", EPOCH_CURSOR),
        ("not a time", EPOCH_CURSOR),
    ],
)
def test_the_resumed_cursor_is_the_cursor_minus_the_overlap_in_utc_microseconds(cursor, expected):
    assert resume_cursor(cursor, 10.0) == expected


async def test_a_second_read_resumes_from_the_cursor_minus_the_overlap(clock, log):
    reader = IncrementalReader(log, clock=clock)
    await log.push(ALICE, "habits", insert("h1", "Walk", "sp_family", "u_alice", clock), "x")
    clock.advance(5.0)
    first = await reader.read(ALICE, "habits", "habits")
    assert titles(first) == {"h1": "Walk"}
    clock.advance(60.0)
    await log.push(ALICE, "habits", update("h1", "Evening walk", "sp_family", clock), "x")
    second = await reader.read(ALICE, "habits", "habits")
    assert titles(second) == {"h1": "Evening walk"}
    assert log.pulls[0] == ("u_alice", EPOCH_CURSOR)
    # the first read ended at the server time 09:00:05; ten seconds of overlap before it
    assert log.pulls[1] == ("u_alice", "2026-05-01T08:59:55.000000Z")


async def test_incremental_reads_equal_a_cold_full_replay(clock, log, members):
    reader = IncrementalReader(log, clock=clock)
    cold = FullReplayReader(log)
    for step in range(6):
        author = ALICE if step % 2 == 0 else BOB
        await log.push(
            author, "habits", insert(f"h{step}", f"t{step}", "sp_family", author.user_id, clock), "x"
        )
        clock.advance(0.5)
        await log.push(BOB, "habits", update("h0", f"renamed {step}", "sp_family", clock), "x")
        warm = await reader.read(ALICE, "habits", "habits")
        assert titles(warm) == titles(await cold.read(ALICE, "habits", "habits"))
    assert titles(warm)["h0"] == "renamed 5"


async def test_a_failed_read_drops_the_entry_and_the_next_read_starts_over(clock, log):
    reader = IncrementalReader(log, clock=clock)
    await log.push(ALICE, "habits", insert("h1", "Walk", "sp_family", "u_alice", clock), "x")
    await reader.read(ALICE, "habits", "habits")
    log.fail_next = 1
    with pytest.raises(SyncReadFailed):
        await reader.read(ALICE, "habits", "habits")
    state = await reader.read(ALICE, "habits", "habits")
    assert titles(state) == {"h1": "Walk"}
    assert log.pulls[-1] == ("u_alice", EPOCH_CURSOR)


async def test_an_entry_older_than_the_max_age_is_rebuilt_from_the_epoch(clock, log):
    reader = IncrementalReader(log, clock=clock, max_age_s=600.0)
    await reader.read(ALICE, "habits", "habits")
    clock.advance(600.0)
    await reader.read(ALICE, "habits", "habits")
    assert log.pulls[-1][1] != EPOCH_CURSOR
    clock.advance(0.001)
    await reader.read(ALICE, "habits", "habits")
    assert log.pulls[-1] == ("u_alice", EPOCH_CURSOR)


async def test_a_membership_change_makes_old_rows_of_a_new_space_visible(clock, log, members):
    reader = IncrementalReader(log, clock=clock)
    await log.push(BOB, "habits", insert("h_club", "Club run", "sp_club", "u_bob", clock), "x")
    clock.advance(60.0)
    assert titles(await reader.read(ALICE, "habits", "habits")) == {}
    members["u_alice"].add("sp_club")  # Alice joins; Bob's row is older than her cursor
    clock.advance(60.0)
    assert titles(await reader.read(ALICE, "habits", "habits")) == {}  # a resumed read misses it
    reader.memberships_changed("u_alice")
    assert titles(await reader.read(ALICE, "habits", "habits")) == {"h_club": "Club run"}


async def test_entries_are_per_user_and_users_are_evicted_least_recently_used(clock, log):
    reader = IncrementalReader(log, clock=clock, max_users=1)
    await log.push(ALICE, "habits", insert("h1", "Mine", "_personal:u_alice", "u_alice", clock), "x")
    assert titles(await reader.read(ALICE, "habits", "habits")) == {"h1": "Mine"}
    assert titles(await reader.read(BOB, "habits", "habits")) == {}
    assert reader.user_count == 1
    await reader.read(ALICE, "habits", "habits")
    assert log.pulls[-1] == ("u_alice", EPOCH_CURSOR)  # Alice was evicted by Bob


async def test_concurrent_reads_of_one_entry_never_pull_at_the_same_time(clock, log):
    reader = IncrementalReader(log, clock=clock)
    for i in range(5):
        await log.push(ALICE, "habits", insert(f"h{i}", f"t{i}", "sp_family", "u_alice", clock), "x")
    states = await asyncio.gather(*(reader.read(ALICE, "habits", "habits") for _ in range(8)))
    assert log.max_in_flight == 1
    assert all(s is states[0] for s in states)
    assert len(states[0].records) == 5
    assert len(log.pulls) == 8  # each caller still pulls after its turn: read-your-writes


async def test_a_caller_waiting_on_an_entry_dropped_by_an_error_starts_over(clock, log):
    reader = IncrementalReader(log, clock=clock)
    await log.push(ALICE, "habits", insert("h1", "Walk", "sp_family", "u_alice", clock), "x")
    log.fail_next = 1
    first, second = await asyncio.gather(
        reader.read(ALICE, "habits", "habits"), reader.read(ALICE, "habits", "habits"), return_exceptions=True
    )
    assert isinstance(first, SyncReadFailed)
    assert titles(second) == {"h1": "Walk"}
    assert [since for _, since in log.pulls] == [EPOCH_CURSOR, EPOCH_CURSOR]


async def test_a_row_committed_behind_the_cursor_is_caught_by_the_overlap(clock, log):
    reader = IncrementalReader(log, clock=clock, overlap_s=10.0)
    await log.push(ALICE, "habits", insert("h1", "Walk", "sp_family", "u_alice", clock), "x")
    clock.advance(60.0)
    await reader.read(ALICE, "habits", "habits")  # cursor: the server's "now"
    clock.set(clock.now() - timedelta(seconds=5))  # a row whose commit time lies behind that cursor
    await log.push(BOB, "habits", insert("h2", "Late", "sp_family", "u_bob", clock), "x")
    assert titles(await reader.read(ALICE, "habits", "habits")) == {"h1": "Walk", "h2": "Late"}


async def test_event_ids_a_resumed_read_can_no_longer_receive_are_forgotten(clock, log):
    reader = IncrementalReader(log, clock=clock)
    for i in range(2500):  # three pages, stored over 50 s of server time
        await log.push(ALICE, "habits", insert(f"h{i}", f"t{i}", "sp_family", "u_alice", clock), "x")
        clock.advance(0.02)
    clock.advance(1.0)
    state = await reader.read(ALICE, "habits", "habits")
    # pages ending more than two overlaps before the cursor can never be sent again
    assert state.seen_count < 2500
    assert len(state.records) == 2500
    # the changes of the last 20 s are remembered: a resumed read sends them again and skips them
    clock.advance(1.0)
    await log.push(ALICE, "habits", update("h2499", "renamed", "sp_family", clock), "x")
    again = await reader.read(ALICE, "habits", "habits")
    assert titles(again) == titles(await FullReplayReader(log).read(ALICE, "habits", "habits"))
    clock.advance(60.0)
    await log.push(ALICE, "habits", update("h0", "late", "sp_family", clock), "x")
    later = await reader.read(ALICE, "habits", "habits")
    assert titles(later) == titles(await FullReplayReader(log).read(ALICE, "habits", "habits"))
    # that read was sent the last overlap's changes again; a read a minute on forgets them too
    clock.advance(60.0)
    settled = await reader.read(ALICE, "habits", "habits")
    assert settled.seen_count == 1  # only the late update: stored a minute ago, sent again now
    assert titles(settled) == titles(later)


async def test_a_large_read_hands_freed_memory_back_and_a_small_one_does_not(clock, log):
    calls: list[int] = []
    reader = IncrementalReader(log, clock=clock, on_large_read=lambda: calls.append(1), large_read_pages=3)
    for i in range(2500):  # three pages from the epoch
        await log.push(ALICE, "habits", insert(f"h{i}", f"t{i}", "sp_family", "u_alice", clock), "x")
    clock.advance(15.0)  # older than the overlap: the resumed read will not fetch them again
    await reader.read(ALICE, "habits", "habits")
    assert calls == [1]
    clock.advance(60.0)
    await reader.read(ALICE, "habits", "habits")  # resumed: one small page
    assert calls == [1]


def test_freed_memory_goes_back_where_the_c_library_allows_it():
    import platform

    from mana.adapters.heap import release_free_memory

    assert release_free_memory() is (platform.libc_ver()[0] == "glibc")


async def test_pages_without_event_ids_still_count_as_pages_and_keep_nothing(clock, log):
    calls: list[int] = []
    reader = IncrementalReader(log, clock=clock, on_large_read=lambda: calls.append(1), large_read_pages=1)
    await log.push(ALICE, "habits", insert("h1", "Walk", "sp_family", "u_alice", clock), "x")
    await reader.read(ALICE, "habits", "habits")
    entry = reader._users["u_alice"][("habits", "habits")]
    clock.advance(60.0)
    await reader.read(ALICE, "habits", "habits")  # resumed within the overlap: the insert again
    assert [len(ids) for _, ids in entry.recent] == [1]
    clock.advance(60.0)
    warm = await reader.read(ALICE, "habits", "habits")  # one empty page: nothing to note
    assert log.pulls[-1] == ("u_alice", "2026-05-01T09:00:50.000000Z")
    assert calls == [1, 1, 1]  # but it was a page, and pages are what count
    assert list(entry.recent) == []  # the older page's ids went: its cursor is a minute old
    assert (warm.seen_count, titles(warm)) == (0, {"h1": "Walk"})
