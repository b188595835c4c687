"""``python -m bench.upstream_cpu``: this process's CPU per upstream request, for ways of using httpx.

A fixed-answer HTTP/1.1 server runs in a child process (so its work is not counted); each variant
sends the same keep-alive GETs in sequence and reports CPU µs per request, beside a raw request
on an asyncio stream (the floor no client can beat).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx

from mana import __version__
from mana.adapters.http_client import NullUpstreamObserver, build_client, send_timed, upstream_request

_SERVER = r"""
import asyncio, sys
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            low = head.lower()
            at = low.find(b"content-length:")
            if at >= 0:
                await reader.readexactly(int(low[at + 15 : low.index(b"\r\n", at)]))
            writer.write(ANSWER)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


@contextlib.contextmanager
def fixed_server() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield f"http://127.0.0.1:{int(proc.stdout.readline())}"
    finally:
        proc.terminate()
        proc.wait(5)


async def cpu_us(one: Callable[[], Awaitable[Any]], n: int) -> float:
    for _ in range(50):
        await one()
    cpu = time.process_time()
    for _ in range(n):
        await one()
    return (time.process_time() - cpu) / n * 1e6


async def _raw(url: str, n: int) -> float:
    host, port = url.split("//")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    request = f"GET /x HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()

    async def one() -> None:
        writer.write(request)
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)

    try:
        return await cpu_us(one, n)
    finally:
        writer.close()


async def _trace(event_name: str, info: dict[str, Any]) -> None:
    return None


async def run(url: str, n: int, rounds: int) -> list[tuple[str, float]]:
    target = url + "/sync/todo/pull?collection=tasks&since=x"
    headers = {"Authorization": "Bearer t", "X-Client-Id": "mana-mcp-reader"}
    observer = NullUpstreamObserver()
    timeout = {"connect": 3.0, "read": 10.0, "write": 10.0, "pool": 10.0}
    fixed = {"User-Agent": f"mana-mcp/{__version__}", "Accept": "*/*", **headers}
    async with build_client() as client, httpx.AsyncClient(trust_env=False) as default:

        async def plain() -> None:
            await client.send(client.build_request("GET", target, headers=headers))

        async def traced() -> None:
            request = client.build_request("GET", target, headers=headers)
            request.extensions["trace"] = _trace
            await client.send(request)

        async def timed() -> None:
            await send_timed(client, client.build_request("GET", target, headers=headers), upstream="u",
                             observer=observer)  # fmt: skip

        async def direct() -> None:
            request = httpx.Request("GET", target, headers=fixed, extensions={"timeout": timeout})
            await client.send(request)

        prebuilt = httpx.Request("GET", target, headers=fixed, extensions={"timeout": timeout})

        async def reused() -> None:
            await client.send(prebuilt)

        parsed = httpx.URL(target)

        async def cached_url() -> None:
            request = httpx.Request("GET", parsed, headers=fixed, extensions={"timeout": timeout})
            await client.send(request)

        transport = httpx.AsyncHTTPTransport(trust_env=False)

        async def bare() -> None:
            request = httpx.Request("GET", parsed, headers=fixed, extensions={"timeout": timeout})
            response = await transport.handle_async_request(request)
            await response.aread()

        async def adapters() -> None:
            await send_timed(
                client, upstream_request("GET", parsed, headers), upstream="u", observer=observer
            )

        async def stock() -> None:
            await default.get(target, headers=headers)

        variants: dict[str, Callable[[], Awaitable[Any]]] = {
            "a default httpx.AsyncClient(trust_env=False).get": stock,
            "client.build_request + client.send": plain,
            "... + an httpcore trace callback": traced,
            "send_timed (asyncio.timeout, observer)": timed,
            "httpx.Request built directly + client.send": direct,
            "one prebuilt httpx.Request, sent again": reused,
            "httpx.Request on a parsed httpx.URL + client.send": cached_url,
            "what the adapters do: upstream_request on a parsed URL + send_timed": adapters,
            "... sent on the transport alone, no client (reference)": bare,
        }
        best: dict[str, float] = {"raw request on an asyncio stream (floor)": float("inf")}
        best |= dict.fromkeys(variants, float("inf"))
        # Interleaved rounds, the best of each: other work on the machine only ever adds CPU.
        for _ in range(rounds):
            best["raw request on an asyncio stream (floor)"] = min(
                best["raw request on an asyncio stream (floor)"], await _raw(url, n)
            )
            for name, one in variants.items():
                best[name] = min(best[name], await cpu_us(one, n))
        await transport.aclose()
    return list(best.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=500, help="requests per variant and round")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (the best counts)")
    args = parser.parse_args()
    with fixed_server() as url:
        for name, value in asyncio.run(run(url, args.n, args.rounds)):
            print(f"{value:8.1f} µs CPU  {name}")


if __name__ == "__main__":
    main()
