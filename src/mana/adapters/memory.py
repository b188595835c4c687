"""In-memory adapters for the test harness: change-log storage, key vault, spaces, clock, ids.

They implement the real ports with real behaviour (no canned answers), plus the switches and
counters tests need to reach every branch: a vault in zero-knowledge mode, a failing directory, a
clock that only moves when told to.
"""

from __future__ import annotations

import bisect
import itertools
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

import attrs

from mana.adapters.sync_core import RowQuery, StoredRow, visible
from mana.application.errors import KeyUnavailable, SpacesUnavailable, VaultNotInitialised, ZeroKnowledge
from mana.application.ports import Caller, MasterKey
from mana.domain.spaces import Space

# --- change-log storage ----------------------------------------------------------------------------


class _Index:
    """Rows in ``created_at`` order with a parallel key list for bisection."""

    __slots__ = ("rows", "times")

    def __init__(self) -> None:
        self.rows: list[StoredRow] = []
        self.times: list[int] = []


class MemorySyncStore:
    """A :class:`~mana.adapters.sync_core.SyncStore` in lists: one per app and one per table.

    ``created_at`` is strictly increasing over the whole store, so appending keeps both lists
    sorted and a cursor is one bisection.
    """

    def __init__(self) -> None:
        self._by_app: dict[str, _Index] = {}
        self._by_table: dict[tuple[str, str], _Index] = {}
        self._last = -1
        self._count = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._count

    def append(self, row: StoredRow, now: int) -> StoredRow:
        with self._lock:
            created_at = now if now > self._last else self._last + 1
            stored = attrs.evolve(row, created_at=created_at)
            for index in (
                self._by_app.setdefault(row.app_id, _Index()),
                self._by_table.setdefault((row.app_id, row.table), _Index()),
            ):
                index.rows.append(stored)
                index.times.append(created_at)
            self._last = created_at
            self._count += 1
            return stored

    def select(self, query: RowQuery) -> list[StoredRow]:
        with self._lock:
            index = (
                self._by_app.get(query.app_id)
                if query.table is None
                else self._by_table.get((query.app_id, query.table))
            )
            if index is None:
                return []
            start = bisect.bisect_right(index.times, query.after)
            rows = index.rows
            found: list[StoredRow] = []
            limit = query.limit
            for i in range(start, len(rows)):
                row = rows[i]
                if visible(row, query):
                    found.append(row)
                    if len(found) >= limit:
                        break
            return found

    def rows(self, app_id: str | None = None) -> list[StoredRow]:
        """Every stored row (of one app), oldest first: for tests that inspect the log itself."""
        with self._lock:
            if app_id is not None:
                index = self._by_app.get(app_id)
                return list(index.rows) if index else []
            merged = itertools.chain.from_iterable(index.rows for index in self._by_app.values())
            return sorted(merged, key=lambda r: r.created_at)


# --- key vault -------------------------------------------------------------------------------------

VaultMode = Literal["normal", "zero_knowledge", "not_initialised", "failing"]


@attrs.frozen(slots=True)
class _VaultEntry:
    mode: VaultMode
    key: MasterKey | None = None
    reason: str = "HTTP 500"


class InMemoryKeyVault:
    """The :class:`~mana.application.ports.KeyVault` port with per-user modes.

    A user never configured gets a random key on first use and keeps it. ``calls`` counts every
    lookup (the key cache's single-flight tests rely on it).
    """

    def __init__(self) -> None:
        self._entries: dict[str, _VaultEntry] = {}
        self._lock = threading.Lock()
        self.calls = 0
        self.calls_by_user: Counter[str] = Counter()

    def set_key(self, user_id: str, key: bytes | None = None) -> MasterKey:
        master = MasterKey(os.urandom(32) if key is None else key)
        with self._lock:
            self._entries[user_id] = _VaultEntry("normal", master)
        return master

    def set_zero_knowledge(self, user_id: str) -> None:
        with self._lock:
            self._entries[user_id] = _VaultEntry("zero_knowledge")

    def set_not_initialised(self, user_id: str) -> None:
        with self._lock:
            self._entries[user_id] = _VaultEntry("not_initialised")

    def set_failing(self, user_id: str, reason: str = "HTTP 500") -> None:
        with self._lock:
            self._entries[user_id] = _VaultEntry("failing", reason=reason)

    def key_of(self, user_id: str) -> MasterKey:
        """The user's key as the vault holds it (created like a first lookup would)."""
        with self._lock:
            entry = self._entries.get(user_id)
            if entry is None:
                entry = self._entries[user_id] = _VaultEntry("normal", MasterKey(os.urandom(32)))
        if entry.key is None:
            raise ValueError("this user has no key in the vault")
        return entry.key

    async def master_key(self, caller: Caller) -> MasterKey:
        user_id = caller.user_id
        with self._lock:
            self.calls += 1
            self.calls_by_user[user_id] += 1
            entry = self._entries.get(user_id)
            if entry is None:
                entry = self._entries[user_id] = _VaultEntry("normal", MasterKey(os.urandom(32)))
        if entry.mode == "zero_knowledge":
            raise ZeroKnowledge()
        if entry.mode == "not_initialised":
            raise VaultNotInitialised()
        if entry.mode == "failing":
            raise KeyUnavailable(entry.reason)
        assert entry.key is not None
        return entry.key


# --- spaces ----------------------------------------------------------------------------------------


class StaticSpaceDirectory:
    """The :class:`~mana.application.ports.SpaceDirectory` port over a settable table.

    ``memberships`` serves the same table to a :class:`~mana.adapters.sync_core.SyncServer`, so the
    harness's change log and the gateway's space check agree.
    """

    def __init__(self, spaces: Mapping[str, Iterable[Space]] | None = None) -> None:
        self._spaces: dict[str, tuple[Space, ...]] = {u: tuple(s) for u, s in (spaces or {}).items()}
        self._failing: str | None = None
        self.calls = 0
        self.calls_by_user: Counter[str] = Counter()

    def set(self, user_id: str, spaces: Iterable[Space]) -> None:
        self._spaces[user_id] = tuple(spaces)

    def set_failing(self, reason: str | None = "HTTP 500") -> None:
        """Every lookup raises ``SpacesUnavailable(reason)`` until called with None."""
        self._failing = reason

    async def spaces(self, caller: Caller) -> Sequence[Space]:
        self.calls += 1
        self.calls_by_user[caller.user_id] += 1
        if self._failing is not None:
            raise SpacesUnavailable(self._failing)
        return list(self._spaces.get(caller.user_id, ()))

    def memberships(self, user_id: str) -> frozenset[str]:
        return frozenset(space.id for space in self._spaces.get(user_id, ()))


# --- clock and ids ---------------------------------------------------------------------------------


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


DEFAULT_START = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


class FixedClock:
    """A clock that moves only when told: ``now`` and ``monotonic`` advance together."""

    def __init__(self, start: datetime = DEFAULT_START, monotonic_start: float = 1000.0) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware start")
        self._now = start
        self._monotonic = monotonic_start

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def set(self, when: datetime) -> None:
        """Jump the wall clock (the monotonic clock moves by the same amount, never backwards)."""
        if when.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware time")
        self._monotonic += max(0.0, (when - self._now).total_seconds())
        self._now = when

    def advance(self, seconds: float = 0.0, *, delta: timedelta | None = None) -> None:
        step = delta if delta is not None else timedelta(seconds=seconds)
        if step < timedelta(0):
            raise ValueError("a clock only moves forwards")
        self._now += step
        self._monotonic += step.total_seconds()


class UuidIdSource:
    def new_id(self) -> str:
        return str(uuid.uuid4())


class SequentialIdSource:
    """Deterministic UUID v4 strings: ``<namespace:08x>-0000-4000-8000-<n:012x>``, n = 1, 2, …"""

    def __init__(self, namespace: int = 0, start: int = 1) -> None:
        if not 0 <= namespace < 2**32:
            raise ValueError("namespace must fit in 32 bits")
        self._namespace = namespace
        self._next = itertools.count(start)

    def new_id(self) -> str:
        return f"{self._namespace:08x}-0000-4000-8000-{next(self._next):012x}"
