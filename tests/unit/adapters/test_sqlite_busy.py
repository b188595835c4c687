"""The change log's own busy waiting: another process's write lock delays a statement, never fails it
early, and a lock held past the deadline fails it as a store error (nothing half-written)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from mana.adapters.local_store import BusyRetry, SqliteSyncStore
from mana.adapters.sync_core import RowQuery, StoredRow, StoreError


def row(record_id: str) -> StoredRow:
    return StoredRow(
        event_id=f"e-{record_id}",
        app_id="todo",
        table="tasks",
        record_id=record_id,
        user_id="u1",
        op="insert",
        data='{"title":"x"}',
        field_times={"title": "2026-05-01T09:00:00.000Z"},
        client_id="web",
        schema_version=1,
        actor=None,
        origin=None,
        space_id="sp",
    )


def query() -> RowQuery:
    return RowQuery(
        app_id="todo",
        table="tasks",
        after=0,
        exclude_client_id="x",
        user_id="u1",
        spaces=frozenset({"sp"}),
        limit=10,
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def busy_error() -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode = sqlite3.SQLITE_BUSY
    return error


def test_busy_statements_are_retried_with_short_doubling_waits() -> None:
    clock = FakeClock()
    retry = BusyRetry(5.0, sleep=clock.sleep, monotonic=clock.monotonic)
    attempts: list[int] = []

    def run() -> str:
        attempts.append(1)
        if len(attempts) < 8:
            raise busy_error()
        return "done"

    assert retry(run) == "done"
    assert len(attempts) == 8
    assert clock.sleeps[0] == pytest.approx(0.00005)
    assert clock.sleeps == sorted(clock.sleeps)
    assert max(clock.sleeps) <= 0.002  # never SQLite's own 5-100 ms steps


def test_a_lock_held_past_the_deadline_raises_the_busy_error() -> None:
    clock = FakeClock()
    retry = BusyRetry(0.05, sleep=clock.sleep, monotonic=clock.monotonic)

    def run() -> None:
        raise busy_error()

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        retry(run)
    assert 0.05 <= sum(clock.sleeps) <= 0.05 + 0.002


def test_other_errors_are_not_retried() -> None:
    retry = BusyRetry(5.0, sleep=lambda _: pytest.fail("slept"), monotonic=lambda: 0.0)

    def run() -> None:
        raise sqlite3.OperationalError("no such table: nope")

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        retry(run)


def hold_write_lock(path: Path, release: threading.Event, held: threading.Event) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    held.set()
    release.wait(10)
    other.execute("COMMIT")
    other.close()


def test_an_append_waits_for_another_connections_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    SqliteSyncStore(path).close()  # the schema exists before the other connection locks the file
    release, held = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(path, release, held))
    holder.start()
    held.wait(10)
    # Released from inside the retry loop: the append only succeeds once the lock is gone.
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            release.set()
            holder.join(10)

    store = SqliteSyncStore(path, busy=BusyRetry(5.0, sleep=sleep))
    stored = store.append(row("r1"), 1_000)
    assert len(waits) >= 3
    assert stored.created_at >= 1_000
    assert [r.record_id for r in store.select(query())] == ["r1"]
    store.close()


def test_a_lock_held_too_long_fails_the_append_as_a_store_error_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    store = SqliteSyncStore(path, busy=BusyRetry(0.05))
    release, held = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(path, release, held))
    holder.start()
    held.wait(10)
    try:
        with pytest.raises(StoreError, match="locked"):
            store.append(row("r1"), 1_000)
    finally:
        release.set()
        holder.join(10)
    assert store.select(query()) == []
    assert store.append(row("r2"), 2_000).record_id == "r2"
    store.close()
