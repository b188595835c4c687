"""Section 2: ``todo.list`` against the length of the history (1k, 10k, 100k changes in one collection).

Through the remote gateway against the stand-in, for users whose histories were planted an hour
in the past. Per size: one ``notes.search`` first (so the token, the key and the spaces are
cached and only the task list is cold), then the cold list (a full read from the epoch), then
10 new web-app changes and the warm list (a resumed read), five times. "Server time" is the
gateway process's CPU time for the call (from /proc, nanoseconds); wall time is beside it.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import attrs

from bench.loadgen import call_once
from bench.procs import Server
from bench.stack import Identity, Standins

WARM_REPEATS = 5


@attrs.frozen
class HistoryRow:
    changes: int
    cold_cpu_ms: float
    cold_wall_ms: float
    warm_cpu_ms: float
    warm_wall_ms: float

    @property
    def ratio(self) -> float:
        """How many times faster warm is than cold (server time)."""
        return self.cold_cpu_ms / self.warm_cpu_ms if self.warm_cpu_ms else float("inf")

    @property
    def cold_rate(self) -> float:
        """Changes replayed per second of server time on the cold read."""
        return self.changes / (self.cold_cpu_ms / 1000.0) if self.cold_cpu_ms else float("inf")


def _call(server: Server, who: Identity, tool: str) -> tuple[float, float]:
    target = who.target(server.port)
    cpu0, t0 = server.cpu(), time.perf_counter()
    asyncio.run(call_once(target, "modern", tool, {}))
    return (server.cpu() - cpu0) * 1000.0, (time.perf_counter() - t0) * 1000.0


def run_history(server: Server, stand: Standins) -> list[HistoryRow]:
    rows: list[HistoryRow] = []
    for planted in stand.planted:
        who = Identity(planted["user"], planted["space"], planted["token"])
        _call(server, who, "notes_search")
        cold_cpu, cold_wall = _call(server, who, "todo_list")
        warm: list[tuple[float, float]] = []
        for _ in range(WARM_REPEATS):
            stand.control("/new-changes", {"user": who.user, "space": who.space, "count": 10})
            warm.append(_call(server, who, "todo_list"))
        rows.append(
            HistoryRow(
                int(planted["changes"]),
                cold_cpu,
                cold_wall,
                statistics.median(c for c, _ in warm),
                statistics.median(w for _, w in warm),
            )
        )
    return rows
