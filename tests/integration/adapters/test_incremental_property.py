"""Property: after any interleaving of pushes (ours over HTTP, other clients' straight into the log),
server clock moves and reads, the incremental pull cache holds exactly what a cold full replay
builds. Everything runs over real HTTP against the stand-in.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mana.adapters.incremental_reader import IncrementalReader
from mana.adapters.memory import FixedClock
from mana.adapters.standins.fake_mana_sync import FakeManaSync
from mana.adapters.sync_http import HttpChangeLog
from mana.application.ports import Caller
from mana.application.reading import FullReplayReader
from mana.domain.replay import CollectionState
from mana.domain.timestamps import format_instant

from .conftest import FAST_RETRIES, RecordingObserver
from .support import browser_push, insert, update

pytestmark = pytest.mark.integration

MAX_SKEW_S = 9.0
"""How far the server clock may fall behind its own high-water mark: less than the overlap."""


class SkewClock:
    """mana-sync's database clock: moves forwards freely, backwards by at most ``MAX_SKEW_S``."""

    def __init__(self) -> None:
        self.current = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
        self.high = self.current

    def now(self) -> datetime:
        return self.current

    def move(self, seconds: float) -> None:
        target = self.current + timedelta(seconds=seconds)
        self.current = max(target, self.high - timedelta(seconds=MAX_SKEW_S))
        self.high = max(self.high, self.current)


@pytest.fixture
def server_clock() -> SkewClock:
    return SkewClock()


@pytest.fixture
def sync(auth, server_clock) -> FakeManaSync:
    return FakeManaSync(auth.jwks, auth.memberships, clock=server_clock.now)


record_ids = st.integers(0, 4).map(lambda i: f"r{i}")
titles = st.sampled_from(["a", "b", "c", None])
offsets = st.sampled_from([-30.0, -5.0, 0.0, 0.0, 5.0, 30.0])
clock_moves = st.tuples(st.just("clock"), st.sampled_from([-9.0, -3.0, 0.5, 4.0, 11.0, 120.0]))
reads = st.tuples(st.just("read"))
# Clock moves and reads are drawn more often: rows landing just behind a cursor need both.
ops = st.one_of(
    st.tuples(st.just("we_insert"), record_ids),
    st.tuples(st.just("we_update"), record_ids, titles),
    st.tuples(st.just("other_insert"), record_ids, st.sampled_from(["alice", "bob"]), st.booleans()),
    st.tuples(st.just("other_update"), record_ids, titles, offsets),
    st.tuples(st.just("other_delete"), record_ids, st.booleans()),
    clock_moves,
    clock_moves,
    reads,
    reads,
)

EXAMPLES = itertools.count()


def snapshot(state: CollectionState) -> dict[str, Any]:
    return {
        rid: (dict(rec.values), dict(rec.times), rec.space_id, rec.author_id)
        for rid, rec in state.records.items()
    }


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=st.lists(ops, min_size=1, max_size=16))
async def test_incremental_reads_equal_a_cold_full_replay(script, auth, sync, client, sync_url, server_clock):
    n = next(EXAMPLES)  # fresh users and space per example: the servers are shared
    alice_id, bob_id, space = f"u_a{n}", f"u_b{n}", f"sp_{n}"
    auth.add_space(space, "Shared", type="family", members=[(alice_id, "owner"), (bob_id, "member")])
    alice = Caller(alice_id, auth.mint(alice_id))
    log = HttpChangeLog(client, sync_url, RecordingObserver(), **FAST_RETRIES)
    reader = IncrementalReader(log, clock=FixedClock(), overlap_s=10.0)

    def stamp(offset: float = 0.0) -> str:
        return format_instant(server_clock.now() + timedelta(seconds=offset))

    async def compare() -> None:
        warm = await reader.read(alice, "habits", "habits")
        cold = await FullReplayReader(log).read(alice, "habits", "habits")
        assert snapshot(warm) == snapshot(cold)
        assert sorted(r.record_id for r in warm.visible(alice_id, space)) == sorted(
            r.record_id for r in cold.visible(alice_id, space)
        )

    for op in script:
        kind = op[0]
        if kind == "we_insert":
            await log.push(
                alice, "habits", insert(op[1], "ours", space=space, author=alice_id, at=stamp()), stamp()
            )
        elif kind == "we_update":
            await log.push(alice, "habits", update(op[1], space=space, at=stamp(), title=op[2]), stamp())
        elif kind == "other_insert":
            author = alice_id if op[2] == "alice" else bob_id
            data: dict[str, Any] = {"id": op[1], "title": "theirs", "spaceId": space, "authorId": author}
            if op[3]:
                data["updatedAt"] = stamp(-1.0)
            change = {"table": "habits", "id": op[1], "op": "insert", "spaceId": space, "data": data}
            browser_push(sync, author, [change])
        elif kind == "other_update":
            fields = {"title": {"value": op[2], "at": stamp(op[3])}}
            browser_push(
                sync,
                bob_id,
                [{"table": "habits", "id": op[1], "op": "update", "spaceId": space, "fields": fields}],
            )
        elif kind == "other_delete":
            change = {"table": "habits", "id": op[1], "op": "delete", "spaceId": space}
            if op[2]:
                change["deletedAt"] = stamp()
            browser_push(sync, bob_id, [change])
        elif kind == "clock":
            server_clock.move(op[1])
        else:
            await compare()
            continue
        # The gateway reads often: every op moves the cache's cursor, then "read" ops compare.
        await reader.read(alice, "habits", "habits")
    await compare()
