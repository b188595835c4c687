"""``/mcp``: the checks of gateway-http.md §6 in order, then the SDK.

Everything that must happen before the SDK sees a request lives here: Host and Origin, the
method, the bearer token, ``X-Mana-Space`` and membership, the body limit, session ownership and
the per-user cap. Then the request context is published in a ContextVar for the MCP handlers and
the request goes to the SDK: the modern era to its session manager, a legacy-era request to a
transport of its own (:mod:`legacy`) for the session our owner map keeps, whose response is
watched to open, update and end that session.
"""

from __future__ import annotations

import json
import logging
import uuid

import anyio
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import Message, Receive, Scope, Send

from mana.application.errors import InvalidToken, UpstreamFailure, VerificationUnavailable
from mana.application.ports import TokenVerifier, VerifiedToken
from mana.entrypoints.http import responses as r
from mana.entrypoints.http import spaces
from mana.entrypoints.http.auth import MISSING_HEADER, Challenge, bearer_token
from mana.entrypoints.http.cors import CorsPolicy
from mana.entrypoints.http.legacy import SESSION_NOT_FOUND, LegacyServer, Outcome
from mana.entrypoints.http.lifecycle import Lifecycle
from mana.entrypoints.http.sessions import SessionEntry, SessionOwners
from mana.entrypoints.logs import request_id_var
from mana.entrypoints.request_context import McpRequest, current_mcp_request

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 * 1024 * 1024
DRAIN_LIMIT_BYTES = 32 * 1024 * 1024
LOCAL_HOSTS = frozenset({b"localhost", b"127.0.0.1", b"[::1]"})
MCP_ALLOW = [(b"allow", b"GET, POST, DELETE, OPTIONS")]
POST_ONLY = [(b"allow", b"POST")]
RETRY_5 = [(b"retry-after", b"5")]
RETRY_60 = [(b"retry-after", b"60")]
_LEGACY_VERSIONS = frozenset(v.encode() for v in HANDSHAKE_PROTOCOL_VERSIONS)
BATCH_REJECTED = (
    b'{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Batch requests are not supported"}}'
)
"""JSON-RPC batches are not part of either era; the legacy SDK path would answer -32602 with a
validation dump of the body instead."""


NOT_JSON_RPC = (
    b'{"jsonrpc":"2.0","id":null,"error":'
    b'{"code":-32600,"message":"Invalid Request: not a JSON-RPC 2.0 message"}}'
)
_SDK_VALIDATION_DUMP = b'"code":-32602,"message":"Validation error:'


async def send_sanitised_400(send: Send, start: Message, body: Message) -> None:
    """The SDK's session era answers a body that is not a JSON-RPC message with -32602 and a
    pydantic dump that echoes the input and names library internals; gateway-http.md §6 wants
    -32600. Only 400s are held back for this check, so successful answers are never buffered."""
    content = body.get("body", b"")
    if body.get("more_body", False) or _SDK_VALIDATION_DUMP not in content[:200]:
        await send(start)
        await send(body)
        return
    headers = [(k, v) for k, v in start.get("headers", ()) if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(NOT_JSON_RPC)).encode()))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": NOT_JSON_RPC, "more_body": False})


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


def host_name(host: bytes) -> bytes:
    """``localhost:3069`` → ``localhost``; ``[::1]:3069`` → ``[::1]``."""
    if host.startswith(b"["):
        end = host.find(b"]")
        return host[: end + 1] if end > 0 else host
    return host.split(b":", 1)[0]


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields the already-read body once, then defers to the real one."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def negotiated_version(body: bytes) -> str | None:
    """``result.protocolVersion`` of an ``initialize`` answer; None for an error or anything else.

    Only a successful ``initialize`` opens a session: one that failed could serve nothing but
    ``ping`` (the SDK kept such a session until it was reaped; here it is never opened)."""
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return None
    result = message.get("result") if isinstance(message, dict) else None
    version = result.get("protocolVersion") if isinstance(result, dict) else None
    return _KNOWN_VERSIONS.get(version) if isinstance(version, str) else None


_KNOWN_VERSIONS = {v: v for v in HANDSHAKE_PROTOCOL_VERSIONS}
"""Interned: every entry shares the SDK's own version strings."""


def initialize_client(body: bytes) -> tuple[bool, str | None]:
    """Whether ``body`` is a JSON-RPC ``initialize`` request, and its ``clientInfo.name``."""
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return False, None
    if not isinstance(message, dict) or message.get("method") != "initialize":
        return False, None
    params = message.get("params")
    info = params.get("clientInfo") if isinstance(params, dict) else None
    name = info.get("name") if isinstance(info, dict) else None
    return True, name if isinstance(name, str) else None


class McpEndpoint:
    def __init__(
        self,
        *,
        manager: StreamableHTTPSessionManager,
        legacy_server: LegacyServer,
        verifier: TokenVerifier,
        membership: spaces.SpaceMembership,
        owners: SessionOwners,
        cors: CorsPolicy,
        challenge: Challenge,
        lifecycle: Lifecycle,
        local_mode: bool,
        max_body_bytes: int = MAX_BODY_BYTES,
        stateless_legacy: bool = False,
    ) -> None:
        self.manager = manager
        self._legacy = legacy_server
        self._verifier = verifier
        self._membership = membership
        self._owners = owners
        self._cors = cors
        self._challenge = challenge
        self._lifecycle = lifecycle
        self._local_mode = local_mode
        self._max_body = max_body_bytes
        self._stateless_legacy = stateless_legacy

    async def __call__(self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes]) -> None:
        # 2. Host (local mode only): protects the dev gateway from DNS rebinding.
        if self._local_mode and host_name(headers.get(b"host", b"")) not in LOCAL_HOSTS:
            return await r.send_error(send, 421, r.MISDIRECTED)
        # 3. Origin, when present.
        origin = headers.get(b"origin")
        if origin is not None and not self._cors.allows(origin):
            return await r.send_error(send, 403, r.ORIGIN_NOT_ALLOWED)
        # 4. Method.
        method = scope["method"]
        if method not in ("POST", "GET", "DELETE"):
            return await r.send_error(send, 405, r.METHOD_NOT_ALLOWED, MCP_ALLOW)
        if self._lifecycle.stopping:
            return await r.send_error(send, 503, r.SHUTTING_DOWN, RETRY_5)
        # 5. Authentication.
        token = bearer_token(headers.get(b"authorization"))
        if token is None:
            return await r.send_error(
                send, 401, MISSING_HEADER, [(b"www-authenticate", self._challenge.no_token())]
            )
        try:
            verified = await self._verifier.verify(token)
        except InvalidToken as exc:
            challenge = self._challenge.invalid_token(exc.description)
            return await r.send_error(send, 401, exc.message, [(b"www-authenticate", challenge)])
        except VerificationUnavailable:
            return await r.send_error(send, 503, r.VERIFICATION_UNAVAILABLE, RETRY_5)
        # 6. X-Mana-Space: required on POST, checked when sent on GET and DELETE.
        raw_space = headers.get(b"x-mana-space")
        space_id: str | None = None
        if method == "POST" or raw_space is not None:
            problem = spaces.space_header_error(raw_space)
            if problem is not None:
                return await r.send_error(send, 400, problem)
            assert raw_space is not None
            space_id = raw_space.decode("ascii")
            # 7. Membership.
            try:
                member = await self._membership.is_member(verified.caller, space_id)
            except UpstreamFailure:
                return await r.send_error(send, 503, spaces.UNAVAILABLE, RETRY_5)
            if not member:
                return await r.send_error(send, 403, spaces.NOT_A_MEMBER)
        # Body: bounded, read once, replayed to the SDK.
        body = b""
        if method == "POST":
            length = headers.get(b"content-length")
            try:
                if length is not None and length.isdigit() and int(length) > self._max_body:
                    raise BodyTooLarge
                body = await read_body(receive, self._max_body)
            except BodyTooLarge:
                return await self._too_large(receive, send)
            except ClientGone:
                return None
            if body[:1] == b"[" or body.lstrip()[:1] == b"[":
                return await r.send_body(send, 400, BATCH_REJECTED, [], b"application/json")
            receive = replaying(body, receive)
        # 8., 9. Era routing, ownership and caps (legacy era only; the modern era is sessionless).
        version = headers.get(b"mcp-protocol-version")
        legacy = version is None or version in _LEGACY_VERSIONS
        if legacy and self._stateless_legacy and method == "GET":
            # A stateless SDK would open an SSE stream that never carries anything and never ends.
            return await r.send_error(send, 405, r.METHOD_NOT_ALLOWED, POST_ONLY)
        raw_sid = headers.get(b"mcp-session-id") if legacy else None
        session_id = raw_sid.decode("latin-1") if raw_sid is not None else None
        sessions = legacy and not self._stateless_legacy
        entry: SessionEntry | None = None
        opening = False
        client_name: str | None = None
        if session_id is not None:
            entry = self._owners.lookup(session_id)
            if entry is not None and entry.owner != verified.subject:
                return await r.send_error(send, 403, r.FOREIGN_SESSION)
            if sessions and not _same_principal(entry, verified):
                # Unknown, expired or deleted; or opened with a token of this user from another
                # issuer or client, to which the session looks absent (as the SDK's binding did).
                return await r.send_body(send, 404, SESSION_NOT_FOUND, [], b"application/json")
            if entry is not None:
                client_name = entry.client_name
        elif sessions and method == "POST":
            opening, client_name = initialize_client(body)
            if opening:
                full = self._owners.reserve(verified.subject)
                if full == "user":
                    return await r.send_error(send, 429, r.TOO_MANY_SESSIONS, RETRY_60)
                if full == "total":
                    return await r.send_error(send, 503, r.GATEWAY_FULL, RETRY_60)
        # 10. Hand over to the SDK.
        if sessions:
            await self._serve_session(
                scope, receive, send, body, verified, space_id, session_id, entry, opening, client_name
            )
        else:
            await self._serve(scope, receive, send, verified, space_id, session_id, client_name)
        return None

    async def _too_large(self, receive: Receive, send: Send) -> None:
        """413 once the client has stopped sending (up to a bound), so it is there to read it.

        A client blocked writing a body nobody reads never sees an early answer; beyond the bound
        the connection is closed instead of drained.
        """
        drained = 0
        while drained <= DRAIN_LIMIT_BYTES:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        await r.send_error(send, 413, r.BODY_TOO_LARGE, [(b"connection", b"close")])

    def _context(
        self, verified: VerifiedToken, space_id: str | None, session_id: str | None, client_name: str | None
    ) -> McpRequest:
        return McpRequest(
            token=verified,
            space_id=space_id,
            request_id=request_id_var.get() or "-",
            session_id=session_id,
            session_client_name=client_name,
        )

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        verified: VerifiedToken,
        space_id: str | None,
        session_id: str | None,
        client_name: str | None,
    ) -> None:
        """The modern era, and the legacy era in stateless mode: the SDK's session manager."""
        reset = current_mcp_request.set(self._context(verified, space_id, session_id, client_name))
        try:
            await self.manager.handle_request(scope, receive, sanitising(send))
        finally:
            current_mcp_request.reset(reset)

    async def _serve_session(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        body: bytes,
        verified: VerifiedToken,
        space_id: str | None,
        session_id: str | None,
        entry: SessionEntry | None,
        opening: bool,
        client_name: str | None,
    ) -> None:
        """A legacy-era request: on a transport of its own that carries the session's id.

        Without an id the transport gets a fresh one, as the SDK mints for every request that
        comes without: an ``initialize`` that succeeds under it opens the session, and anything
        else is answered 400 by the transport itself.
        """
        sid = session_id if session_id is not None else uuid.uuid4().hex
        method = scope["method"]
        reinitialize = False  # an initialize on the open session, as LegacyServer.answer parsed it
        inner = sanitising(send)
        held: Message | None = None
        answer = b""
        ended: SessionEntry | None = None
        reserved = opening
        started: anyio.Event | None = None  # set when this request's GET stream begins its answer

        async def watch(message: Message) -> None:
            # The owner map changes before the client can see the answer, so its next request
            # finds the session it was just given (or no longer finds the one it deleted).
            nonlocal held, answer, ended, reserved
            if message["type"] == "http.response.start":
                status = message["status"]
                if started is not None:
                    started.set()
                if (opening or reinitialize) and 0 < status < 400:
                    held = message
                    return
                if session_id is not None and method == "DELETE" and status == 200:
                    ended = self._owners.remove(session_id)
            elif held is not None:
                answer += message.get("body", b"")
                if message.get("more_body", False):
                    return
                if self._opened(answer, sid, body, entry if reinitialize else None, verified, client_name):
                    reserved = False
                await inner(held)
                held = None
                message = {**message, "body": answer}
            await inner(message)

        reset = current_mcp_request.set(self._context(verified, space_id, session_id, client_name))
        stream = entry.stream if entry is not None and method == "GET" else None
        if entry is not None:
            self._owners.begin(entry)
        try:
            if stream is not None:
                # The open stream's own transport answers a second GET (406, or 409), once it is
                # connected and holds the stream (a GET sent with the first would find neither).
                if entry is not None and entry.stream_started is not None:
                    await entry.stream_started.wait()
                await stream.handle_request(scope, receive, watch)
            elif entry is not None and method != "GET":
                requests = entry.requests if entry.requests is not None else {}
                entry.requests = requests
                try:
                    outcome = await self._legacy.answer(
                        sid, entry.protocol_version, body, scope, receive, watch, requests
                    )
                finally:
                    if not requests:
                        entry.requests = None
                if outcome is not Outcome.ANSWERED:
                    # ``watch`` renews the session from the transport's answer to an initialize.
                    reinitialize = outcome is Outcome.INITIALIZE
                    await self._legacy.serve(
                        self._legacy.transport(sid), entry.protocol_version, scope, receive, watch
                    )
            else:
                transport = self._legacy.transport(sid)
                if entry is not None and method == "GET":
                    started = anyio.Event()
                    entry.stream, entry.stream_started = transport, started
                try:
                    version = entry.protocol_version if entry is not None else None
                    await self._legacy.serve(transport, version, scope, receive, watch)
                finally:
                    if started is not None:
                        started.set()
                    if entry is not None and entry.stream is transport:
                        entry.stream = entry.stream_started = None
        finally:
            current_mcp_request.reset(reset)
            if entry is not None:
                self._owners.end(entry)
            if reserved:
                self._owners.release(verified.subject)
        if ended is not None and ended.stream is not None:
            with anyio.CancelScope(shield=True):
                await ended.stream.terminate()

    def _opened(
        self,
        answer: bytes,
        sid: str,
        body: bytes,
        entry: SessionEntry | None,
        verified: VerifiedToken,
        client_name: str | None,
    ) -> bool:
        """A successful ``initialize`` opens the session (True: its reserved slot is taken up), or,
        sent on an open one, renews what it negotiated, as the SDK's session would."""
        version = negotiated_version(answer)
        if version is None:
            return False
        if entry is not None:
            entry.protocol_version = version
            entry.client_name = initialize_client(body)[1]
            return False
        self._owners.release(verified.subject)
        self._owners.add(
            sid,
            verified.subject,
            client_name,
            protocol_version=version,
            issuer=verified.issuer,
            authorized_party=verified.authorized_party,
        )
        return True


def _same_principal(entry: SessionEntry | None, verified: VerifiedToken) -> bool:
    return (
        entry is not None
        and entry.issuer == verified.issuer
        and (entry.authorized_party or "") == (verified.authorized_party or "")
    )


def sanitising(send: Send) -> Send:
    """``send`` with the SDK's 400s held back until their body shows whether to rewrite them."""
    held: Message | None = None

    async def watch(message: Message) -> None:
        nonlocal held
        if message["type"] == "http.response.start" and message["status"] == 400:
            held = message
            return
        if held is not None and message["type"] == "http.response.body":
            start, held = held, None
            await send_sanitised_400(send, start, message)
            return
        await send(message)

    return watch
