"""``make bench`` / ``python -m bench``: every figure of issue #6 in one run, with its floor beside it.

Starts everything on 127.0.0.1 itself: the stand-ins of mana-auth and mana-sync (one process),
the gateway (``mana-mcp serve``) in the local and remote profiles, the bare-SDK floor running the
same tool bodies, and worker variants; prints one Markdown report with PASS/FAIL per target and
writes it to ``bench/results/last.md``. About 7 minutes on 2 cores;
``--quick`` makes every window short (a smoke test of the harness, not a measurement).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import report
from bench.history import HistoryRow, run_history
from bench.loadgen import Era, Target
from bench.memory import run_floor_memory, run_memory
from bench.procs import Server
from bench.stack import bare_http, floor, gateway, remote_env, standins
from bench.steps import Step, run_steps
from bench.throughput import (
    TOOLS,
    Row,
    local_profile,
    measure,
    remote_profile,
    run_profile,
    seed_tasks,
)

HISTORY_SIZES = (1_000, 10_000, 100_000)
WORKERS = os.cpu_count() or 2


def _progress(row: Row) -> None:
    g, f = row.gateway, row.floor
    floor = f" | floor {f.rate:6.0f}/s cpu {f.cpu_ms:.2f} ms" if f else ""
    warn = f"  ERRORS {g.errors}: {g.first_error}" if g.errors else ""
    print(
        f"  {row.profile:9} {row.tool:12} {row.era:6} c={row.concurrency:<2} w={row.workers} "
        f"{g.rate:6.0f}/s p50 {g.p50:6.2f} p99 {g.p99:6.2f} cpu {g.cpu_ms:.2f} ms{floor}{warn}",
        file=sys.stderr,
        flush=True,
    )


def _workers_runs(
    work: Path, name: str, env: dict[str, str], singles: list[Row], duration: float, warmup: float,
    target_of: Callable[[int], Target], upstream: Server | None = None,
) -> list[tuple[Row, Row]]:  # fmt: skip
    """Sessionless era with N workers against the single-worker matrix rows, and the legacy era in
    stateless mode with 1 and N workers (several workers need stateless legacy sessions)."""
    pairs: list[tuple[Row, Row]] = []
    stateless = {"MANA_LEGACY_SESSIONS": "stateless"}
    profile = singles[0].profile

    def run(server: Server, era: Era, tool: str, workers: int, note: str) -> Row:
        m = measure(server, target_of(server.port), era, tool, 16, duration, warmup, upstream)
        row = Row(profile, tool, era, 16, workers, m, None, note)
        _progress(row)
        return row

    with gateway(work, f"{name}-w{WORKERS}", env, workers=WORKERS, extra=stateless) as multi:
        for tool in TOOLS:
            single = next(r for r in singles if (r.tool, r.era, r.concurrency) == (tool, "modern", 16))
            pairs.append((run(multi, "modern", tool, WORKERS, "(sessionless)"), single))
    with gateway(work, f"{name}-stateless-w1", env, extra=stateless) as one:
        singles_stateless = {tool: run(one, "legacy", tool, 1, "(stateless)") for tool in TOOLS}
    with gateway(work, f"{name}-stateless-w{WORKERS}", env, workers=WORKERS, extra=stateless) as multi:
        for tool in TOOLS:
            pairs.append((run(multi, "legacy", tool, WORKERS, "(stateless)"), singles_stateless[tool]))
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short windows: check the harness only")
    parser.add_argument("--duration", type=float, default=4.0, help="measuring window per run, seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up per run, seconds")
    parser.add_argument("--out", default="bench/results/last.md", help="where to write the report")
    args = parser.parse_args()
    duration, warmup = (0.4, 0.2) if args.quick else (args.duration, args.warmup)
    sizes = (1_000, 10_000) if args.quick else HISTORY_SIZES
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="mana-bench-"))
    print(f"benchmark work directory: {work}", file=sys.stderr)
    run = {"duration": duration, "warmup": warmup, "log": _progress}

    print("HTTP alone (Hypercorn, fixed answer) ...", file=sys.stderr)
    with bare_http(work) as bare:
        bare_target = Target("127.0.0.1", bare.port, {})
        http_alone = measure(bare, bare_target, "modern", "notes_create", 1, duration, warmup)

    print("local profile ...", file=sys.stderr)
    with local_profile(work) as local:
        seed_tasks(local.gw_target)
        seed_tasks(local.floor_target)
        rows = run_profile(local, "local", eras=("modern", "legacy"), concurrencies=(1, 16), **run)
        gw_dir = work / "local-gateway"
        local_target = local.gw_target
        after_local = local.gateway.rss()
    local_pairs = _workers_runs(
        work, "gateway-local", {"MANA_DATA_DIR": str(gw_dir)}, rows, duration, warmup,
        lambda port: Target(local_target.host, port, local_target.headers),
    )  # fmt: skip

    print(f"stand-ins (planting {', '.join(map(str, sizes))} changes) ...", file=sys.stderr)
    with standins(work, plant=sizes) as stand:
        steps = run_steps(stand)
        steps.append(
            Step(
                "HTTP alone: Hypercorn + h11 answering a fixed result, server CPU per request",
                http_alone.cpu_ms * 1000.0, "-", None, wall_us=http_alone.p50 * 1000.0,
            )
        )  # fmt: skip
        who = stand.users("u_bench_", 1)[0]
        with remote_profile(work, stand, who) as remote:
            seed_tasks(remote.gw_target)
            seed_tasks(remote.floor_target)
            for latency, label in ((0.0, "remote 0ms"), (0.005, "remote 5ms")):
                stand.latency(latency)
                rows += run_profile(remote, label, eras=("modern", "legacy"), concurrencies=(1, 16), **run)
                stand.control("/forget-requests", {})
            stand.latency(0.0)
            history: list[HistoryRow] = run_history(remote.gateway, stand)
            after_bench = remote.gateway.rss()
        remote_rows = [r for r in rows if r.profile == "remote 0ms"]
        remote_pairs = _workers_runs(
            work, "gateway-remote", remote_env(stand), remote_rows, duration, warmup, who.target, stand.server
        )
        floor_args = ["--profile", "remote", "--auth-url", stand.auth_url, "--sync-url", stand.sync_url,
                      "--user", who.user, "--space", who.space]  # fmt: skip
        with (
            gateway(work, "gateway-memory", remote_env(stand)) as fresh,
            floor(work, "floor-memory", floor_args) as fresh_floor,
        ):
            memory = run_memory(fresh, stand)
            floor_memory = run_floor_memory(fresh_floor, who.target(fresh_floor.port))

    lines = ["# mana-mcp benchmark", ""]
    lines += [f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d %H:%M')}; "
              f"windows {warmup} s warm-up + {duration} s measured; loopback only.", ""]  # fmt: skip
    lines += ["## 1. Calls through the gateway and through the bare-SDK floor", ""]
    lines += [*report.throughput_table(rows), ""]
    lines += ["## 1b. More than one worker", ""]
    lines += [*report.workers_table(local_pairs + remote_pairs), ""]
    lines += ["## 2. todo.list against history length (remote 0 ms)", ""]
    lines += [*report.history_table(history), ""]
    lines += ["## 3. The steps of one call", ""]
    lines += [*report.steps_table(steps), ""]
    lines += ["## 4. Memory", ""]
    lines += [*report.memory_table(memory, after_bench, floor_memory, after_local), ""]
    lines += ["## Targets", "", "| | target | measured | goal |", "|---|---|---|---|"]
    lines += [
        t.line() for t in targets(rows, local_pairs + remote_pairs, history, memory, after_bench, steps)
    ]
    lines += ["", f"Total run time {time.monotonic() - started:.0f} s."]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(f"written to {args.out}", file=sys.stderr)
    return 0


def targets(
    rows: list[Row], pairs: list[tuple[Row, Row]], history: list[HistoryRow], memory: object,
    after_bench: float, steps: list[Step],
) -> list[report.Target]:  # fmt: skip
    out: list[report.Target] = []
    for profile in ("local", "remote 0ms"):
        for era in ("modern", "legacy"):
            row = next(
                r for r in rows
                if r.profile == profile and r.tool == "notes_create" and r.era == era and r.concurrency == 1
            )  # fmt: skip
            out.append(report.Target(
                f"server CPU per notes.create ({profile}, {era}, 1 client)",
                f"{row.gateway.cpu_ms:.2f} ms", "≤ 1.0 ms", row.gateway.cpu_ms <= 1.0,
            ))  # fmt: skip
            ratio = row.ratio or 0.0
            out.append(report.Target(
                f"sequential notes.create calls/s vs floor ({profile}, {era})",
                f"{ratio:.2f}x ({row.gateway.rate:.0f} vs {row.floor.rate if row.floor else 0:.0f})",
                "≥ 0.8x", ratio >= 0.8,
            ))  # fmt: skip
    for multi, single in pairs:
        ratio = multi.gateway.rate / single.gateway.rate if single.gateway.rate else 0.0
        out.append(report.Target(
            f"{multi.workers} workers vs 1, 16 clients "
            f"({multi.profile}, {multi.tool}, {multi.era} {multi.note})",
            f"{ratio:.2f}x ({multi.gateway.rate:.0f} vs {single.gateway.rate:.0f})", "≥ 2x", ratio >= 2.0,
        ))  # fmt: skip
    biggest = max(history, key=lambda h: h.changes)
    out.append(
        report.Target(
            f"warm list over {biggest.changes:,} changes, server time",
            f"{biggest.warm_cpu_ms:.2f} ms",
            "≤ 5 ms",
            biggest.warm_cpu_ms <= 5.0,
        )
    )
    out.append(
        report.Target(
            f"warm vs cold over {biggest.changes:,} changes",
            f"{biggest.ratio:.0f}x",
            "≥ 20x",
            biggest.ratio >= 20,
        )
    )
    by_name = {step.name: step.value_us for step in steps}
    replay_us = by_name["replay, per 1,000 changes"]
    read_us = by_name["parse and replay a pull page, per 1,000 changes"]
    for label, rate in (
        ("cold replay: applying changes (in process)", 1e9 / replay_us),
        ("cold replay: parsing pages and applying (in process)", 1e9 / read_us),
        (f"cold read end to end over {biggest.changes:,} changes (gateway CPU)", biggest.cold_rate),
    ):
        out.append(report.Target(label, f"{rate:,.0f} changes/s", "≥ 200,000/s", rate >= 200_000))
    per_session = getattr(memory, "per_session_kib", 0.0)
    out.append(
        report.Target(
            "RSS per idle legacy session", f"{per_session:.1f} KiB", "≤ 30 KB", per_session <= 30_000 / 1024
        )
    )
    out.append(report.Target("RSS after the benchmark, one worker", f"{after_bench:.1f} MiB", "≤ 100 MiB",
                             after_bench <= 100))  # fmt: skip
    return out


if __name__ == "__main__":
    sys.exit(main())
