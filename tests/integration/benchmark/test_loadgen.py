"""The benchmark's lean load client against the real gateway (test profile): both eras, a session
per connection in the legacy one, keep-alive past Hypercorn's 1,000-request limit, failures counted."""

from __future__ import annotations

from pathlib import Path

from bench.loadgen import Connection, Target, call_once, open_legacy_session, run_load
from tests.integration.gateway.support import ALICE, ALICE_HOME, RunningGateway, gateway


def target(gw: RunningGateway, token: str, space: str = ALICE_HOME) -> Target:
    port = int(gw.base_url.rsplit(":", 1)[1])
    return Target("127.0.0.1", port, {"Authorization": f"Bearer {token}", "X-Mana-Space": space})


async def test_both_eras_call_tools_and_count_every_completed_call(tmp_path: Path) -> None:
    async with gateway(tmp_path, {"MANA_RATE_LIMIT": "0"}) as gw:
        t = target(gw, gw.tokens[ALICE])
        created = await call_once(t, "legacy", "notes_create", {"title": "Plan"})
        modern = await run_load(t, "modern", "notes_search", {}, concurrency=2, duration_s=0.4, warmup_s=0.1)
        legacy = await run_load(t, "legacy", "notes_search", {}, concurrency=2, duration_s=0.4, warmup_s=0.1)
        sessions = len(gw.container.owners())
    assert b'"isError":false' in created
    for result in (modern, legacy):
        assert result.calls > 10
        assert result.errors == 0
        assert result.percentile(50) <= result.percentile(99)
    assert sessions == 3  # one per legacy connection, the call_once one included


async def test_a_refused_call_is_counted_as_an_error(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw:  # the rate limit (30 a minute) stops most calls
        t = target(gw, gw.tokens[ALICE])
        result = await run_load(t, "modern", "notes_search", {}, concurrency=1, duration_s=0.3, warmup_s=0.0)
    assert result.errors > 0
    assert result.first_error is not None
    assert "rate_limited" in result.first_error


async def test_one_connection_outlives_hypercorns_request_limit(tmp_path: Path) -> None:
    async with gateway(tmp_path, {"MANA_RATE_LIMIT": "0"}) as gw:
        t = target(gw, gw.tokens[ALICE])
        conn = await Connection.open(t)
        try:
            session = await open_legacy_session(conn, t)
            assert session is not None
            health = f"GET /health HTTP/1.1\r\nHost: localhost:{t.port}\r\n\r\n".encode()
            statuses = {(await conn.send(health))[0] for _ in range(1005)}
        finally:
            await conn.close()
    assert statuses == {200}
