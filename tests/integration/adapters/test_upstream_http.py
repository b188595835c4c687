"""The gateway's own HTTP/1.1 client against scripted loopback servers: framing, keep-alive, the
"was anything sent" flag, and what it refuses."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from mana.adapters.http_client import TransportFailure, build_client, send_timed
from mana.adapters.upstream_http import Progress, UpstreamClient, UpstreamConnectError, UpstreamProtocolError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Script:
    """A loopback server whose connections run ``handler``; counts connections and requests."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self.requests: list[bytes] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open -= 1
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        body = await reader.readexactly(length) if length else b""
        self.requests.append(head + body)
        return head + body


@contextlib.asynccontextmanager
async def scripted(make: Callable[[Script], Handler]) -> AsyncIterator[tuple[Script, str]]:
    script = Script(lambda r, w: asyncio.sleep(0))
    script.handler = make(script)
    server = await asyncio.start_server(script._serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield script, f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


def ok(body: bytes, *extra: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), b"".join(extra), body)


def keep_answering(script: Script, answer: bytes = ok(b"hello")) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await script.read_request(reader)
            writer.write(answer)
            await writer.drain()

    return handle


async def test_keep_alive_reuses_one_connection_and_sends_what_was_asked() -> None:
    async with scripted(keep_answering) as (script, url), build_client() as client:
        first = await client.send(client.build_request("GET", f"{url}/a?x=1%202", headers={"X-Id": "7"}))
        second = await client.send(client.build_request("POST", f"{url}/b", content=b'{"k":1}'))
    assert (first.status_code, first.content, second.content) == (200, b"hello", b"hello")
    assert first.headers.get("CONTENT-LENGTH") == "5"
    assert script.connections == 1
    assert script.requests[0].startswith(b"GET /a?x=1%202 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nX-Id: 7\r\n" in script.requests[0]
    assert b"User-Agent: mana-mcp/" in script.requests[0]
    assert script.requests[1].startswith(b"POST /b HTTP/1.1\r\n")
    assert script.requests[1].endswith(b'Content-Length: 7\r\n\r\n{"k":1}')


async def test_an_idle_connection_the_server_closed_is_never_written_to() -> None:
    def close_after_one(script: Script) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await script.read_request(reader)
            writer.write(ok(b"once"))
            await writer.drain()  # then the connection closes (keep-alive timeout on the server)

        return handle

    async with scripted(close_after_one) as (script, url), build_client() as client:
        await client.send(client.build_request("GET", url))
        await asyncio.sleep(0.05)
        again = await client.send(client.build_request("GET", url))
    assert again.content == b"once"
    assert script.connections == 2
    assert len(script.requests) == 2


async def test_connection_close_chunked_and_unframed_bodies() -> None:
    answers = [
        ok(b"closing", b"Connection: close\r\n"),
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
    ]

    def answer_in_turn(script: Script) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while answers:
                await script.read_request(reader)
                answer = answers.pop(0)
                writer.write(answer)
                await writer.drain()
                framed = b"Content-Length" in answer or b"chunked" in answer
                if b"Connection: close" in answer or not framed:
                    return  # closes: the client must not reuse this connection

        return handle

    async with scripted(answer_in_turn) as (script, url), build_client() as client:
        bodies = [(await client.send(client.build_request("GET", url))).content for _ in range(3)]
    assert bodies == [b"closing", b"Wikipedia", b"until the end"]
    # a new connection after "Connection: close"; the chunked answer left its connection reusable
    assert script.connections == 2


async def test_a_refused_connection_was_never_sent_and_a_dropped_answer_may_have_been() -> None:
    class Recorder:
        def upstream_request(self, *, upstream: str, status: str, duration_s: float) -> None:
            self.status = status

    def drop(script: Script) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await script.read_request(reader)  # stored, then the connection dies without an answer

        return handle

    async with scripted(drop) as (_, url), build_client() as client:
        observer = Recorder()
        with pytest.raises(TransportFailure) as dropped:
            await send_timed(
                client, client.build_request("POST", url, content=b"x"), upstream="u", observer=observer
            )
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        with pytest.raises(TransportFailure) as refused:
            await send_timed(
                client,
                client.build_request("GET", f"http://127.0.0.1:{port}/"),
                upstream="u",
                observer=observer,
            )
    assert (dropped.value.reason, dropped.value.sent) == ("connection failed", True)
    assert (refused.value.reason, refused.value.sent) == ("connection failed", False)
    assert observer.status == "error"


async def test_a_timeout_after_sending_says_sent_and_closes_the_connection() -> None:
    def slow(script: Script) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            number = script.connections
            await script.read_request(reader)
            await asyncio.sleep(0.3)
            writer.write(ok(b"answer on connection %d" % number))
            await writer.drain()

        return handle

    class Quiet:
        def upstream_request(self, *, upstream: str, status: str, duration_s: float) -> None:
            return None

    async with scripted(slow) as (_, url), build_client() as client:
        with pytest.raises(TransportFailure) as timed_out:
            await send_timed(
                client, client.build_request("GET", url), upstream="u", observer=Quiet(), total_timeout_s=0.05
            )
        # the first request's late answer must never be read as the answer to the next one
        follow = await send_timed(client, client.build_request("GET", url), upstream="u", observer=Quiet())
    assert (timed_out.value.reason, timed_out.value.sent) == ("timeout", True)
    assert follow.content == b"answer on connection 2"


async def test_garbage_instead_of_http_is_a_protocol_error() -> None:
    def garbage(script: Script) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await script.read_request(reader)
            writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
            await writer.drain()

        return handle

    async with scripted(garbage) as (_, url), build_client() as client:
        progress = Progress()
        with pytest.raises(UpstreamProtocolError):
            await client.send(client.build_request("GET", url), progress)
    assert progress.sent is True


async def test_header_injection_is_refused_before_anything_is_sent() -> None:
    async with scripted(keep_answering) as (script, url), build_client() as client:
        with pytest.raises(ValueError, match="CR, LF"):
            await client.send(
                client.build_request("GET", url, headers={"Authorization": "Bearer a\r\nX-Evil: 1"})
            )
    assert script.requests == []


async def test_in_flight_requests_are_capped_and_idle_connections_bounded() -> None:
    def slow_answers(script: Script) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                await script.read_request(reader)
                await asyncio.sleep(0.02)
                writer.write(ok(b"x"))
                await writer.drain()

        return handle

    async with scripted(slow_answers) as (script, url):
        client = UpstreamClient(connect_timeout_s=1.0, max_connections=2, max_keepalive=1)
        async with client:
            await asyncio.gather(*(client.send(client.build_request("GET", url)) for _ in range(6)))
            after_burst = script.connections
            await client.send(client.build_request("GET", url))
            await client.send(client.build_request("GET", url))
        with pytest.raises(RuntimeError, match="closed"):
            await client.send(client.build_request("GET", url))
    assert script.most_open == 2  # six requests at once, never more than two connections
    assert script.connections == after_burst  # the one idle connection kept was reused twice


async def test_https_upstreams_speak_tls_and_send_nothing_in_the_clear() -> None:
    def plain(script: Script) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            script.requests.append(await reader.read(5))  # a TLS ClientHello, never an HTTP request
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()

        return handle

    async with scripted(plain) as (script, url), build_client() as client:
        progress = Progress()
        with pytest.raises(UpstreamConnectError):
            await client.send(client.build_request("GET", url.replace("http:", "https:")), progress)
    assert progress.sent is False
    assert script.requests[0][:1] == b"\x16"  # TLS handshake record
