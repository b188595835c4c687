"""The one shared upstream client of the process, and the timing of every upstream request.

Every adapter that talks to mana-sync or mana-auth sends through :func:`send_timed`, so each
request is reported to the :class:`~mana.application.ports.UpstreamObserver` exactly once, with
the status label of gateway-http.md §9 (the HTTP status, ``timeout`` or ``error``), and transport
failures come out as one exception type that says whether the request may have reached the server.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from mana import __version__
from mana.adapters.upstream_http import (
    Progress,
    UpstreamClient,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamRequest,
    UpstreamResponse,
)
from mana.application.ports import UpstreamObserver

__all__ = [
    "CONNECT_TIMEOUT_S",
    "JWKS_TIMEOUT_S",
    "TOTAL_TIMEOUT_S",
    "NullUpstreamObserver",
    "TransportFailure",
    "UpstreamClient",
    "UpstreamRequest",
    "UpstreamResponse",
    "build_client",
    "join_url",
    "send_timed",
]

CONNECT_TIMEOUT_S = 3.0
TOTAL_TIMEOUT_S = 10.0
"""Upstream timeouts of gateway-http.md §1: 3 s to connect, 10 s for the whole request."""

JWKS_TIMEOUT_S = 5.0

TransportReason = Literal["timeout", "connection failed"]


class TransportFailure(Exception):
    """No HTTP answer. ``sent`` is True when the request may have reached the server."""

    def __init__(self, reason: TransportReason, *, sent: bool) -> None:
        super().__init__(reason)
        self.reason: TransportReason = reason
        self.sent = sent


def build_client(
    *,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    max_connections: int = 100,
    max_keepalive_connections: int = 20,
) -> UpstreamClient:
    """The pooled client shared by every upstream adapter; close it at shutdown.

    HTTP/1.1 with keep-alive (idle connections kept 30 s). No environment proxies: upstreams are
    internal services, and a stray ``HTTP_PROXY`` must not route user tokens through a proxy. No
    redirects: a redirect from mana-sync or mana-auth is a misconfiguration, reported as its status.
    No cookies are kept.
    """
    return UpstreamClient(
        connect_timeout_s=connect_timeout_s,
        max_connections=max_connections,
        max_keepalive=max_keepalive_connections,
        keepalive_expiry_s=30.0,
        default_headers={"User-Agent": f"mana-mcp/{__version__}", "Accept": "*/*"},
    )


async def send_timed(
    client: UpstreamClient,
    request: UpstreamRequest,
    *,
    upstream: str,
    observer: UpstreamObserver,
    total_timeout_s: float = TOTAL_TIMEOUT_S,
) -> UpstreamResponse:
    """Send ``request`` within ``total_timeout_s`` (body included) and report its duration.

    Any HTTP status is returned as a response; raises :class:`TransportFailure` otherwise, with
    ``sent`` True once the request's first byte may have gone out.
    """
    progress = Progress()
    start = time.perf_counter()
    try:
        async with asyncio.timeout(total_timeout_s):
            response = await client.send(request, progress)
    except TimeoutError:
        observer.upstream_request(upstream=upstream, status="timeout", duration_s=time.perf_counter() - start)
        raise TransportFailure("timeout", sent=progress.sent) from None
    except UpstreamConnectError:
        observer.upstream_request(upstream=upstream, status="error", duration_s=time.perf_counter() - start)
        raise TransportFailure("connection failed", sent=False) from None
    except UpstreamProtocolError:
        observer.upstream_request(upstream=upstream, status="error", duration_s=time.perf_counter() - start)
        raise TransportFailure("connection failed", sent=progress.sent) from None
    observer.upstream_request(
        upstream=upstream, status=str(response.status_code), duration_s=time.perf_counter() - start
    )
    return response


def join_url(base_url: str, path: str) -> str:
    """``base_url`` (with or without a trailing slash) followed by ``path`` (starting with ``/``)."""
    return base_url.rstrip("/") + path


class NullUpstreamObserver:
    """An observer that records nothing (tools and scripts that do not export metrics)."""

    def upstream_request(self, *, upstream: str, status: str, duration_s: float) -> None:
        return None
