"""The ``/ready`` checks (gateway-http.md §3.2), built from what each mode's adapters can report.

Each check returns None when healthy, else one of the fixed reasons, never an upstream body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from mana.entrypoints.http.readiness import Check


def flag(is_ready: Callable[[], bool], reason: str, *, blocking: bool = False) -> Check:
    """A check over a boolean probe; ``blocking`` probes (disk, SQLite) run off the event loop."""

    async def check() -> str | None:
        ready = await asyncio.to_thread(is_ready) if blocking else is_ready()
        return None if ready else reason

    return check


def http_status(get_status: Callable[[], Awaitable[int | str]]) -> Check:
    """Healthy when the probe answers an HTTP status below 500; a string is a transport reason."""

    async def check() -> str | None:
        status = await get_status()
        if isinstance(status, str):
            return status
        return None if status < 500 else f"HTTP {status}"

    return check


def always_ready() -> Check:
    async def check() -> str | None:
        return None

    return check
