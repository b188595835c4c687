"""How :func:`send_timed` reads httpx's failures: never sent, or may have reached the server."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from mana.adapters.http_client import TransportFailure, send_timed


class Labels:
    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str]] = Counter()

    def upstream_request(self, *, upstream: str, status: str, duration_s: float) -> None:
        self.seen[(upstream, status)] += 1


def failing(exc_type: type[httpx.TransportError]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("exc_type", "reason", "status", "sent"),
    [
        (httpx.ConnectError, "connection failed", "error", False),
        (httpx.ConnectTimeout, "timeout", "timeout", False),
        (httpx.PoolTimeout, "timeout", "timeout", False),
        (httpx.UnsupportedProtocol, "connection failed", "error", False),
        (httpx.WriteError, "connection failed", "error", True),
        (httpx.WriteTimeout, "timeout", "timeout", True),
        (httpx.ReadError, "connection failed", "error", True),
        (httpx.ReadTimeout, "timeout", "timeout", True),
        (httpx.RemoteProtocolError, "connection failed", "error", True),
    ],
)
async def test_each_httpx_failure_says_whether_the_request_may_have_left(exc_type, reason, status, sent):
    labels = Labels()
    async with failing(exc_type) as client:
        with pytest.raises(TransportFailure) as raised:
            await send_timed(
                client, client.build_request("POST", "http://u.test/x"), upstream="u", observer=labels
            )
    assert (raised.value.reason, raised.value.sent) == (reason, sent)
    assert labels.seen == Counter({("u", status): 1})


async def test_the_total_budget_running_out_counts_as_maybe_sent():
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1)
        return httpx.Response(200)

    labels = Labels()
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(TransportFailure) as raised:
            await send_timed(
                client, client.build_request("GET", "http://u.test/x"), upstream="u", observer=labels,
                total_timeout_s=0.05,
            )  # fmt: skip
    assert (raised.value.reason, raised.value.sent) == ("timeout", True)
    assert labels.seen == Counter({("u", "timeout"): 1})


async def test_any_http_status_is_an_answer_with_its_own_label():
    labels = Labels()
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(503))) as client:
        response = await send_timed(client, client.build_request("GET", "http://u.test/x"), upstream="u",
                                    observer=labels)  # fmt: skip
    assert response.status_code == 503
    assert labels.seen == Counter({("u", "503"): 1})
