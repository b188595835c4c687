"""The direct answer of a legacy request against what the SDK's transport answers for it.

:meth:`LegacyServer.answer` exists only to skip the transport's per-request tasks and streams;
for every request it takes it must write byte for byte what the transport would (status, headers,
body), and it must leave everything else to the transport without sending anything.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from mana.application.ports import VerifiedToken
from mana.entrypoints.harness import ALICE, ALICE_PERSONAL, build_harness
from mana.entrypoints.http.app import NO_REBINDING_CHECK
from mana.entrypoints.http.legacy import SESSION_NOT_FOUND, LegacyServer, Outcome
from mana.entrypoints.mcp_server import build_mcp_server
from mana.entrypoints.request_context import McpRequest, current_mcp_request

SESSION = "0123456789abcdef0123456789abcdef"
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


def scope(headers: Sequence[tuple[bytes, bytes]], method: str = "POST") -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "path": "/mcp",
        "raw_path": b"/mcp",
        "query_string": b"",
        "headers": [(b"mcp-session-id", SESSION.encode()), *headers],
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
        "root_path": "",
    }


JSON_POST = [(b"accept", b"application/json, text/event-stream"), (b"content-type", b"application/json")]


class Recorder:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    def answer(self) -> Answer:
        start = self.messages[0]
        body = b"".join(m.get("body", b"") for m in self.messages[1:])
        return start["status"], list(start["headers"]), body


def receiving(body: bytes) -> Any:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def by_transport(
    legacy: LegacyServer, version: str, body: bytes, headers: Any = JSON_POST, method: str = "POST"
) -> Answer:
    sent = Recorder()
    await legacy.serve(legacy.transport(SESSION), version, scope(headers, method), receiving(body), sent)
    return sent.answer()


async def directly(
    legacy: LegacyServer, version: str, body: bytes, headers: Any = JSON_POST, method: str = "POST"
) -> Answer | None:
    sent = Recorder()
    outcome = await legacy.answer(SESSION, version, body, scope(headers, method), receiving(body), sent, {})
    if outcome is not Outcome.ANSWERED:
        assert sent.messages == []  # nothing may have gone out before the transport takes over
        return None
    return sent.answer()


async def left_as(legacy: LegacyServer, body: bytes, headers: Any = JSON_POST) -> Outcome:
    sent = Recorder()
    outcome = await legacy.answer(SESSION, "2025-11-25", body, scope(headers), receiving(body), sent, {})
    assert sent.messages == []
    return outcome


@pytest.fixture
async def gateway_server() -> AsyncIterator[LegacyServer]:
    harness = build_harness()
    token = VerifiedToken(subject=ALICE, token="t")
    reset = current_mcp_request.set(McpRequest(token=token, space_id=ALICE_PERSONAL, request_id="r1"))
    legacy = LegacyServer(build_mcp_server(harness.service, "0.1.0"), NO_REBINDING_CHECK)
    async with legacy.run():
        yield legacy
    current_mcp_request.reset(reset)


def rpc(method: str, params: Any = None, id_: Any = 1) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


REQUESTS = [
    rpc("tools/list"),
    rpc("tools/list", id_="a-string-id"),
    rpc("tools/call", {"name": "spaces_list", "arguments": {}}),
    rpc("tools/call", {"name": "todo_list", "arguments": {}}, id_=7),
    rpc("tools/call", {"name": "notes_create", "arguments": {"title": ""}}),  # a tool error result
    rpc("tools/call", {"name": "no_such_tool", "arguments": {}}),  # -32602
    rpc("tools/call", {"arguments": {}}),  # params fail validation
    rpc("tools/call", {"name": "spaces_list", "arguments": {}, "_meta": {"progressToken": 5}}),
    rpc("ping"),
    rpc("foo/bar"),  # no such method
    rpc("resources/list"),  # a spec method this server has no handler for
    rpc("logging/setLevel", {"level": "debug"}),
    b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
    b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}',
    b'{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}',
    b'{"jsonrpc":"2.0","method":"notifications/made_up","params":{"x":1}}',
    b'{"jsonrpc":"2.0","id":1,"result":{}}',  # a client's response
    b'{"jsonrpc":"2.0","id":2,"error":{"code":-1,"message":"no"}}',
]


@pytest.mark.parametrize("version", ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"])
@pytest.mark.parametrize("body", REQUESTS, ids=lambda b: b.decode()[:60])
async def test_a_direct_answer_is_the_transports_answer(
    gateway_server: LegacyServer, version: str, body: bytes
) -> None:
    expected = await by_transport(gateway_server, version, body)
    assert await directly(gateway_server, version, body) == expected


async def test_a_direct_delete_is_the_transports_delete(gateway_server: LegacyServer) -> None:
    headers = [(b"accept", b"application/json")]
    expected = await by_transport(gateway_server, "2025-11-25", b"", headers, "DELETE")
    assert expected[0] == 200
    assert await directly(gateway_server, "2025-11-25", b"", headers, "DELETE") == expected


@pytest.mark.parametrize("version", ["2025-11-25", "2024-11-05"])
async def test_the_server_speaks_the_sessions_negotiated_version(version: str) -> None:
    async def echo(ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) -> Any:
        text = f"{ctx.protocol_version} {ctx.session.client_params is None}"
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    legacy = LegacyServer(Server("t", on_call_tool=echo), NO_REBINDING_CHECK)
    body = rpc("tools/call", {"name": "x", "arguments": {}})
    async with legacy.run():
        expected = await by_transport(legacy, version, body)
        got = await directly(legacy, version, body)
    assert got == expected
    assert json.loads(expected[2])["result"]["content"][0]["text"] == f"{version} True"


async def test_a_handler_that_raises_is_mapped_as_the_dispatcher_maps_it() -> None:
    async def boom(ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) -> Any:
        raise RuntimeError("kaboom")

    legacy = LegacyServer(Server("t", on_call_tool=boom), NO_REBINDING_CHECK)
    body = rpc("tools/call", {"name": "x", "arguments": {}})
    async with legacy.run():
        expected = await by_transport(legacy, "2025-11-25", body)
        got = await directly(legacy, "2025-11-25", body)
    assert got == expected
    assert json.loads(expected[2])["error"] == {"code": 0, "message": "kaboom"}


CLIENT = {"name": "c", "version": "1"}
INITIALIZE = rpc("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": CLIENT})
LEFT_TO_THE_TRANSPORT = [
    (INITIALIZE, JSON_POST),
    (b'{"jsonrpc":"2.0","method":"notifications/initialized","params":"not an object"}', JSON_POST),
    (b"{nope", JSON_POST),
    (b'{"jsonrpc":"2.0","id":1}', JSON_POST),
    (rpc("tools/list"), [(b"accept", b"text/html"), (b"content-type", b"application/json")]),
    (rpc("tools/list"), [(b"accept", b"application/json"), (b"content-type", b"text/plain")]),
    (rpc("tools/list"), [(b"accept", b"application/json")]),
]


@pytest.mark.parametrize(("body", "headers"), LEFT_TO_THE_TRANSPORT, ids=lambda v: repr(v)[:50])
async def test_everything_else_is_left_to_the_transport(
    gateway_server: LegacyServer, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    assert await directly(gateway_server, "2025-11-25", body, headers) is None


@pytest.mark.parametrize(
    "body",
    [
        INITIALIZE,
        INITIALIZE.replace(b'"initialize"', b'"initi\\u0061lize"'),
        INITIALIZE.replace(b'"method": "initialize"', b'"meth\\u006fd": "\\u0069nitialize"'),
        b'{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"x"}}',
    ],
)
async def test_an_initialize_is_told_apart_by_its_parsed_method(
    gateway_server: LegacyServer, body: bytes
) -> None:
    """The session renews what it negotiated from the answer to such a request, so the method
    counts as JSON-RPC reads it, not as its bytes spell it."""
    assert await left_as(gateway_server, body) is Outcome.INITIALIZE


@pytest.mark.parametrize(
    "body",
    [
        rpc("tools/call", {"name": "x", "arguments": {"method": "initialize"}}),
        b'{"jsonrpc":"2.0","method":"initialize"}',  # a notification, which no session renews on
    ],
)
async def test_what_only_mentions_initialize_is_not_one(gateway_server: LegacyServer, body: bytes) -> None:
    assert await directly(gateway_server, "2025-11-25", body) == await by_transport(
        gateway_server, "2025-11-25", body
    )


async def test_an_initialize_refused_on_its_headers_is_the_transports(gateway_server: LegacyServer) -> None:
    headers = [(b"accept", b"text/html"), (b"content-type", b"application/json")]
    assert await left_as(gateway_server, INITIALIZE, headers) is Outcome.TRANSPORT


async def test_a_cancelled_request_is_answered_as_the_transport_answers_one() -> None:
    """``notifications/cancelled`` on the session interrupts its request, which still gets an
    answer (-32800) because the 2025 wire ends a request only with a response for its id."""
    started, release = anyio.Event(), anyio.Event()
    calls: list[str] = []

    async def slow(ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) -> Any:
        calls.append(params.name)
        started.set()
        await release.wait()
        return types.CallToolResult(content=[types.TextContent(type="text", text="late")])

    legacy = LegacyServer(Server("t", on_call_tool=slow), NO_REBINDING_CHECK)
    in_flight: dict[Any, Any] = {}
    answers: dict[str, Answer] = {}

    async def post(name: str, body: bytes) -> None:
        sent = Recorder()
        outcome = await legacy.answer(
            SESSION, "2025-11-25", body, scope(JSON_POST), receiving(body), sent, in_flight
        )
        assert outcome is Outcome.ANSWERED
        answers[name] = sent.answer()

    cancel = b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"call-1"}}'
    other = b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"nobody"}}'
    async with legacy.run(), anyio.create_task_group() as tg:
        tg.start_soon(post, "call", rpc("tools/call", {"name": "x", "arguments": {}}, id_="call-1"))
        await started.wait()
        await post("unrelated cancel", other)
        assert list(in_flight) == ["call-1"]
        await post("cancel", cancel)
    assert answers["cancel"][0] == 202
    assert answers["unrelated cancel"][0] == 202
    status, headers, body = answers["call"]
    assert status == 200
    assert (b"mcp-session-id", SESSION.encode()) in headers
    assert json.loads(body) == {
        "jsonrpc": "2.0",
        "id": "call-1",
        "error": {"code": -32800, "message": "Request cancelled"},
    }
    assert calls == ["x"]
    assert in_flight == {}


async def test_cancelling_answers_what_the_sdks_own_session_answers() -> None:
    """The same scenario on the SDK's stateful session manager (what the gateway used before)."""
    started, release = anyio.Event(), anyio.Event()

    async def slow(ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) -> Any:
        started.set()
        await release.wait()
        return types.CallToolResult(content=[types.TextContent(type="text", text="late")])

    manager = StreamableHTTPSessionManager(
        app=Server("t", on_call_tool=slow), json_response=True, security_settings=NO_REBINDING_CHECK
    )
    init = rpc(
        "initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": CLIENT}, id_=0
    )
    answers: dict[str, Answer] = {}
    async with manager.run():
        opened = Recorder()
        await manager.handle_request({**scope(JSON_POST), "headers": JSON_POST}, receiving(init), opened)
        sid = dict(opened.answer()[1])[b"mcp-session-id"]

        async def post(name: str, body: bytes) -> None:
            sent = Recorder()
            headers = [(b"mcp-session-id", sid), *JSON_POST]
            await manager.handle_request({**scope(JSON_POST), "headers": headers}, receiving(body), sent)
            answers[name] = sent.answer()

        async with anyio.create_task_group() as tg:
            tg.start_soon(post, "call", rpc("tools/call", {"name": "x", "arguments": {}}, id_="call-1"))
            await started.wait()
            await post(
                "cancel",
                b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"call-1"}}',
            )
    status, _headers, body = answers["call"]
    assert (status, json.loads(body)) == (
        200,
        {"jsonrpc": "2.0", "id": "call-1", "error": {"code": -32800, "message": "Request cancelled"}},
    )
    assert answers["cancel"][0] == 202


async def test_session_not_found_is_the_sdks_own_answer() -> None:
    """The gateway answers an unknown, expired or foreign session id with the body the SDK's
    stateful manager answers for an id it does not know (clients match on it to re-initialize)."""
    manager = StreamableHTTPSessionManager(
        app=Server("t"), json_response=True, security_settings=NO_REBINDING_CHECK
    )
    sent = Recorder()
    async with manager.run():
        await manager.handle_request(scope(JSON_POST), receiving(rpc("tools/list")), sent)
    status, headers, body = sent.answer()
    assert (status, body) == (404, SESSION_NOT_FOUND)
    assert dict(headers)[b"content-type"] == b"application/json"
