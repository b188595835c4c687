"""``python -m bench.legacy_cpu``: gateway CPU per legacy-era request, in process (no sockets).

The whole ASGI app (edge, checks, SDK) on the test profile's in-memory adapters, driven with raw
ASGI messages, timed with ``time.process_time`` (robust to other load on the machine): a
``tools/call`` of ``spaces_list`` and a ``tools/list`` on an open session, ``initialize`` plus
``notifications/initialized`` (opening a session), and the same ``tools/call`` on the sessionless
era beside them. Best of N rounds, interleaved, µs per request.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from bench.loadgen import _rpc
from mana.domain.spaces import Space
from mana.entrypoints.asgi_call import asgi_request
from mana.entrypoints.config import load_settings
from mana.entrypoints.container import build_container

USER, SPACE = "u_bench", "sp_bench"
LEGACY, MODERN = "2025-11-25", "2026-07-28"
Request = Callable[[], Coroutine[Any, Any, tuple[int, dict[bytes, bytes], bytes]]]


class Driver:
    def __init__(self, app: Any, token: str) -> None:
        self._app = app
        self._base = [
            (b"host", b"localhost"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"x-mana-space", SPACE.encode()),
            (b"accept", b"application/json, text/event-stream"),
            (b"content-type", b"application/json"),
        ]

    async def send(
        self,
        body: bytes,
        extra: Sequence[tuple[bytes, bytes]] = (),
        method: str = "POST",
    ) -> tuple[int, dict[bytes, bytes], bytes]:
        headers = [*self._base, *extra, (b"content-length", str(len(body)).encode())]
        sent = await asgi_request(self._app, method, headers, body)
        start = next(m for m in sent if m["type"] == "http.response.start")
        content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return start["status"], dict(start.get("headers", ())), content

    async def open_session(self) -> str:
        init = {
            "protocolVersion": LEGACY,
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        }
        status, headers, body = await self.send(_rpc("initialize", init, 0))
        assert status == 200, body
        sid = headers[b"mcp-session-id"]
        follow = [(b"mcp-session-id", sid), (b"mcp-protocol-version", LEGACY.encode())]
        status, _, body = await self.send(_rpc("notifications/initialized", None, None), follow)
        assert status == 202, body
        return sid.decode()


async def _time(request: Request, n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        status, _, body = await request()
        assert status in (200, 202), body[:300]
    return (time.process_time() - started) / n * 1e6


async def main_async(rounds: int, n: int, env: dict[str, str]) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="mana-legacy-cpu-"))
    settings = load_settings(
        {"MANA_DATA_DIR": str(work), "MANA_RATE_LIMIT": "0", "LOG_LEVEL": "warning", **env}
    )
    container = build_container(settings, "test")
    container.adapters.directory().set(USER, (Space(SPACE, "Personal", None, "personal", "owner"),))
    container.adapters.vault().set_key(USER)
    token = container.adapters.issuer().issue(USER, 600)
    app = container.app()
    async with app.test_app():
        d = Driver(app.asgi_app, token)
        sid = (await d.open_session()).encode()
        legacy = [(b"mcp-session-id", sid), (b"mcp-protocol-version", LEGACY.encode())]
        call = _rpc("tools/call", {"name": "spaces_list", "arguments": {}}, 1)
        mparams = {"name": "spaces_list", "arguments": {},
                   "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
                             "io.modelcontextprotocol/clientCapabilities": {}}}  # fmt: skip
        modern_call = _rpc("tools/call", mparams, 1)
        modern = [(b"mcp-protocol-version", MODERN.encode()), (b"mcp-method", b"tools/call"),
                  (b"mcp-name", b"spaces_list")]  # fmt: skip
        cases: dict[str, Request] = {
            "legacy tools/call": lambda: d.send(call, legacy),
            "legacy tools/list": lambda: d.send(_rpc("tools/list", None, 2), legacy),
            "modern tools/call": lambda: d.send(modern_call, modern),
        }
        best = {name: float("inf") for name in [*cases, "open + close a session"]}
        for _ in range(rounds):
            for name, request in cases.items():
                best[name] = min(best[name], await _time(request, n))
            started = time.process_time()
            for _ in range(n // 10):
                opened = (await d.open_session()).encode()
                await d.send(b"", [(b"mcp-session-id", opened)], method="DELETE")
            best["open + close a session"] = min(
                best["open + close a session"], (time.process_time() - started) / (n // 10) * 1e6
            )
    return best


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.legacy_cpu", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("-n", type=int, default=500, help="requests per round and case")
    parser.add_argument("--stateless", action="store_true", help="MANA_LEGACY_SESSIONS=stateless")
    args = parser.parse_args()
    env = {"MANA_LEGACY_SESSIONS": "stateless"} if args.stateless else {}
    for name, us in asyncio.run(main_async(args.rounds, args.n, env)).items():
        print(f"{name:26} {us:7.0f} us CPU per request")


if __name__ == "__main__":
    main()
