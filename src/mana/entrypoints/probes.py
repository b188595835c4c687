"""The ``/ready`` checks (gateway-http.md §3.2) over the adapters of each mode.

Each returns None when healthy, else one of the fixed reasons, never an upstream body.
"""

from __future__ import annotations

import asyncio

import httpx

from mana.adapters.http_client import TransportFailure, join_url, send_timed
from mana.adapters.local_issuer import LocalTokenIssuer
from mana.adapters.local_store import LocalDatabase
from mana.application.ports import UpstreamObserver
from mana.entrypoints.http.readiness import Check

PROBE_TIMEOUT_S = 2.0


def sync_health(client: httpx.AsyncClient, sync_url: str, observer: UpstreamObserver) -> Check:
    """Remote mode: ``GET {MANA_SYNC_URL}/health`` answers with any status below 500."""
    url = join_url(sync_url, "/health")

    async def check() -> str | None:
        try:
            response = await send_timed(
                client,
                client.build_request("GET", url),
                upstream="sync_health",
                observer=observer,
                total_timeout_s=PROBE_TIMEOUT_S,
            )
        except TransportFailure as failure:
            return failure.reason
        return None if response.status_code < 500 else f"HTTP {response.status_code}"

    return check


def local_database(database: LocalDatabase) -> Check:
    """Local mode: the SQLite file exists and answers a trivial query (off the event loop)."""

    async def check() -> str | None:
        ready = await asyncio.to_thread(database.is_ready)
        return None if ready else "database error"

    return check


def signing_key(issuer: LocalTokenIssuer) -> Check:
    """Local mode: the dev signing key is loaded (and still on disk)."""

    async def check() -> str | None:
        return None if issuer.is_ready() else "no usable key"

    return check


def always_ready() -> Check:
    async def check() -> str | None:
        return None

    return check
