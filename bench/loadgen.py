"""A lean load client: raw asyncio HTTP/1.1 keep-alive connections sending pre-built request bytes.

Every byte of a request is built before the clock starts, and a response is read with two
``readexactly``/``readuntil`` calls, so the client costs a few tens of microseconds per call and
leaves the second core to the servers. It speaks both MCP eras: the legacy one opens a session
per connection (``initialize`` + ``notifications/initialized``) before the run, the modern one
sends the routing headers and the ``_meta`` envelope on every call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs

Era = Literal["legacy", "modern"]
MODERN = "2026-07-28"
LEGACY = "2025-11-25"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
}


class CallFailed(Exception):
    pass


def _request(path: str, host: str, headers: Mapping[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += [f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


def _rpc(method: str, params: Mapping[str, Any] | None, id_: int | None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if id_ is not None:
        message["id"] = id_
    if params is not None:
        message["params"] = params
    return json.dumps(message, separators=(",", ":")).encode()


@attrs.frozen
class Target:
    """Where to send and as whom: ``headers`` carry ``Authorization`` and ``X-Mana-Space``."""

    host: str
    port: int
    headers: Mapping[str, str]
    path: str = "/mcp"

    @property
    def authority(self) -> str:
        return f"localhost:{self.port}"


def call_bytes(
    target: Target, era: Era, tool: str, arguments: Mapping[str, Any], session: str | None = None
) -> bytes:
    headers = {"Content-Type": "application/json", "Accept": "application/json", **target.headers}
    params: dict[str, Any] = {"name": tool, "arguments": dict(arguments)}
    if era == "modern":
        params["_meta"] = MODERN_META
        headers.update({"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": tool})
    else:
        headers["MCP-Protocol-Version"] = LEGACY
        if session is not None:
            headers["Mcp-Session-Id"] = session
    return _request(target.path, target.authority, headers, _rpc("tools/call", params, 1))


class Connection:
    """One keep-alive HTTP/1.1 connection; :meth:`send` returns (status, headers, body)."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @classmethod
    async def open(cls, target: Target) -> Connection:
        conn = cls(target)
        await conn._connect()
        return conn

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self._target.host, self._target.port)

    async def send(self, raw: bytes) -> tuple[int, bytes, bytes]:
        """Hypercorn closes a connection after 1,000 requests (``Connection: close``); the next
        request then goes out on a new connection, as an HTTP client library would do."""
        if self._writer is None:
            await self._connect()
        assert self._reader is not None
        assert self._writer is not None
        self._writer.write(raw)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        closing = b"\r\nconnection: close" in lower
        at = lower.find(b"\r\ncontent-length:")
        if at >= 0:
            end = lower.index(b"\r\n", at + 2)
            body = await self._reader.readexactly(int(lower[at + 17 : end]))
        elif b"transfer-encoding: chunked" in lower:
            body = await self._chunked()
        else:
            body = b""
        if closing:
            await self.close()
        return status, head, body

    async def _chunked(self) -> bytes:
        assert self._reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is None:
            return
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def header_value(head: bytes, name: bytes) -> str | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode("latin-1")
    return None


async def open_legacy_session(conn: Connection, target: Target, client_name: str = "bench") -> str | None:
    """``initialize`` + ``notifications/initialized`` on ``conn``; returns the session id (None when
    the gateway runs the legacy era stateless and mints none)."""
    headers = {"Content-Type": "application/json", "Accept": "application/json", **target.headers}
    init = _rpc(
        "initialize",
        {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": client_name, "version": "1"}},
        0,
    )
    status, head, body = await conn.send(_request(target.path, target.authority, headers, init))
    session = header_value(head, b"mcp-session-id")
    if status != 200:
        raise CallFailed(f"initialize answered {status}: {body[:200]!r}")
    follow = {**headers, "MCP-Protocol-Version": LEGACY}
    if session is not None:
        follow["Mcp-Session-Id"] = session
    status, _, body = await conn.send(
        _request(target.path, target.authority, follow, _rpc("notifications/initialized", None, None))
    )
    if status != 202:
        raise CallFailed(f"initialized answered {status}: {body[:200]!r}")
    return session


def check_result(status: int, body: bytes) -> None:
    if status != 200 or b'"isError":false' not in body:
        raise CallFailed(f"HTTP {status}: {body[:300]!r}")


@attrs.frozen
class RunResult:
    calls: int
    errors: int
    elapsed_s: float
    latencies_ms: Sequence[float]
    client_cpu_s: float
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return self.calls / self.elapsed_s if self.elapsed_s else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_load(
    target: Target,
    era: Era,
    tool: str,
    arguments: Mapping[str, Any],
    *,
    concurrency: int,
    duration_s: float,
    warmup_s: float,
    on_window: Any = None,
) -> RunResult:
    """``concurrency`` connections call ``tool`` back to back; only calls that start and end inside
    the measuring window (after ``warmup_s``) count. ``on_window(start: bool)`` is called at the
    window's edges (to sample the server's CPU there)."""
    conns = [await Connection.open(target) for _ in range(concurrency)]
    try:
        requests: list[bytes] = []
        for conn in conns:
            session = await open_legacy_session(conn, target) if era == "legacy" else None
            requests.append(call_bytes(target, era, tool, arguments, session))
        latencies: list[float] = []
        errors = 0
        first_error: list[str] = []
        state = {"measuring": False, "stop": False}

        async def worker(conn: Connection, raw: bytes) -> None:
            nonlocal errors
            perf = time.perf_counter
            while not state["stop"]:
                counted = state["measuring"]
                started = perf()
                status, _, body = await conn.send(raw)
                ended = perf()
                try:
                    check_result(status, body)
                except CallFailed as exc:
                    errors += 1
                    if not first_error:
                        first_error.append(str(exc))
                if counted and state["measuring"]:
                    latencies.append((ended - started) * 1000.0)

        tasks = [asyncio.create_task(worker(c, r)) for c, r in zip(conns, requests, strict=True)]
        await asyncio.sleep(warmup_s)
        if on_window is not None:
            on_window(True)
        cpu0 = _cpu()
        t0 = time.perf_counter()
        state["measuring"] = True
        await asyncio.sleep(duration_s)
        state["measuring"] = False
        elapsed = time.perf_counter() - t0
        cpu = _cpu() - cpu0
        if on_window is not None:
            on_window(False)
        state["stop"] = True
        await asyncio.gather(*tasks)
        return RunResult(
            len(latencies), errors, elapsed, latencies, cpu, first_error[0] if first_error else None
        )
    finally:
        for conn in conns:
            await conn.close()


async def call_once(target: Target, era: Era, tool: str, arguments: Mapping[str, Any]) -> bytes:
    """One call on a fresh connection (setup calls, seeding); raises :class:`CallFailed`."""
    conn = await Connection.open(target)
    try:
        session = await open_legacy_session(conn, target) if era == "legacy" else None
        status, _, body = await conn.send(call_bytes(target, era, tool, arguments, session))
        check_result(status, body)
        return body
    finally:
        await conn.close()
