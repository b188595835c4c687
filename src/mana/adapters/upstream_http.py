"""A small HTTP/1.1 client for the gateway's upstream calls, on asyncio streams.

Why not httpx: on the benchmark machine one httpx request costs about 1 ms of CPU (some 2,000
Python calls through httpx, httpcore, anyio and h11 per request), more than everything else a
``notes.create`` does. The gateway needs a fraction of what httpx offers: HTTP/1.1 with
keep-alive to two fixed services, no redirects, no cookies, no proxies, no authentication
schemes, no streaming. This client does exactly that in some 40 Python calls per request.

What it guarantees the adapters (see :mod:`mana.adapters.http_client`):

- ``progress.sent`` becomes True just before the first byte of a request is written, so a
  failure can tell "never sent" from "may have reached the server";
- a connection is reused only after a response was read completely and the server did not ask
  to close; an idle pooled connection that has become readable (the server closed it, or sent
  something unasked) is discarded before reuse, never written to;
- a request that fails or is cancelled (timeouts) closes its connection;
- at most ``max_connections`` requests are in flight, and at most ``max_keepalive`` idle
  connections are kept, each for at most ``keepalive_expiry_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

_MAX_HEAD_BYTES = 64 * 1024
_NO_BODY_STATUSES = frozenset((204, 304))


class UpstreamConnectError(Exception):
    """The connection could not be made: nothing was sent."""


class UpstreamProtocolError(Exception):
    """The connection failed or the answer was not HTTP/1.1 after (part of) the request was sent."""


class Progress:
    """Set by the client: ``sent`` turns True just before the request's first byte goes out."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = False


@attrs.define(slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None = None


class Headers:
    """Response headers, looked up case-insensitively; repeated names keep their last value."""

    __slots__ = ("_items",)

    def __init__(self, items: dict[str, str]) -> None:
        self._items = items

    def get(self, name: str, default: Any = None) -> Any:
        return self._items.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items


@attrs.frozen(slots=True)
class UpstreamResponse:
    status_code: int
    headers: Headers
    content: bytes


@attrs.frozen(slots=True)
class _Origin:
    scheme: str
    host: str
    port: int
    authority: str


class _Connection:
    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self, now: float, expiry_s: float) -> bool:
        if now - self.idle_since > expiry_s or self.writer.is_closing() or self.reader.at_eof():
            return False
        sock = self.writer.get_extra_info("socket")
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        # Readable while idle: the server closed the connection or sent something unasked.
        return not readable

    def close(self) -> None:
        self.writer.close()


def _check_header(name: str, value: str) -> None:
    if "\r" in name or "\n" in name or ":" in name or "\r" in value or "\n" in value:
        raise ValueError("header names and values must not contain CR, LF (or ':' in names)")


class UpstreamClient:
    """One pooled client per process (shared by every upstream adapter); close it at shutdown."""

    def __init__(
        self,
        *,
        connect_timeout_s: float,
        max_connections: int = 100,
        max_keepalive: int = 20,
        keepalive_expiry_s: float = 30.0,
        default_headers: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._connect_timeout = connect_timeout_s
        self._slots = asyncio.Semaphore(max_connections) if max_connections else None
        self._max_keepalive = max_keepalive
        self._expiry = keepalive_expiry_s
        self._default_headers = dict(default_headers or {})
        for name, value in self._default_headers.items():
            _check_header(name, value)
        self._ssl = ssl_context
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._idle_count = 0
        self._origins: dict[str, tuple[_Origin, str]] = {}
        self._closed = False

    # --- the httpx-shaped surface the adapters use ---------------------------------------

    def build_request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> UpstreamRequest:
        return UpstreamRequest(method, url, dict(headers or {}), content)

    async def send(self, request: UpstreamRequest, progress: Progress | None = None) -> UpstreamResponse:
        """The complete response (any status); raises :class:`UpstreamConnectError` (nothing sent),
        :class:`UpstreamProtocolError`, or ``TimeoutError`` from a connect timeout."""
        if self._closed:
            raise RuntimeError("the upstream client is closed")
        origin, target = self._split(request.url)
        raw = self._serialise(request, origin, target)
        progress = progress or Progress()
        if self._slots is None:
            return await self._exchange(origin, raw, request.method, progress)
        async with self._slots:
            return await self._exchange(origin, raw, request.method, progress)

    async def aclose(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for conn in connections:
                conn.close()
        self._idle.clear()
        self._idle_count = 0

    async def __aenter__(self) -> UpstreamClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- internals -----------------------------------------------------------------------

    def _split(self, url: str) -> tuple[_Origin, str]:
        base, sep, query = url.partition("?")
        found = self._origins.get(base)
        if found is None:
            parts = urlsplit(base)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"unsupported upstream URL scheme or host: {parts.scheme}://")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            origin = _Origin(parts.scheme, parts.hostname, port, parts.netloc)
            found = (origin, parts.path or "/")
            if len(self._origins) < 1024:
                self._origins[base] = found
        origin, path = found
        return origin, path + sep + query

    def _serialise(self, request: UpstreamRequest, origin: _Origin, target: str) -> bytes:
        lines = [f"{request.method} {target} HTTP/1.1", f"Host: {origin.authority}"]
        for name, value in self._default_headers.items():
            if name not in request.headers:
                lines.append(f"{name}: {value}")
        for name, value in request.headers.items():
            _check_header(name, value)
            lines.append(f"{name}: {value}")
        body = request.content
        if body is not None or request.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        lines.append("\r\n")
        head = "\r\n".join(lines).encode("latin-1")
        return head + body if body else head

    async def _exchange(
        self, origin: _Origin, raw: bytes, method: str, progress: Progress
    ) -> UpstreamResponse:
        conn = self._pooled(origin)
        if conn is None:
            conn = await self._connect(origin)
        done = False
        try:
            progress.sent = True
            conn.writer.write(raw)
            response, reusable = await self._read_response(conn.reader, method)
            done = True
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            raise UpstreamProtocolError(type(exc).__name__) from None
        finally:
            if not done:
                conn.close()
        if reusable:
            self._release(origin, conn)
        else:
            conn.close()
        return response

    def _pooled(self, origin: _Origin) -> _Connection | None:
        connections = self._idle.get(origin)
        now = time.monotonic()
        while connections:
            conn = connections.pop()
            self._idle_count -= 1
            if conn.usable(now, self._expiry):
                return conn
            conn.close()
        return None

    def _release(self, origin: _Origin, conn: _Connection) -> None:
        if self._closed or self._idle_count >= self._max_keepalive:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        self._idle.setdefault(origin, []).append(conn)
        self._idle_count += 1

    async def _connect(self, origin: _Origin) -> _Connection:
        context: ssl.SSLContext | None = None
        if origin.scheme == "https":
            context = self._ssl or _default_ssl()
        try:
            async with asyncio.timeout(self._connect_timeout):
                reader, writer = await asyncio.open_connection(
                    origin.host,
                    origin.port,
                    ssl=context,
                    server_hostname=origin.host if context else None,
                    limit=_MAX_HEAD_BYTES,
                )
        except OSError as exc:
            raise UpstreamConnectError(type(exc).__name__) from None
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Connection(reader, writer)

    @staticmethod
    async def _read_response(reader: asyncio.StreamReader, method: str) -> tuple[UpstreamResponse, bool]:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head[:-4].decode("latin-1").split("\r\n")
            version, _, rest = lines[0].partition(" ")
            code = rest[:3]
            if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
                raise ValueError("not an HTTP/1.x status line")
            status = int(code)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, colon, value = line.partition(":")
                if not colon or not name or name != name.strip():
                    raise ValueError("malformed header line")
                headers[name.lower()] = value.strip()
            if not 100 <= status < 200:
                break  # 1xx interim answers are skipped
        keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
        if method == "HEAD" or status in _NO_BODY_STATUSES:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await _read_chunked(reader)
        elif "content-length" in headers:
            length = headers["content-length"]
            if not length.isdigit():
                raise ValueError("bad Content-Length")
            body = await reader.readexactly(int(length))
        else:
            body = await reader.read()  # until the server closes: the connection cannot be reused
            keep_alive = False
        return UpstreamResponse(status, Headers(headers), body), keep_alive


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailers
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise ValueError("malformed chunk")


_SSL: ssl.SSLContext | None = None


def _default_ssl() -> ssl.SSLContext:
    """Verified TLS with certifi's roots when installed (what httpx used), else the system's."""
    global _SSL
    if _SSL is None:
        try:
            import certifi

            _SSL = ssl.create_default_context(cafile=certifi.where())
        except ImportError:  # pragma: no cover - certifi comes with the test dependencies
            _SSL = ssl.create_default_context()
    return _SSL
