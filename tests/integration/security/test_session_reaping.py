"""Idle legacy sessions end after their TTL (D11), while a session in use lives on. The owner map
is the session (no SDK session exists beside it), so the TTL is shortened to half a second there:
the sweep frees the idle entries, and a request on one of them is answered 404."""

from __future__ import annotations

import asyncio
from pathlib import Path

from dependency_injector import providers
from tests.integration.gateway.support import LEGACY, gateway, open_session, rpc

from mana.entrypoints.container import Container
from mana.entrypoints.http.sessions import SessionOwners

TTL_S = 0.5


def short_ttl(container: Container) -> None:
    container.owners.override(providers.Object(SessionOwners(idle_timeout_s=TTL_S, sweep_interval_s=0.1)))


def sessions_open(metrics: str) -> float:
    return float(
        next(line for line in metrics.splitlines() if line.startswith("mana_mcp_sessions_open ")).split()[1]
    )


async def test_idle_sessions_are_reaped_and_busy_ones_are_not(tmp_path: Path) -> None:
    async with gateway(tmp_path, configure=short_ttl) as gw, gw.http() as http:
        idle = [await open_session(http, gw.headers()) for _ in range(3)]
        busy = await open_session(http, gw.headers())
        busy_headers = {**gw.headers(), "Mcp-Session-Id": busy, "MCP-Protocol-Version": LEGACY}
        opened = sessions_open((await http.get("/metrics")).text)
        for i in range(8):  # 1.6 s of use, a request every 0.2 s
            assert (
                await http.post("/mcp", json=rpc("tools/list", id_=i), headers=busy_headers)
            ).status_code == 200
            await asyncio.sleep(0.2)
        after = sessions_open((await http.get("/metrics")).text)
        gone = [
            await http.post(
                "/mcp",
                json=rpc("tools/list"),
                headers={**gw.headers(), "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY},
            )
            for session in idle
        ]
        owners = gw.container.owners()
    assert opened == 4
    assert after == 1  # only the busy one
    assert owners.get(busy) is not None
    for response in gone:
        assert response.status_code == 404  # gone with their entries: the client must re-initialize
    assert all(owners.get(session) is None for session in idle)
