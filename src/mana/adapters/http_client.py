"""The one shared ``httpx.AsyncClient`` of the process, and the timing of every upstream request.

Every adapter that talks to mana-sync or mana-auth sends through :func:`send_timed`, so each
request is reported to the :class:`~mana.application.ports.UpstreamObserver` exactly once, with
the status label of gateway-http.md §9 (the HTTP status, ``timeout`` or ``error``), and transport
failures come out as one exception type that says whether the request may have reached the server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Literal

import httpx

from mana import __version__
from mana.application.ports import UpstreamObserver

CONNECT_TIMEOUT_S = 3.0
TOTAL_TIMEOUT_S = 10.0
"""Upstream timeouts of gateway-http.md §1: 3 s to connect, 10 s for the whole request."""

JWKS_TIMEOUT_S = 5.0

TransportReason = Literal["timeout", "connection failed"]

_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
"""httpx raises these before a connection is handed the request: nothing can have reached the server."""


class TransportFailure(Exception):
    """No HTTP answer. ``sent`` is True when the request may have reached the server."""

    def __init__(self, reason: TransportReason, *, sent: bool) -> None:
        super().__init__(reason)
        self.reason: TransportReason = reason
        self.sent = sent


_TIMEOUTS = httpx.Timeout(TOTAL_TIMEOUT_S, connect=CONNECT_TIMEOUT_S).as_dict()
_HEADERS = {"User-Agent": f"mana-mcp/{__version__}", "Accept": "*/*"}


def build_client(
    *,
    max_connections: int = 100,
    max_keepalive_connections: int = 20,
) -> httpx.AsyncClient:
    """The pooled client shared by every upstream adapter; close it at shutdown.

    Environment proxies are ignored (``trust_env=False``): upstreams are internal services, and a
    stray ``HTTP_PROXY`` must not route user tokens through a proxy. Redirects are not followed: a
    redirect from mana-sync or mana-auth is a misconfiguration, reported as its status.
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(TOTAL_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=30.0,
        ),
        headers=_HEADERS,
        follow_redirects=False,
        trust_env=False,
    )


def upstream_request(
    method: str,
    url: httpx.URL | str,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
) -> httpx.Request:
    """A request for :func:`send_timed`, built the cheap way httpx allows.

    ``client.build_request`` merges the client's headers, cookies, URL and timeout into every
    request; the adapters need none of that per call, so this builds the ``httpx.Request`` itself
    with the same User-Agent and timeouts (3 s connect, 10 s per read, write and pool slot). Pass
    an ``httpx.URL`` parsed once for URLs that do not change: parsing is the larger saving
    (together ~10 % of the CPU of a request, ``python -m bench.upstream_cpu``).
    """
    merged = {**_HEADERS, **headers} if headers else _HEADERS
    return httpx.Request(method, url, headers=merged, content=content, extensions={"timeout": _TIMEOUTS})


async def send_timed(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    upstream: str,
    observer: UpstreamObserver,
    total_timeout_s: float = TOTAL_TIMEOUT_S,
) -> httpx.Response:
    """Send ``request`` within ``total_timeout_s`` (body included) and report its duration.

    Any HTTP status is returned as a response; raises :class:`TransportFailure` otherwise. Whether
    the request may have left comes from httpx's exception type alone (an httpcore ``trace``
    callback would say it more exactly, for about 2 % more CPU per request): no connection, or no
    pool slot, means never sent; a failure or timeout while writing or reading, a broken answer,
    and the total budget running out (which cannot tell where it struck) mean it may have been.
    """
    start = time.perf_counter()
    try:
        async with asyncio.timeout(total_timeout_s):
            response = await client.send(request)
    except _NEVER_SENT as exc:
        reason: TransportReason = (
            "timeout" if isinstance(exc, httpx.TimeoutException) else "connection failed"
        )
        _report(observer, upstream, reason, start)
        raise TransportFailure(reason, sent=False) from None
    except (TimeoutError, httpx.TimeoutException):
        _report(observer, upstream, "timeout", start)
        raise TransportFailure("timeout", sent=True) from None
    except httpx.TransportError:
        _report(observer, upstream, "connection failed", start)
        raise TransportFailure("connection failed", sent=True) from None
    observer.upstream_request(
        upstream=upstream, status=str(response.status_code), duration_s=time.perf_counter() - start
    )
    return response


def _report(observer: UpstreamObserver, upstream: str, reason: TransportReason, start: float) -> None:
    status = "timeout" if reason == "timeout" else "error"
    observer.upstream_request(upstream=upstream, status=status, duration_s=time.perf_counter() - start)


def join_url(base_url: str, path: str) -> str:
    """``base_url`` (with or without a trailing slash) followed by ``path`` (starting with ``/``)."""
    return base_url.rstrip("/") + path


class NullUpstreamObserver:
    """An observer that records nothing (tools and scripts that do not export metrics)."""

    def upstream_request(self, *, upstream: str, status: str, duration_s: float) -> None:
        return None
