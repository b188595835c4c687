import asyncio
import json

from mana.entrypoints.http.lifecycle import Lifecycle
from mana.entrypoints.http.readiness import Readiness


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


async def test_all_checks_pass() -> None:
    async def ok() -> None:
        return None

    status, body = await Readiness({"jwks": ok, "sync": ok}).verdict()
    assert status == 200
    assert json.loads(body) == {
        "status": "ready",
        "checks": {"jwks": {"status": "ok"}, "sync": {"status": "ok"}},
    }


async def test_a_failing_or_slow_check_is_503_and_checks_run_concurrently() -> None:
    started: list[str] = []

    async def slow() -> None:
        started.append("jwks")
        await asyncio.sleep(10)

    async def down() -> str:
        started.append("sync")
        return "HTTP 502"

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    status, body = await Readiness({"jwks": slow, "sync": down}, budget_s=0.05).verdict()
    assert loop.time() - t0 < 1
    assert status == 503
    assert sorted(started) == ["jwks", "sync"]
    assert json.loads(body) == {
        "status": "not_ready",
        "checks": {
            "jwks": {"status": "fail", "error": "timeout"},
            "sync": {"status": "fail", "error": "HTTP 502"},
        },
    }


async def test_a_raising_check_never_leaks_its_message() -> None:
    async def boom() -> None:
        raise RuntimeError("upstream said: secret body")

    status, body = await Readiness({"sync": boom}).verdict()
    assert status == 503
    assert b"secret" not in body
    assert json.loads(body)["checks"]["sync"] == {"status": "fail", "error": "connection failed"}


async def test_verdict_is_cached_for_five_seconds_and_shared_by_concurrent_callers() -> None:
    calls = 0

    async def counted() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)

    clock = Clock()
    ready = Readiness({"sync": counted}, clock=clock)
    results = await asyncio.gather(*(ready.verdict() for _ in range(5)))
    assert calls == 1
    assert all(r[0] == 200 for r in results)
    clock.t = 4.9
    await ready.verdict()
    assert calls == 1
    clock.t = 5.1
    await ready.verdict()
    assert calls == 2


async def test_stopping_answers_503_without_checks() -> None:
    lifecycle = Lifecycle()
    ready = Readiness({}, lifecycle=lifecycle)
    assert (await ready.verdict())[0] == 200
    lifecycle.begin_shutdown()
    status, body = await ready.verdict()
    assert status == 503
    assert json.loads(body) == {"status": "stopping", "checks": {}}
