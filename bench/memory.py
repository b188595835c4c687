"""Section 4: resident memory of one gateway worker (from /proc/<pid>/status).

Idle: after start and one call. Per open legacy session: 1,000 sessions (10 users x 100, the
per-user cap) opened and left idle. Per cached user: 1,000 users each making one ``todo.list``
(token, master key, spaces and an incremental-reader entry cached for each).

``python -m bench.memory`` measures only these, against stand-ins and fresh processes (about
30 s), with the bare-SDK floor beside them; ``make bench`` runs them as its section 4.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import attrs

from bench.loadgen import Connection, Target, call_once, open_legacy_session
from bench.procs import Server
from bench.stack import Identity, Standins, floor, gateway, remote_env, standins

SESSION_USERS = 10
SESSIONS_PER_USER = 100
CACHED_USERS = 1000


@attrs.frozen
class MemoryRow:
    idle_mib: float
    per_session_kib: float
    per_user_kib: float
    after_mib: float


@attrs.frozen
class FloorMemory:
    idle_mib: float
    per_session_kib: float


def run_floor_memory(server: Server, target: Target) -> FloorMemory:
    """The same idle and per-session figures for the bare-SDK floor (no per-user session cap)."""
    asyncio.run(call_once(target, "modern", "todo_list", {}))
    idle = server.rss()

    async def sessions() -> float:
        conn = await Connection.open(target)
        for _ in range(SESSION_USERS * SESSIONS_PER_USER):
            await open_legacy_session(conn, target)
        after = server.rss()
        await conn.close()
        return after

    after = asyncio.run(sessions())
    return FloorMemory(idle, (after - idle) * 1024 / (SESSION_USERS * SESSIONS_PER_USER))


async def _open_sessions(server: Server, users: list[Identity]) -> list[Connection]:
    conns: list[Connection] = []
    for who in users:
        target = who.target(server.port)
        conn = await Connection.open(target)
        conns.append(conn)
        for _ in range(SESSIONS_PER_USER):
            await open_legacy_session(conn, target)
    return conns


async def _cache_users(server: Server, users: list[Identity]) -> None:
    for who in users:
        await call_once(who.target(server.port), "modern", "todo_list", {})


def run_memory(server: Server, stand: Standins) -> MemoryRow:
    session_users = stand.users("u_sess_", SESSION_USERS)
    cached = stand.users("u_mem_", CACHED_USERS)
    asyncio.run(call_once(session_users[0].target(server.port), "modern", "todo_list", {}))
    idle = server.rss()

    async def sessions() -> float:
        conns = await _open_sessions(server, session_users)
        after = server.rss()
        for conn in conns:
            await conn.close()
        return after

    with_sessions = asyncio.run(sessions())
    asyncio.run(_cache_users(server, cached))
    with_users = server.rss()
    return MemoryRow(
        idle_mib=idle,
        per_session_kib=(with_sessions - idle) * 1024 / (SESSION_USERS * SESSIONS_PER_USER),
        per_user_kib=(with_users - with_sessions) * 1024 / CACHED_USERS,
        after_mib=with_users,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--runs", type=int, default=1, help="fresh gateways, one after another")
    parser.add_argument("--no-floor", action="store_true", help="skip the bare-SDK floor")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mana-bench-memory-"))
    with standins(work) as stand:
        for run in range(args.runs):
            with gateway(work, f"gateway-memory-{run}", remote_env(stand)) as fresh:
                row = run_memory(fresh, stand)
            print(
                f"gateway: idle {row.idle_mib:.1f} MiB, per idle session {row.per_session_kib:.1f} KiB,"
                f" per cached user {row.per_user_kib:.1f} KiB, after {row.after_mib:.1f} MiB",
                flush=True,
            )
        if not args.no_floor:
            who = stand.users("u_floor_", 1)[0]
            floor_args = ["--profile", "remote", "--auth-url", stand.auth_url, "--sync-url", stand.sync_url,
                          "--user", who.user, "--space", who.space]  # fmt: skip
            with floor(work, "floor-memory", floor_args) as fresh_floor:
                f = run_floor_memory(fresh_floor, who.target(fresh_floor.port))
            print(f"floor:   idle {f.idle_mib:.1f} MiB, per idle session {f.per_session_kib:.1f} KiB")


if __name__ == "__main__":
    main()
