"""The stand-ins served over real HTTP on loopback, and the adapters pointed at them."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from mana.adapters.http_client import build_client
from mana.adapters.standins.fake_mana_auth import FakeManaAuth
from mana.adapters.standins.fake_mana_sync import FakeManaSync
from mana.adapters.standins.serve import serve
from mana.adapters.sync_http import HttpChangeLog

FAST_RETRIES = {"read_retry_delays_s": (0.01, 0.02), "push_retry_delay_s": 0.01}


class RecordingObserver:
    """Collects the (upstream, status) label pairs the adapters report."""

    def __init__(self) -> None:
        self.labels: Counter[tuple[str, str]] = Counter()

    def upstream_request(self, *, upstream: str, status: str, duration_s: float) -> None:
        assert duration_s >= 0
        self.labels[(upstream, status)] += 1


@pytest.fixture
def auth() -> FakeManaAuth:
    return FakeManaAuth()


@pytest.fixture
def sync(auth: FakeManaAuth) -> FakeManaSync:
    return FakeManaSync(auth.jwks, auth.memberships)


@pytest.fixture
async def auth_url(auth: FakeManaAuth) -> AsyncIterator[str]:
    async with serve(auth.app) as url:
        yield url


@pytest.fixture
async def sync_url(sync: FakeManaSync) -> AsyncIterator[str]:
    async with serve(sync.app) as url:
        yield url


@pytest.fixture
async def client(auth_url: str, sync_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway's shared upstream client; depends on both servers so that it is closed before they stop."""
    async with build_client() as shared:
        yield shared


@pytest.fixture
async def raw_http(auth_url: str, sync_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A general HTTP client, for probing the stand-ins' wire directly."""
    async with httpx.AsyncClient(timeout=10.0) as http:
        yield http


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()


@pytest.fixture
def change_log(client: httpx.AsyncClient, sync_url: str, observer: RecordingObserver) -> HttpChangeLog:
    return HttpChangeLog(client, sync_url, observer, total_timeout_s=2.0, **FAST_RETRIES)


@pytest.fixture
def closed_url() -> str:
    """A loopback URL on which nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
