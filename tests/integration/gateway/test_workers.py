"""More than one core: stateless legacy sessions in one gateway, and ``serve --workers 2`` on one port."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
from pathlib import Path

import httpx

from .support import LEGACY, gateway, initialize, modern_call, rpc
from .test_make_run import COMMAND, clean_env, free_port

STATELESS = {"MANA_LEGACY_SESSIONS": "stateless"}


async def test_stateless_legacy_requests_stand_alone_and_get_is_refused(tmp_path: Path) -> None:
    async with gateway(tmp_path, STATELESS) as gw, gw.http() as http:
        headers = gw.headers(**{"MCP-Protocol-Version": LEGACY})
        opened = await http.post("/mcp", json=initialize("Claude Code"), headers=headers)
        call = rpc("tools/call", {"name": "notes_create", "arguments": {"title": "Plan"}}, 2)
        created = await http.post("/mcp", json=call, headers=headers)
        stream = await http.get("/mcp", headers=headers)
    assert opened.status_code == 200
    assert "mcp-session-id" not in opened.headers  # no session: any worker can take the next request
    assert created.status_code == 200
    assert created.json()["result"]["isError"] is False
    assert stream.status_code == 405
    assert stream.headers["allow"] == "POST"
    assert len(gw.container.owners()) == 0
    # nothing remembers the initialize, so the change is the agent's without a client name
    (row,) = gw.container.adapters.store().rows("notes")
    assert json.loads(row.actor)["displayName"] == "Agent via MCP"


async def test_stateful_legacy_is_the_default_and_keeps_sessions(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        opened = await http.post("/mcp", json=initialize(), headers=gw.headers())
    assert opened.status_code == 200
    assert len(opened.headers["mcp-session-id"]) == 32


async def _start_two_workers(env: dict[str, str]) -> asyncio.subprocess.Process:
    """``serve --workers 2``, returned once its banner says both workers share the port."""
    process = await asyncio.create_subprocess_exec(
        *COMMAND, "serve", "--workers", "2", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    seen = ""
    try:
        while "2 worker processes share" not in seen:
            line = (await asyncio.wait_for(process.stderr.readline(), 30)).decode()
            assert line, seen
            seen += line
    except BaseException:
        process.kill()
        await process.wait()
        raise
    return process


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


async def test_serve_with_two_workers_shares_one_port_and_stops_them_all(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(MANA_DATA_DIR=str(tmp_path / "data"), PORT=str(port), MANA_RATE_LIMIT="0", **STATELESS)
    token = await asyncio.create_subprocess_exec(
        *COMMAND, "token", "--user", "dev", env=env, stdout=asyncio.subprocess.PIPE
    )
    lines = (await token.communicate())[0].decode().split()
    headers = {"Authorization": f"Bearer {lines[0]}", "X-Mana-Space": lines[2]}
    process = await _start_two_workers(env)
    try:
        workers = _children(process.pid)
        assert len(workers) == 2
        before = {pid: _cpu_ns(pid) for pid in workers}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as http:
            for attempt in range(40):
                await asyncio.sleep(0.05 if attempt else 0.5)
                # a fresh connection each time: the kernel hands it to whichever worker accepts
                async with httpx.AsyncClient(base_url=http.base_url, timeout=10.0) as fresh:
                    body, route = modern_call("notes_create", {"title": f"note {attempt}"})
                    answer = await fresh.post("/mcp", json=body, headers={**headers, **route})
                    legacy = await fresh.post(
                        "/mcp", json=rpc("tools/call", {"name": "todo_list", "arguments": {}}, 3),
                        headers={**headers, "MCP-Protocol-Version": LEGACY},
                    )  # fmt: skip
                assert answer.status_code == 200
                assert answer.json()["result"]["isError"] is False
                assert legacy.json()["result"]["isError"] is False
            listed = await http.post(
                "/mcp",
                json=rpc("tools/call", {"name": "notes_search", "arguments": {"limit": 100}}, 4),
                headers={**headers, "MCP-Protocol-Version": LEGACY},
            )
        # every note is found whichever worker wrote it: they share the one SQLite change log
        assert len(listed.json()["result"]["structuredContent"]["notes"]) == 40
        # both workers took connections (an idle worker uses well under a millisecond meanwhile)
        used_ms = {pid: (_cpu_ns(pid) - before[pid]) / 1e6 for pid in workers}
        assert all(ms > 10 for ms in used_ms.values()), used_ms
        # Keep-alive connections opened all at once (an agent host's pool, a load balancer's) are
        # spread too: with one shared socket the first worker to wake accepted every one of them.
        before = {pid: _cpu_ns(pid) for pid in workers}
        await _keep_alive_load(port, headers, connections=32, calls=6)
        used_ms = {pid: (_cpu_ns(pid) - before[pid]) / 1e6 for pid in workers}
        assert all(ms > 10 for ms in used_ms.values()), used_ms
    finally:
        process.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(process.wait(), 20)
    assert status == 0
    assert not any(_alive(pid) for pid in workers)  # the supervisor waited for every worker


async def _keep_alive_load(port: int, headers: dict[str, str], *, connections: int, calls: int) -> None:
    """``connections`` clients connect together, then each sends ``calls`` requests on its connection."""
    clients = [
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=10.0, limits=httpx.Limits(max_connections=1)
        )
        for _ in range(connections)
    ]
    try:
        body, route = modern_call("todo_list", {})

        async def one(client: httpx.AsyncClient) -> None:
            for _ in range(calls):
                answer = await client.post("/mcp", json=body, headers={**headers, **route})
                assert answer.json()["result"]["isError"] is False

        await asyncio.gather(*(one(client) for client in clients))
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _cpu_ns(pid: int) -> int:
    return sum(
        int((task / "schedstat").read_text().split()[0]) for task in Path(f"/proc/{pid}/task").iterdir()
    )


async def test_a_worker_that_dies_stops_the_others_and_the_supervisor_exits_non_zero(tmp_path: Path) -> None:
    """Each worker has a socket of its own now: the one left must not go on serving half a gateway."""
    port = free_port()
    env = clean_env(MANA_DATA_DIR=str(tmp_path / "data"), PORT=str(port), **STATELESS)
    process = await _start_two_workers(env)
    try:
        workers = _children(process.pid)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        status = await asyncio.wait_for(process.wait(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert status == 1
    assert not any(_alive(pid) for pid in workers)
    with socket.socket() as probe:  # nothing listens on the port any more
        assert probe.connect_ex(("127.0.0.1", port)) != 0
