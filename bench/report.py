"""The one table ``make bench`` prints (Markdown, so it can go into docs/performance.md as is)."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from bench.history import HistoryRow
from bench.memory import FloorMemory, MemoryRow
from bench.steps import Step
from bench.throughput import Row


@attrs.frozen
class Target:
    name: str
    value: str
    goal: str
    passed: bool

    def line(self) -> str:
        return f"| {'PASS' if self.passed else 'FAIL'} | {self.name} | {self.value} | {self.goal} |"


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def throughput_table(rows: Sequence[Row]) -> list[str]:
    out = [
        "| profile | tool | era | clients | calls/s | p50 ms | p99 ms | server CPU ms/call | "
        "floor calls/s | floor p50 ms | floor CPU ms/call | calls/s vs floor | client CPU ms/call | "
        "stand-in CPU ms/call |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        g, f = r.gateway, r.floor
        errors = f" ({g.errors} errors)" if g.errors else ""
        floor = f"{f.rate:.0f} | {f.p50:.2f} | {f.cpu_ms:.2f} | {_f(r.ratio)}x" if f else "- | - | - | -"
        out.append(
            f"| {r.profile} | {r.tool} | {r.era} | {r.concurrency} | {g.rate:.0f}{errors} | {g.p50:.2f} | "
            f"{g.p99:.2f} | {g.cpu_ms:.2f} | {floor} | {g.client_cpu_ms:.2f} | {_f(g.upstream_cpu_ms)} |"
        )
    return out


def workers_table(rows: Sequence[tuple[Row, Row]]) -> list[str]:
    out = [
        "| profile | tool | era (sessions) | clients | workers | calls/s | p50 ms | p99 ms | "
        "server CPU ms/call | stand-in CPU ms/call | 1 worker calls/s | vs 1 worker |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for multi, single in rows:
        g = multi.gateway
        ratio = g.rate / single.gateway.rate if single.gateway.rate else 0.0
        errors = f" ({g.errors} errors)" if g.errors else ""
        out.append(
            f"| {multi.profile} | {multi.tool} | {multi.era} {multi.note} | {multi.concurrency} | "
            f"{multi.workers} | {g.rate:.0f}{errors} | {g.p50:.2f} | {g.p99:.2f} | {g.cpu_ms:.2f} | "
            f"{_f(g.upstream_cpu_ms)} | {single.gateway.rate:.0f} | {ratio:.2f}x |"
        )
    return out


def history_table(rows: Sequence[HistoryRow]) -> list[str]:
    out = [
        "| changes | cold server ms | cold wall ms | warm server ms | warm wall ms | warm vs cold | "
        "cold replay changes/s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r.changes:,} | {r.cold_cpu_ms:.1f} | {r.cold_wall_ms:.1f} | {r.warm_cpu_ms:.2f} | "
            f"{r.warm_wall_ms:.2f} | {r.ratio:.0f}x faster | {r.cold_rate:,.0f} |"
        )
    return out


def steps_table(steps: Sequence[Step]) -> list[str]:
    out = ["| step | µs | wall µs | reference | reference µs | ratio |", "|---|---:|---:|---|---:|---:|"]
    for s in steps:
        out.append(
            f"| {s.name} | {s.value_us:,.1f} | {_f(s.wall_us, 1)} | {s.reference} | "
            f"{_f(s.reference_us, 1)} | "
            f"{_f(s.ratio)}{'x' if s.ratio is not None else ''} |"
        )
    return out


def memory_table(m: MemoryRow, after_bench_mib: float, fl: FloorMemory, after_local_mib: float) -> list[str]:
    return [
        "| what | gateway RSS | floor RSS |",
        "|---|---:|---:|",
        f"| idle worker (remote profile, after one call) | {m.idle_mib:.1f} MiB | {fl.idle_mib:.1f} MiB |",
        f"| per open idle legacy session (1,000 sessions) | {m.per_session_kib:.1f} KiB | "
        f"{fl.per_session_kib:.1f} KiB |",
        f"| per cached user (1,000 users, one todo.list each) | {m.per_user_kib:.1f} KiB | - |",
        f"| after 1,000 sessions and 1,000 users | {m.after_mib:.1f} MiB | - |",
        f"| local gateway worker after its throughput runs | {after_local_mib:.1f} MiB | - |",
        f"| remote gateway worker after the throughput and history runs | {after_bench_mib:.1f} MiB | - |",
    ]
