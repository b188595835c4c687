"""Section 1: ``notes.create`` and ``todo.list`` through the gateway and through the floor.

Each configuration (profile, era, tool, concurrency) runs against the gateway and then against
the floor in the same run, so every gateway figure has its floor figure beside it. Multi-worker
runs (sessionless era, and the legacy era in stateless mode) come after, against the same
single-worker figures.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from bench.loadgen import Era, RunResult, Target, call_once, run_load
from bench.procs import Server
from bench.stack import Identity, Standins, floor, gateway, local_identity, remote_env

NOTE = {"title": "Groceries", "content": "oat milk, bread, apples"}
TOOLS: dict[str, dict[str, Any]] = {"notes_create": NOTE, "todo_list": {}}
SEEDED_TASKS = 20


@attrs.frozen
class Measured:
    rate: float
    p50: float
    p99: float
    cpu_ms: float
    """Server CPU per call (the server process and its workers, from /proc)."""
    client_cpu_ms: float
    upstream_cpu_ms: float | None
    """The stand-ins' CPU per call (remote profile): the upstream a 2-core machine also runs."""
    errors: int
    calls: int
    first_error: str | None = None


@attrs.frozen
class Row:
    profile: str
    tool: str
    era: str
    concurrency: int
    workers: int
    gateway: Measured
    floor: Measured | None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if self.floor is None or not self.floor.rate else self.gateway.rate / self.floor.rate


def measure(
    server: Server, target: Target, era: Era, tool: str, concurrency: int, duration: float, warmup: float,
    upstream: Server | None = None,
) -> Measured:  # fmt: skip
    marks: list[float] = []
    upstream_marks: list[float] = []

    def window(_: bool) -> None:
        marks.append(server.cpu())
        if upstream is not None:
            upstream_marks.append(upstream.cpu())

    result: RunResult = asyncio.run(
        run_load(
            target, era, tool, TOOLS[tool],
            concurrency=concurrency, duration_s=duration, warmup_s=warmup, on_window=window,
        )
    )  # fmt: skip
    calls = max(result.calls, 1)
    return Measured(
        rate=result.rate,
        p50=result.percentile(50),
        p99=result.percentile(99),
        cpu_ms=(marks[1] - marks[0]) * 1000.0 / calls,
        client_cpu_ms=result.client_cpu_s * 1000.0 / calls,
        upstream_cpu_ms=(upstream_marks[1] - upstream_marks[0]) * 1000.0 / calls if upstream_marks else None,
        errors=result.errors,
        calls=result.calls,
        first_error=result.first_error,
    )


def seed_tasks(target: Target) -> None:
    async def run() -> None:
        for i in range(SEEDED_TASKS):
            await call_once(target, "modern", "todo_create", {"title": f"Seeded task {i}"})

    asyncio.run(run())


@attrs.define
class Profile:
    """One profile's gateway and floor, started together and left running for its configurations."""

    name: str
    gateway: Server
    floor: Server
    gw_target: Target
    floor_target: Target
    upstream: Server | None = None


@contextlib.contextmanager
def local_profile(work: Path) -> Iterator[Profile]:
    gw_dir, floor_dir = work / "local-gateway", work / "local-floor"
    who = local_identity(gw_dir)
    floor_who = local_identity(floor_dir)
    with (
        gateway(work, "gateway-local", {"MANA_DATA_DIR": str(gw_dir)}) as gw,
        floor(
            work,
            "floor-local",
            ["--profile", "local", "--data-dir", str(floor_dir), "--user", floor_who.user,
             "--space", floor_who.space],
        ) as fl,
    ):  # fmt: skip
        yield Profile("local", gw, fl, who.target(gw.port), floor_who.target(fl.port))


@contextlib.contextmanager
def remote_profile(work: Path, stand: Standins, who: Identity) -> Iterator[Profile]:
    with (
        gateway(work, "gateway-remote", remote_env(stand)) as gw,
        floor(
            work,
            "floor-remote",
            ["--profile", "remote", "--auth-url", stand.auth_url, "--sync-url", stand.sync_url,
             "--user", who.user, "--space", who.space],
        ) as fl,
    ):  # fmt: skip
        yield Profile("remote", gw, fl, who.target(gw.port), who.target(fl.port), stand.server)


def run_profile(
    profile: Profile, label: str, *, eras: Sequence[Era], concurrencies: Sequence[int], duration: float,
    warmup: float, log: Any,
) -> list[Row]:  # fmt: skip
    rows: list[Row] = []
    for tool in TOOLS:
        for era in eras:
            for c in concurrencies:
                up = profile.upstream
                gw = measure(profile.gateway, profile.gw_target, era, tool, c, duration, warmup, up)
                fl = measure(profile.floor, profile.floor_target, era, tool, c, duration, warmup, up)
                row = Row(label, tool, era, c, 1, gw, fl)
                log(row)
                rows.append(row)
    return rows
