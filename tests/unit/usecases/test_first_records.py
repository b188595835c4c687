"""``first``: the list tools' cut, equal to a full sort's first ``n`` on both sides of its switch."""

from __future__ import annotations

import random

import pytest

from mana.application.usecases.records import SORT_ALL_UP_TO, first
from mana.domain.replay import RecordState


def records(count: int, rng: random.Random, *, ordering: str) -> list[RecordState]:
    made = []
    for i in range(count):
        record = RecordState(f"r{i:05d}", "sp", "u1", None)
        order = {"ascending": i, "descending": count - i, "random": rng.randint(0, count // 4)}[ordering]
        record.values = {"order": order, "isCompleted": rng.random() < 0.2}
        made.append(record)
    return made


def by_order(record: RecordState) -> tuple[bool, int]:
    # Not unique: ties must keep the order the records came in, as sorted() does.
    return (record.values["isCompleted"] is True, record.values["order"])


@pytest.mark.parametrize("count", [0, 1, 49, 400, SORT_ALL_UP_TO, SORT_ALL_UP_TO + 1, 5000])
@pytest.mark.parametrize("ordering", ["ascending", "descending", "random"])
@pytest.mark.parametrize("n", [1, 50, 200])
def test_first_is_the_first_n_of_a_stable_sort(count: int, ordering: str, n: int) -> None:
    given = records(count, random.Random(count * 31 + n), ordering=ordering)
    expected = sorted(given, key=by_order)[:n]
    chosen = first(given, n, by_order)
    assert [r.record_id for r in chosen] == [r.record_id for r in expected]
