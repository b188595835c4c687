"""Live views: however a log is fed in and read between chunks, a view equals filtering every
record afresh (what ``visible`` plus the filter give), and the journal stays bounded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mana.domain.changes import Change
from mana.domain.records import task_is_open
from mana.domain.replay import JOURNAL_MIN, CollectionState

from .test_replay_properties import SPACES, USERS, logs


def completed_or_not(values: Mapping[str, Any]) -> bool:
    return values.get("title") != "x"


FILTERS = (None, task_is_open, completed_or_not)


def afresh(state: CollectionState, user: str, space: str, keep: Any) -> set[str]:
    return {r.record_id for r in state.visible(user, space) if keep is None or keep(r.values)}


@given(logs(max_size=24), st.data())
def test_a_view_read_between_chunks_equals_filtering_afresh(log: list[Change], data: st.DataObject) -> None:
    state = CollectionState()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(log)), max_size=4)))
    start = 0
    for cut in [*cuts, len(log)]:
        state.apply_all(log[start:cut])
        start = cut
        for _ in range(data.draw(st.integers(1, 3))):
            user, space = data.draw(st.sampled_from(USERS)), data.draw(st.sampled_from(SPACES))
            keep = data.draw(st.sampled_from(FILTERS))
            view = state.live(user, space, keep)
            assert set(view) == afresh(state, user, space, keep)
            assert all(view[rid] is state.records[rid] for rid in view)


def _insert(i: int, space: str = "sp") -> Change:
    data = {"id": f"r{i}", "title": f"t{i}", "spaceId": space, "createdAt": "2026-01-01T00:00:00.000Z"}
    return Change("tasks", f"r{i % 10}", "insert", data=data, event_id=f"e{i}")


def test_the_journal_is_bounded_and_a_view_left_behind_rebuilds() -> None:
    state = CollectionState()
    state.apply_all([_insert(0)])
    assert set(state.live("u", "sp")) == {"r0"}
    state.live("u", "sp", task_is_open)  # this view then falls behind the journal
    for i in range(1, 3 * JOURNAL_MIN):
        state.apply_all([_insert(i)])  # ten records, written over and over
        if i % 997 == 0:
            state.live("u", "sp")
    assert len(state._journal) <= JOURNAL_MIN + 1
    assert set(state.live("u", "sp", task_is_open)) == set(state.records) == {f"r{i}" for i in range(10)}
