"""``/ready``: named checks run concurrently, 2 s each, the verdict cached for 5 s (gateway-http.md §3.2).

A check is an async callable that returns None when healthy or one of the fixed error strings
(``timeout``, ``connection failed``, ``HTTP <status>``, ``no usable key``, ``database error``), so an
upstream body can never reach the answer. Concurrent ``/ready`` calls share one evaluation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from mana.entrypoints.http.lifecycle import Lifecycle

Check = Callable[[], Awaitable[str | None]]

CHECK_BUDGET_S = 2.0
CACHE_TTL_S = 5.0

log = logging.getLogger(__name__)


class Readiness:
    def __init__(
        self,
        checks: Mapping[str, Check],
        *,
        lifecycle: Lifecycle | None = None,
        budget_s: float = CHECK_BUDGET_S,
        ttl_s: float = CACHE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._checks = dict(checks)
        self._budget_s = budget_s
        self._ttl_s = ttl_s
        self._clock = clock
        self._cached: tuple[float, int, bytes] | None = None
        self._running: asyncio.Future[tuple[int, bytes]] | None = None
        self._lifecycle = lifecycle or Lifecycle()

    async def verdict(self) -> tuple[int, bytes]:
        """``(status, JSON body)``: 200 ready, 503 not ready or stopping."""
        if self._lifecycle.stopping:
            return 503, b'{"status":"stopping","checks":{}}'
        now = self._clock()
        if self._cached is not None and now - self._cached[0] < self._ttl_s:
            return self._cached[1], self._cached[2]
        if self._running is None:
            self._running = asyncio.ensure_future(self._evaluate())
            self._running.add_done_callback(self._finished)
        return await asyncio.shield(self._running)

    def _finished(self, future: asyncio.Future[tuple[int, bytes]]) -> None:
        self._running = None
        if not future.cancelled() and future.exception() is None:
            status, body = future.result()
            self._cached = (self._clock(), status, body)

    async def _evaluate(self) -> tuple[int, bytes]:
        names = list(self._checks)
        errors = await asyncio.gather(*(self._run(name) for name in names))
        checks: dict[str, dict[str, str]] = {}
        for name, error in zip(names, errors, strict=True):
            checks[name] = {"status": "ok"} if error is None else {"status": "fail", "error": error}
        ready = all(error is None for error in errors)
        body = {"status": "ready" if ready else "not_ready", "checks": checks}
        return (200 if ready else 503), json.dumps(body, separators=(",", ":")).encode()

    async def _run(self, name: str) -> str | None:
        try:
            return await asyncio.wait_for(self._checks[name](), self._budget_s)
        except TimeoutError:
            return "timeout"
        except Exception:
            log.exception("readiness check failed", extra={"check": name})
            return "connection failed"
