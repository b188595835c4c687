"""Raw HTTP on /mcp past authentication: the active space, sessions and ownership, SDK statuses."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import jwt
import pytest
from dependency_injector import providers

from mana.entrypoints.container import Container
from mana.entrypoints.http.sessions import SessionOwners

from .support import (
    ALICE,
    BOB,
    BOB_HOME,
    FAMILY,
    LEGACY,
    MODERN,
    MODERN_META,
    RunningGateway,
    gateway,
    initialize,
    modern_call,
    open_session,
    rpc,
)


def assert_gateway_error(response: httpx.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"error": message}


def assert_rpc_error(response: httpx.Response, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


async def test_space_header_is_required_on_post_and_checked_when_sent(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        missing = await http.post("/mcp", json=initialize(), headers=gw.headers(space=None))
        empty = await http.post("/mcp", json=initialize(), headers=gw.headers(space=""))
        long = await http.post("/mcp", json=initialize(), headers=gw.headers(space="a" * 201))
        spaced = await http.post("/mcp", json=initialize(), headers=gw.headers(space="my space"))
        foreign = await http.post("/mcp", json=initialize(), headers=gw.headers(space=BOB_HOME))
        shared = await http.post("/mcp", json=initialize(), headers=gw.headers(space=FAMILY))
        get_without = await http.get("/mcp", headers=gw.headers(space=None))
        get_foreign = await http.get("/mcp", headers=gw.headers(space=BOB_HOME))
        delete_bad = await http.delete("/mcp", headers=gw.headers(space="x y"))
    message = "Missing X-Mana-Space header (set it to the id of the active space)"
    assert_gateway_error(missing, 400, message)
    assert "www-authenticate" not in missing.headers
    assert_gateway_error(empty, 400, message)
    assert_gateway_error(long, 400, "Malformed X-Mana-Space header")
    assert_gateway_error(spaced, 400, "Malformed X-Mana-Space header")
    assert_gateway_error(foreign, 403, "X-Mana-Space is not one of your spaces")
    assert shared.status_code == 200
    assert_rpc_error(get_without, 400, -32600)  # reached the SDK: no session id
    assert_gateway_error(get_foreign, 403, "X-Mana-Space is not one of your spaces")
    assert_gateway_error(delete_bad, 400, "Malformed X-Mana-Space header")


async def test_authentication_comes_before_the_space_header(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        response = await http.post("/mcp", json=initialize())
    assert response.status_code == 401


async def test_membership_lookup_failure_is_503(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        gw.container.adapters.directory().set_failing("timeout")
        response = await http.post("/mcp", json=initialize(), headers=gw.headers())
    assert_gateway_error(response, 503, "Could not verify space membership; try again")
    assert response.headers["retry-after"] == "5"


async def test_space_check_off_trusts_the_header_but_still_requires_it(tmp_path: Path) -> None:
    async with gateway(tmp_path, {"MANA_SPACE_CHECK": "off"}) as gw, gw.http() as http:
        gw.container.adapters.directory().set_failing("timeout")
        anywhere = await http.post("/mcp", json=initialize(), headers=gw.headers(space="sp_somewhere"))
        missing = await http.post("/mcp", json=initialize(), headers=gw.headers(space=None))
    assert anywhere.status_code == 200
    assert missing.status_code == 400


async def test_legacy_session_lifecycle(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        owners = gw.container.owners()
        opened = await http.post("/mcp", json=initialize("Claude Code"), headers=gw.headers())
        session = opened.headers["mcp-session-id"]
        assert len(session) == 32
        entry = owners.get(session)
        assert entry is not None
        assert (entry.owner, entry.client_name) == (ALICE, "Claude Code")
        own = {**gw.headers(), "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}
        initialized = await http.post("/mcp", json=rpc("notifications/initialized", id_=None), headers=own)
        listed = await http.post("/mcp", json=rpc("tools/list", id_=2), headers=own)
        no_session = await http.post("/mcp", json=rpc("tools/list", id_=3), headers=gw.headers())
        unknown = await http.post("/mcp", json=rpc("tools/list"), headers={**own, "Mcp-Session-Id": "f" * 32})
        metrics = (await http.get("/metrics")).text
        deleted = await http.delete("/mcp", headers={k: v for k, v in own.items() if k != "X-Mana-Space"})
        after = await http.post("/mcp", json=rpc("tools/list", id_=4), headers=own)
    assert opened.status_code == 200
    assert opened.headers["content-type"] == "application/json"
    assert opened.json()["result"]["serverInfo"] == {"name": "mana-mcp", "title": "Mana", "version": "0.1.0"}
    assert initialized.status_code == 202
    assert initialized.content == b""
    assert listed.status_code == 200
    assert len(listed.json()["result"]["tools"]) == 11
    assert_rpc_error(no_session, 400, -32600)
    assert_rpc_error(unknown, 404, -32600)
    assert "mana_mcp_sessions_open 1.0" in metrics
    assert deleted.status_code == 200
    assert_rpc_error(after, 404, -32600)
    assert owners.get(session) is None
    assert len(owners) == 0


async def test_another_users_session_is_403_on_every_method(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        session = await open_session(http, gw.headers())
        bob = {**gw.headers(BOB, BOB_HOME), "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}
        post = await http.post("/mcp", json=rpc("tools/list"), headers=bob)
        get = await http.get("/mcp", headers=bob)
        delete = await http.delete("/mcp", headers=bob)
        bob_shared = await http.post("/mcp", json=rpc("tools/list"), headers={**bob, "X-Mana-Space": FAMILY})
        alice_again = await http.post(
            "/mcp",
            json=rpc("tools/list"),
            headers={**gw.headers(), "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY},
        )
        refreshed = {"Authorization": f"Bearer {gw.token(ALICE)}", "X-Mana-Space": FAMILY}
        switched = await http.post(
            "/mcp",
            json=rpc("tools/call", {"name": "spaces_list", "arguments": {}}),
            headers={**gw.headers(), **refreshed, "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY},
        )
    for response in (post, get, delete, bob_shared):
        assert_gateway_error(response, 403, "Session belongs to a different user")
    assert alice_again.status_code == 200
    assert switched.status_code == 200
    assert (
        switched.json()["result"]["structuredContent"]["activeSpaceId"] == FAMILY
    )  # the space is per request


def signed_token(gw: RunningGateway, user: str, **claims: str) -> str:
    """A dev token of ``user`` with ``claims`` added or replaced (``azp``: another OAuth client,
    ``iss``: another issuer, which the test profile accepts: it pins no ``JWT_ISSUER``)."""
    issuer = gw.container.adapters.issuer()
    now = int(time.time())
    payload = {"sub": user, "iss": issuer.issuer, "aud": issuer.audience, "iat": now, "exp": now + 600}
    return jwt.encode(
        {**payload, **claims}, issuer._key, algorithm="EdDSA", headers={"kid": issuer.kid, "typ": None}
    )


async def test_a_session_is_bound_to_the_credential_that_opened_it(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        session = await open_session(http, gw.headers())
        alice = {**gw.headers(), "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}
        other_client = {**alice, "Authorization": f"Bearer {signed_token(gw, ALICE, azp='another-app')}"}
        foreign_client = await http.post("/mcp", json=rpc("tools/list"), headers=other_client)
        refreshed = {**alice, "Authorization": f"Bearer {gw.token(ALICE)}"}
        same_client = await http.post("/mcp", json=rpc("tools/list"), headers=refreshed)
        gw.container.owners().remove(session)
        after_removal = await http.post("/mcp", json=rpc("tools/list"), headers=alice)
    # The gateway binds a session to the (sub, iss, azp) that opened it; to another it looks absent.
    assert_rpc_error(foreign_client, 404, -32600)
    assert foreign_client.json()["error"]["message"] == "Session not found"
    assert same_client.status_code == 200
    assert "tools" in same_client.json()["result"]
    # The owner map is the session: without its entry there is nothing left to serve it.
    assert_rpc_error(after_removal, 404, -32600)


async def test_a_session_is_bound_to_the_issuer_that_opened_it(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        session = await open_session(http, gw.headers())
        alice = {**gw.headers(), "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}
        elsewhere = signed_token(gw, ALICE, iss="https://other-issuer.example")
        other_issuer = await http.post(
            "/mcp", json=rpc("tools/list"), headers={**alice, "Authorization": f"Bearer {elsewhere}"}
        )
        same_issuer = await http.post("/mcp", json=rpc("tools/list"), headers=alice)
    # Same subject, another issuer: another principal, to which the session looks absent.
    assert_rpc_error(other_issuer, 404, -32600)
    assert other_issuer.json()["error"]["message"] == "Session not found"
    assert same_issuer.status_code == 200
    assert "tools" in same_issuer.json()["result"]


async def test_modern_era_ignores_session_ids_and_has_no_get(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        session = await open_session(http, gw.headers())
        body, headers = modern_call("spaces_list", {})
        bob = gw.headers(BOB, BOB_HOME, **headers, **{"Mcp-Session-Id": session})
        call = await http.post("/mcp", json=body, headers=bob)
        get = await http.get("/mcp", headers=gw.headers(**{"MCP-Protocol-Version": MODERN}))
        delete = await http.delete("/mcp", headers=gw.headers(**{"MCP-Protocol-Version": MODERN}))
    assert call.status_code == 200
    assert "mcp-session-id" not in call.headers
    assert call.json()["result"]["structuredContent"]["activeSpaceId"] == BOB_HOME
    for response in (get, delete):
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"


async def test_per_user_session_cap(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        racing = await asyncio.gather(
            *(http.post("/mcp", json=initialize(), headers=gw.headers()) for _ in range(101))
        )
        # concurrent opens cannot overshoot the cap: a slot is held while an initialize is in flight
        assert sorted(r.status_code for r in racing) == [200] * 100 + [429]
        opened = [r for r in racing if r.status_code == 200]
        refused = await http.post("/mcp", json=initialize(), headers=gw.headers())
        not_an_initialize = await http.post(
            "/mcp",
            json=rpc("tools/list"),
            headers={**gw.headers(), "Mcp-Session-Id": opened[0].headers["mcp-session-id"]},
        )
        bob = await http.post("/mcp", json=initialize(), headers=gw.headers(BOB, BOB_HOME))
        await http.delete(
            "/mcp", headers={**gw.headers(), "Mcp-Session-Id": opened[0].headers["mcp-session-id"]}
        )
        again = await http.post("/mcp", json=initialize(), headers=gw.headers())
    assert_gateway_error(
        refused,
        429,
        "Too many open MCP sessions for this user (limit 100); "
        "close unused sessions or wait for them to expire",
    )
    assert refused.headers["retry-after"] == "60"
    assert not_an_initialize.status_code == 200
    assert bob.status_code == 200
    assert again.status_code == 200
    assert gw.container.owners().count_for(ALICE) == 100


def small_gateway(container: Container) -> None:
    container.owners.override(providers.Object(SessionOwners(total_cap=3)))


async def test_gateway_wide_session_cap(tmp_path: Path) -> None:
    async with gateway(tmp_path, configure=small_gateway) as gw, gw.http() as http:
        racing = await asyncio.gather(
            *(http.post("/mcp", json=initialize(), headers=gw.headers()) for _ in range(2)),
            *(http.post("/mcp", json=initialize(), headers=gw.headers(BOB, BOB_HOME)) for _ in range(2)),
        )
        # concurrent opens of two users cannot overshoot it either
        assert sorted(r.status_code for r in racing) == [200, 200, 200, 503]
        refused = next(r for r in racing if r.status_code == 503)
        also_refused = await http.post("/mcp", json=initialize(), headers=gw.headers(BOB, BOB_HOME))
        # one refusal in four: at least one of Alice's two opened
        alice = {
            **gw.headers(),
            "Mcp-Session-Id": next(r for r in racing[:2] if r.status_code == 200).headers["mcp-session-id"],
        }
        in_use = await http.post("/mcp", json=rpc("tools/list"), headers=alice)
        await http.delete("/mcp", headers=alice)
        again = await http.post("/mcp", json=initialize(), headers=gw.headers(BOB, BOB_HOME))
    for response in (refused, also_refused):
        assert_gateway_error(response, 503, "Too many open MCP sessions on this gateway; try again later")
        assert response.headers["retry-after"] == "60"
    assert in_use.status_code == 200  # the open sessions are served as before
    assert again.status_code == 200  # a closed session frees its slot
    assert len(gw.container.owners()) == 3


async def test_a_second_get_stream_on_one_session_is_409(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        session = await open_session(http, gw.headers())
        stream_headers = {
            **gw.headers(space=None),
            "Accept": "text/event-stream",
            "Mcp-Session-Id": session,
            "MCP-Protocol-Version": LEGACY,
        }
        async with http.stream("GET", "/mcp", headers=stream_headers) as first:
            assert first.status_code == 200
            assert first.headers["content-type"].startswith("text/event-stream")
            second = await http.get("/mcp", headers=stream_headers)
            entry = gw.container.owners().get(session)
            assert entry is not None
            assert entry.in_flight == 1
        assert_rpc_error(second, 409, -32600)


async def test_sdk_answers_for_bad_requests(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        h = gw.headers()
        session = await open_session(http, h)
        s = {**h, "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}
        not_json = await http.post(
            "/mcp", content=b"{nope", headers={**s, "Content-Type": "application/json"}
        )
        batch = await http.post("/mcp", json=[rpc("tools/list")], headers=s)
        text = await http.post(
            "/mcp", content=json.dumps(rpc("tools/list")), headers={**s, "Content-Type": "text/plain"}
        )
        html = await http.post("/mcp", json=rpc("tools/list"), headers={**s, "Accept": "text/html"})
        modern = {**h, "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"}
        mismatch = await http.post(
            "/mcp",
            json=rpc("tools/list", {"_meta": MODERN_META}),
            headers={**modern, "Mcp-Method": "tools/call"},
        )
        old = {**modern, "MCP-Protocol-Version": "1999-01-01"}
        unsupported = await http.post(
            "/mcp",
            json=rpc(
                "tools/list",
                {"_meta": {**MODERN_META, "io.modelcontextprotocol/protocolVersion": "1999-01-01"}},
            ),
            headers=old,
        )
        no_meta = await http.post("/mcp", json=rpc("tools/list", {}), headers=modern)
        unknown = await http.post(
            "/mcp", json=rpc("foo/bar", {"_meta": MODERN_META}), headers={**modern, "Mcp-Method": "foo/bar"}
        )
        notification = await http.post(
            "/mcp", json=rpc("notifications/cancelled", {"requestId": 1}, id_=None), headers=modern
        )
        modern_batch = await http.post(
            "/mcp", json=[rpc("tools/list", {"_meta": MODERN_META})], headers=modern
        )
    assert_rpc_error(not_json, 400, -32700)
    assert_rpc_error(batch, 400, -32600)
    assert text.status_code == 400
    assert_rpc_error(html, 406, -32600)
    assert_rpc_error(mismatch, 400, -32020)
    assert_rpc_error(unsupported, 400, -32022)
    assert unsupported.json()["error"]["data"]["supported"] == ["2026-07-28"]
    assert_rpc_error(no_meta, 400, -32602)
    assert_rpc_error(unknown, 404, -32601)
    assert notification.status_code == 202
    assert_rpc_error(modern_batch, 400, -32600)


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_unknown_tool_is_a_json_rpc_error_and_tool_failures_are_results(
    tmp_path: Path, era: str
) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        if era == "legacy":
            session = await open_session(http, gw.headers())
            h = {**gw.headers(), "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}
            unknown = await http.post(
                "/mcp", json=rpc("tools/call", {"name": "nope", "arguments": {}}), headers=h
            )
            invalid = await http.post(
                "/mcp",
                json=rpc("tools/call", {"name": "notes_create", "arguments": {"title": ""}}),
                headers=h,
            )
        else:
            body, extra = modern_call("nope", {})
            unknown = await http.post("/mcp", json=body, headers=gw.headers(**extra))
            body, extra = modern_call("notes_create", {"title": ""})
            invalid = await http.post("/mcp", json=body, headers=gw.headers(**extra))
    assert unknown.status_code == (200 if era == "legacy" else 400)
    assert unknown.json()["error"] == {"code": -32602, "message": "Unknown tool: nope"}
    assert invalid.status_code == 200
    result = invalid.json()["result"]
    assert result["isError"] is True
    assert result["_meta"]["mana/error"] == "input_invalid"
    assert result["content"] == [
        {"type": "text", "text": "Invalid arguments for notes_create: /title: must be at least 1 characters"}
    ]
    assert "structuredContent" not in result
