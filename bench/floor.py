"""``python -m bench.floor``: the floor, the bare ``mcp`` SDK on Hypercorn running the same tool bodies.

No Quart, no edge checks, no JWT verification, no membership check, no argument validation, no
policy gate, no metrics and no audit log: a raw ASGI app hands ``/mcp`` to one
``StreamableHTTPSessionManager`` (JSON responses, the SDK's own stateful legacy sessions) whose
handlers run the project's own use cases (``CreateNote``, ``CreateTask``, ``ListTasks``) over the
same adapters as the gateway's profile. What the gateway costs beyond this is the price of its
checks and its plumbing. The gateway no longer uses those sessions: it keeps legacy sessions
itself and serves each request on a transport of its own or through the SDK's server kernel
(``mana.entrypoints.http.legacy``), so on the legacy era the floor carries the SDK's per-session
cost (tasks and streams per session, a transport hop per request) that the gateway does not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
from typing import Any

from mcp.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from mana.adapters.crypto import AesGcmCipherFactory
from mana.adapters.http_client import NullUpstreamObserver, build_client
from mana.adapters.in_process_sync import InProcessChangeLog
from mana.adapters.incremental_reader import IncrementalReader
from mana.adapters.key_cache import CachingKeyVault
from mana.adapters.local_store import LocalDatabase
from mana.adapters.memory import SystemClock, UuidIdSource
from mana.adapters.sync_http import HttpChangeLog
from mana.adapters.vault_http import HttpKeyVault
from mana.application.context import ToolContext
from mana.application.inputs import NotesCreate, TodoCreate, TodoList
from mana.application.ports import Caller
from mana.application.schema import to_wire
from mana.application.usecases.notes import CreateNote
from mana.application.usecases.records import Keys
from mana.application.usecases.todo import CreateTask, ListTasks
from mana.domain.changes import Actor
from mana.domain.timestamps import truncate_to_ms
from mana.entrypoints.serving import bind_socket, serve_app

ACTOR = Actor("system", "system:mcp", "bench via MCP")
SCHEMA = {"type": "object"}


class NoKeyEvents:
    def key_lookup(self, result: str) -> None:
        return None


def build_tools(args: argparse.Namespace, clock: SystemClock) -> tuple[dict[str, Any], list[Any]]:
    closers: list[Any] = []
    if args.profile == "remote":
        client = build_client()
        closers.append(client.aclose)
        observer = NullUpstreamObserver()
        change_log: Any = HttpChangeLog(client, args.sync_url, observer)
        inner_vault: Any = HttpKeyVault(client, args.auth_url, observer)
    else:
        database = LocalDatabase(args.data_dir)
        closers.append(database.close)
        change_log = InProcessChangeLog(database.sync_server())
        inner_vault = database.key_vault
    reader = IncrementalReader(change_log, clock=clock)
    keys = Keys(CachingKeyVault(inner_vault, clock, NoKeyEvents()), AesGcmCipherFactory())
    ids = UuidIdSource()
    use_cases = {
        "notes_create": (CreateNote(change_log, keys, ids), NotesCreate),
        "todo_create": (CreateTask(reader, change_log, keys, ids), TodoCreate),
        "todo_list": (ListTasks(reader, keys), TodoList),
    }
    return use_cases, closers


def build_server(use_cases: dict[str, Any], clock: SystemClock, user: str, space: str) -> Server[Any]:
    async def list_tools(ctx: Any, params: Any) -> dict[str, Any]:
        tools = [{"name": n, "inputSchema": SCHEMA} for n in use_cases]
        return {"tools": tools, "ttlMs": 0, "cacheScope": "private", "resultType": "complete"}

    async def call_tool(ctx: Any, params: Any) -> dict[str, Any]:
        use_case, arg_type = use_cases[params.name]
        token = ctx.request.headers["authorization"][7:]
        arguments = {_snake(k): v for k, v in (params.arguments or {}).items()}
        context = ToolContext(
            caller=Caller(user, token),
            space_id=space,
            now=truncate_to_ms(clock.now()),
            actor=ACTOR,
            request_id="-",
            tool_name=params.name,
        )
        structured = to_wire(await use_case(context, arg_type(**arguments)))
        text = json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
        return {
            "content": [{"type": "text", "text": text}],
            "structuredContent": structured,
            "isError": False,
            "resultType": "complete",
        }

    server: Server[Any] = Server(
        "floor",
        version="1",
        get_tool_input_schema=lambda name: SCHEMA,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
    server.middleware.clear()
    return server


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


class FloorApp:
    """Raw ASGI: lifespan enters the manager's task group once; ``/health``; everything else to the SDK."""

    def __init__(self, manager: StreamableHTTPSessionManager, closers: list[Any]) -> None:
        self.manager = manager
        self.closers = closers
        self._stack = contextlib.AsyncExitStack()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await self._stack.enter_async_context(self.manager.run())
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self._stack.aclose()
                    for close in self.closers:
                        result = close()
                        if asyncio.iscoroutine(result):
                            await result
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/health":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"{}"})
            return
        await self.manager.handle_request(scope, receive, send)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", choices=("local", "remote"), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--space", required=True)
    parser.add_argument("--auth-url")
    parser.add_argument("--sync-url")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    clock = SystemClock()
    use_cases, closers = build_tools(args, clock)
    manager = StreamableHTTPSessionManager(
        app=build_server(use_cases, clock, args.user, args.space),
        json_response=True,
        stateless=False,
        security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    sock = bind_socket("127.0.0.1", args.port)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await serve_app(FloorApp(manager, closers), sock, stop.wait)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())
