"""Which seen event ids the incremental reader forgets: the same as a pass over every kept page.

The reader keeps pages in read order and pops old ones from the front; the reference below is the
plain rule it replaces (keep the ids of every page whose cursor is recent enough, on every read).
On page cursors that only move forward the two must agree id for id after every read; when a
cursor goes back (a resumed read's first page is older than the last read's last one, by up to
the overlap) the reader may keep more, never less.
"""

from __future__ import annotations

import random

import pytest

from mana.adapters.incremental_reader import IncrementalReader, _Entry, resume_cursor
from mana.adapters.memory import FixedClock
from mana.domain.changes import Change
from mana.domain.timestamps import format_micros, parse_instant

OVERLAP_S = 10.0
SECOND = 1_000_000
BASE = parse_instant("2026-05-01T09:00:00.000Z") or 0


class NoLog:
    async def push(self, *args: object) -> None:  # pragma: no cover - never called
        raise AssertionError

    async def pull(self, *args: object) -> None:  # pragma: no cover - never called
        raise AssertionError


def reads(rng: random.Random, *, monotone: bool) -> list[tuple[int, list[tuple[int, frozenset[str]]]]]:
    """(final cursor, pages) of a run of reads; ids repeat across nearby pages like an overlap."""
    made = []
    now = BASE
    counter = 0
    last_page = BASE - 100 * SECOND
    for _ in range(rng.randint(1, 40)):
        now += rng.choice((0, 1, 3, 9, 15, 40)) * SECOND // 2
        if not monotone and rng.random() < 0.2:
            now -= rng.randint(1, 30) * SECOND
        pages = []
        at = now - rng.randint(0, 60) * SECOND
        if monotone:
            at = max(at, last_page)  # page cursors never go back, across reads too
        for _ in range(rng.choice((0, 1, 1, 2, 5))):
            at = min(now, at + rng.randint(0, 30) * SECOND)
            ids = set()
            for _ in range(rng.randint(1, 6)):
                if counter and rng.random() < 0.4:
                    ids.add(f"e{rng.randint(max(0, counter - 12), counter)}")
                else:
                    counter += 1
                    ids.add(f"e{counter}")
            pages.append((at // 1000 * 1000, frozenset(ids)))
            last_page = max(last_page, at)
        made.append((now // 1000 * 1000, pages))
    return made


def seen(entry: _Entry, universe: set[str]) -> set[str]:
    return {event_id for event_id in universe if entry.state.has_seen(event_id)}


def apply_pages(entry: _Entry, pages: list[tuple[int, frozenset[str]]]) -> None:
    for _, ids in pages:
        for event_id in sorted(ids):
            entry.state.apply(Change("tasks", f"r-{event_id}", "insert", data={}, event_id=event_id))


def reference_kept(recent: list[tuple[int, frozenset[str]]], cursor: str, seen_ids: set[str]) -> set[str]:
    start = parse_instant(resume_cursor(cursor, 2 * OVERLAP_S))
    assert start is not None
    kept = [(instant, ids) for instant, ids in recent if instant >= start]
    if len(kept) < len(recent):
        seen_ids = seen_ids & set().union(*(ids for _, ids in kept))
    recent[:] = kept
    return seen_ids


def replayed(seed: int, *, monotone: bool) -> list[tuple[set[str], set[str]]]:
    """(what the reader still knows, what the plain rule keeps) after each read of a random run."""
    rng = random.Random(seed)
    reader = IncrementalReader(NoLog(), clock=FixedClock(), overlap_s=OVERLAP_S)  # type: ignore[arg-type]
    entry = _Entry(created=0.0)
    recent: list[tuple[int, frozenset[str]]] = []
    expected: set[str] = set()
    universe: set[str] = set()
    after: list[tuple[set[str], set[str]]] = []
    for cursor_instant, pages in reads(rng, monotone=monotone):
        entry.cursor = format_micros(max(cursor_instant, BASE))
        apply_pages(entry, pages)
        ids = set().union(*(ids for _, ids in pages)) if pages else set()
        universe |= ids
        recent.extend(pages)
        expected = reference_kept(recent, entry.cursor, expected | ids)
        reader._forget(entry, list(pages))
        after.append((seen(entry, universe), expected))
    return after


@pytest.mark.parametrize("seed", range(150))
def test_forgetting_matches_the_plain_rule_when_cursors_move_forward(seed: int) -> None:
    for known, expected in replayed(seed, monotone=True):
        assert known == expected


@pytest.mark.parametrize("seed", range(150))
def test_a_cursor_that_goes_back_only_keeps_ids_longer(seed: int) -> None:
    for known, expected in replayed(seed, monotone=False):
        assert known >= expected


def test_a_long_run_of_reads_of_the_same_overlap_keeps_one_entry_per_page_read() -> None:
    """Forty reads a second of a page that keeps coming back: what is kept stays bounded."""
    reader = IncrementalReader(NoLog(), clock=FixedClock(), overlap_s=OVERLAP_S)  # type: ignore[arg-type]
    entry = _Entry(created=0.0)
    page_ids = frozenset(f"e{i}" for i in range(20))
    apply_pages(entry, [(BASE, page_ids)])
    for step in range(4000):  # 100 s of reads
        now = BASE + step * SECOND // 40
        entry.cursor = format_micros(now // 1000 * 1000)
        reader._forget(entry, [(BASE + 5 * SECOND, page_ids)] if step < 400 else [])
    assert len(entry.recent) == 0  # the page stopped coming back 90 s ago
    assert entry.state.seen_count == 0
