"""Serving the real gateway (container profiles) on 127.0.0.1 and talking to it as clients do."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import Implementation

from mana.domain.spaces import Space
from mana.entrypoints.config import load_settings
from mana.entrypoints.container import Container, Profile, build_container
from mana.entrypoints.serving import running

ALICE = "u_alice"
BOB = "u_bob"
ALICE_HOME = "sp_alice"
BOB_HOME = "sp_bob"
FAMILY = "sp_family"

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}

USERS: Mapping[str, tuple[Space, ...]] = {
    ALICE: (
        Space(ALICE_HOME, "Personal", None, "personal", "owner"),
        Space(FAMILY, "Family", "family", "family", "owner"),
    ),
    BOB: (
        Space(BOB_HOME, "Personal", None, "personal", "owner"),
        Space(FAMILY, "Family", "family", "family", "member"),
    ),
}


@attrs.define
class RunningGateway:
    base_url: str
    container: Container
    tokens: dict[str, str]

    @property
    def mcp_url(self) -> str:
        return f"{self.base_url}/mcp"

    def token(self, user: str, ttl_minutes: int = 60) -> str:
        return self.container.adapters.issuer().issue(user, ttl_minutes)

    def headers(self, user: str = ALICE, space: str | None = ALICE_HOME, **extra: str) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.tokens[user]}",
            "Accept": "application/json, text/event-stream",
        }
        if space is not None:
            headers["X-Mana-Space"] = space
        headers.update(extra)
        return headers

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=10.0)


@contextlib.asynccontextmanager
async def gateway(
    tmp_path: Path,
    env: Mapping[str, str] | None = None,
    profile: Profile = "test",
    configure: Callable[[Container], None] | None = None,
) -> AsyncIterator[RunningGateway]:
    """The container's ``profile`` app served on an ephemeral loopback port; Alice and Bob set up."""
    settings = load_settings({"MANA_DATA_DIR": str(tmp_path / "data"), **(env or {})})
    container = build_container(settings, profile)
    tokens: dict[str, str] = {}
    if profile == "test":
        for user, spaces in USERS.items():
            container.adapters.directory().set(user, spaces)
            container.adapters.vault().set_key(user)
            tokens[user] = container.adapters.issuer().issue(user, 60)
    if configure is not None:
        configure(container)
    async with running(container.app()) as base_url:
        yield RunningGateway(base_url, container, tokens)


@contextlib.asynccontextmanager
async def mcp_client(
    gw: RunningGateway,
    user: str = ALICE,
    space: str = ALICE_HOME,
    *,
    mode: str = "legacy",
    client_name: str = "pytest-agent",
) -> AsyncIterator[Client]:
    """The SDK's own client; ``mode="legacy"`` forces the 2025-11-25 session era."""
    headers = {"Authorization": f"Bearer {gw.tokens[user]}", "X-Mana-Space": space}
    async with httpx2.AsyncClient(headers=headers, timeout=10.0) as http:
        transport = streamable_http_client(gw.mcp_url, http_client=http)
        info = Implementation(name=client_name, version="1.0")
        async with Client(transport, mode=mode, client_info=info) as client:  # type: ignore[arg-type]
            yield client


def rpc(method: str, params: dict[str, Any] | None = None, id_: int | None = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if id_ is not None:
        message["id"] = id_
    if params is not None:
        message["params"] = params
    return message


def initialize(client_name: str = "raw-client") -> dict[str, Any]:
    return rpc(
        "initialize",
        {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": client_name, "version": "1"}},
    )


def modern_call(
    name: str, arguments: dict[str, Any] | None = None, id_: int = 1
) -> tuple[dict[str, Any], dict[str, str]]:
    """A 2026-07-28 ``tools/call``: body and the routing headers that must mirror it."""
    params: dict[str, Any] = {"name": name, "_meta": MODERN_META}
    if arguments is not None:
        params["arguments"] = arguments
    headers = {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": name}
    return rpc("tools/call", params, id_), headers


async def open_session(
    http: httpx.AsyncClient, headers: Mapping[str, str], client_name: str = "raw-client"
) -> str:
    """A legacy session opened with raw HTTP (initialize + initialized); returns its id."""
    response = await http.post("/mcp", json=initialize(client_name), headers=dict(headers))
    assert response.status_code == 200, response.text
    session = response.headers["mcp-session-id"]
    follow = {**headers, "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}
    done = await http.post("/mcp", json=rpc("notifications/initialized", id_=None), headers=follow)
    assert done.status_code == 202
    return session
