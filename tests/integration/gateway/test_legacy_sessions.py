"""Legacy sessions kept by the gateway itself: an idle one is an owner-map entry and nothing else,
and what the SDK's own sessions did (negotiated version, re-initialize, the GET stream ending on
DELETE or shutdown) still holds."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from mana.entrypoints.asgi_call import asgi_request
from mana.entrypoints.config import load_settings
from mana.entrypoints.container import build_container

from .support import ALICE, ALICE_HOME, LEGACY, USERS, gateway, initialize, open_session, rpc


def session_headers(headers: dict[str, str], session: str) -> dict[str, str]:
    return {**headers, "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}


async def test_an_idle_session_keeps_no_task_of_its_own(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        first = await open_session(http, gw.headers())
        await http.post("/mcp", json=rpc("tools/list"), headers=session_headers(gw.headers(), first))
        await asyncio.sleep(0.1)  # let the tasks of the last request finish
        before = len(asyncio.all_tasks())
        sessions = [await open_session(http, gw.headers()) for _ in range(20)]
        await asyncio.sleep(0.1)
        after = len(asyncio.all_tasks())
        listed = await http.post(
            "/mcp", json=rpc("tools/list"), headers=session_headers(gw.headers(), sessions[-1])
        )
    # The SDK's stateful sessions kept a server task and a router task for each (40 here).
    assert after == before
    assert len(gw.container.owners()) == 21
    assert listed.status_code == 200


async def test_the_negotiated_version_is_what_the_session_speaks(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        owners = gw.container.owners()
        older = initialize()
        older["params"]["protocolVersion"] = "2025-03-26"
        newer = initialize()
        newer["params"]["protocolVersion"] = "2026-07-28"  # asks for more than the era has
        opened_older = await http.post("/mcp", json=older, headers=gw.headers())
        opened_newer = await http.post("/mcp", json=newer, headers=gw.headers())
        session = opened_older.headers["mcp-session-id"]
        # No MCP-Protocol-Version header: the session's version, not the era's default, applies.
        listed = await http.post(
            "/mcp", json=rpc("tools/list"), headers={**gw.headers(), "Mcp-Session-Id": session}
        )
    older_entry = owners.get(session)
    newer_entry = owners.get(opened_newer.headers["mcp-session-id"])
    assert opened_older.json()["result"]["protocolVersion"] == "2025-03-26"
    assert opened_newer.json()["result"]["protocolVersion"] == "2025-11-25"
    assert older_entry is not None
    assert older_entry.protocol_version == "2025-03-26"
    assert newer_entry is not None
    assert newer_entry.protocol_version == "2025-11-25"
    assert listed.status_code == 200
    assert listed.headers["mcp-session-id"] == session


def reinitialize(spelling: str) -> bytes:
    again = initialize("second")
    again["params"]["protocolVersion"] = "2025-06-18"
    body = json.dumps(again)
    return body.replace('"method": "initialize"', spelling).encode()


@pytest.mark.parametrize(
    "spelling",
    [
        '"method": "initialize"',
        '"method":"initi\\u0061lize"',  # the JSON-RPC method is what counts, not its bytes
        '"meth\\u006fd": "\\u0069nitialize"',
    ],
)
async def test_initialize_on_an_open_session_renews_it(tmp_path: Path, spelling: str) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        session = await open_session(http, gw.headers(), client_name="first")
        headers = {**session_headers(gw.headers(), session), "Content-Type": "application/json"}
        renewed = await http.post("/mcp", content=reinitialize(spelling), headers=headers)
        entry = gw.container.owners().get(session)
    assert renewed.status_code == 200
    assert renewed.headers["mcp-session-id"] == session
    assert entry is not None
    assert (entry.client_name, entry.protocol_version) == ("second", "2025-06-18")
    assert len(gw.container.owners()) == 1


async def test_a_request_that_only_mentions_initialize_renews_nothing(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        session = await open_session(http, gw.headers(), client_name="first")
        call = rpc("tools/call", {"name": "notes_create", "arguments": {"title": "initialize"}})
        call["params"]["_meta"] = {"method": "initialize", "protocolVersion": "2025-06-18"}
        done = await http.post("/mcp", json=call, headers=session_headers(gw.headers(), session))
        entry = gw.container.owners().get(session)
    assert done.status_code == 200
    assert done.json()["result"]["isError"] is False
    assert entry is not None
    assert (entry.client_name, entry.protocol_version) == ("first", LEGACY)


async def test_a_failed_initialize_opens_no_session_and_frees_its_slot(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        owners = gw.container.owners()
        broken = rpc("initialize", {"protocolVersion": LEGACY})  # no capabilities, no clientInfo
        failed = await http.post("/mcp", json=broken, headers=gw.headers())
        assert len(owners) == 0
        assert owners.reserve(ALICE) is None  # nothing left reserved: the count starts from zero
        owners.release(ALICE)
        assert not owners.user_at_cap(ALICE)
        session = failed.headers.get("mcp-session-id")
        later = await http.post(
            "/mcp", json=rpc("tools/list"), headers=session_headers(gw.headers(), session or "0" * 32)
        )
    assert failed.status_code == 200
    assert "error" in failed.json()
    assert later.status_code == 404


async def test_delete_ends_the_sessions_get_stream(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http, gw.http() as other:
        session = await open_session(http, gw.headers())
        stream_headers = {**session_headers(gw.headers(space=None), session), "Accept": "text/event-stream"}
        async with http.stream("GET", "/mcp", headers=stream_headers) as stream:
            assert stream.status_code == 200
            assert stream.headers["mcp-session-id"] == session
            deleted = await other.delete("/mcp", headers=session_headers(gw.headers(), session))
            rest = await asyncio.wait_for(stream.aread(), 5)
        after = await other.post(
            "/mcp", json=rpc("tools/list"), headers=session_headers(gw.headers(), session)
        )
    assert deleted.status_code == 200
    assert rest == b""
    assert after.status_code == 404
    assert gw.container.owners().get(session) is None


async def asgi(
    app: Any, method: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> list[dict[str, Any]]:
    """One request straight into the app's ASGI callable; the client never hangs up."""
    return await asgi_request(app.asgi_app, method, headers, body)


async def test_shutdown_ends_open_get_streams(tmp_path: Path) -> None:
    """In process, with no server in front that could close the connection itself."""
    container = build_container(load_settings({"MANA_DATA_DIR": str(tmp_path / "data")}), "test")
    container.adapters.directory().set(ALICE, USERS[ALICE])
    container.adapters.vault().set_key(ALICE)
    token = container.adapters.issuer().issue(ALICE, 60)
    base = [(b"host", b"localhost"), (b"authorization", f"Bearer {token}".encode())]
    post = [*base, (b"x-mana-space", ALICE_HOME.encode()), (b"accept", b"application/json"),
            (b"content-type", b"application/json")]  # fmt: skip
    app = container.app()
    owners = container.owners()
    async with app.test_app():
        opened = await asgi(app, "POST", post, json.dumps(initialize()).encode())
        session = dict(opened[0]["headers"])[b"mcp-session-id"]
        stream = asyncio.create_task(
            asgi(app, "GET", [*base, (b"accept", b"text/event-stream"), (b"mcp-session-id", session)])
        )
        for _ in range(200):
            if owners.open_streams():
                break
            await asyncio.sleep(0.01)
        assert owners.open_streams()
        assert not stream.done()
    sent = await asyncio.wait_for(stream, 5)
    assert sent[0]["status"] == 200
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
