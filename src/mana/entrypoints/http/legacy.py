"""Legacy-era (2025-11-25) requests served on one SDK transport per request; the session is ours.

The SDK's stateful session manager keeps, per session, a transport, its memory streams and a task
running the server loop with its dispatcher and connection: about 40 KiB for a session that sits
idle. Here a session is only the owner map's entry (:mod:`sessions`), and each request gets a
fresh ``StreamableHTTPServerTransport`` that carries the session's id, so the SDK still does all
the HTTP of the era itself (Accept and Content-Type checks, parsing, a missing id → 400, 202 for
notifications, ``Mcp-Session-Id`` on every answer, DELETE → 200, the GET stream and its 409).
The server side of each request is what the stateful session would have run: the same dispatcher
recipe, on a connection that speaks the session's negotiated protocol version.

A transport and its dispatcher loop cost about 300 µs of CPU per request (tasks, task groups,
memory streams). So what an open session mostly sends (a well-formed JSON-RPC request other than
``initialize``, a notification or a client's response, a DELETE) is answered by
:meth:`LegacyServer.answer` directly: the same checks in the same order, the same server kernel
(``serve_one`` / ``on_notify``), the same error mapping and the same response the transport would
write. Anything else (``initialize``, the GET stream, whatever the transport would refuse) goes
to the transport.
"""

from __future__ import annotations

import contextlib
import enum
import logging
from collections.abc import AsyncIterator, Mapping, MutableMapping
from typing import Any

import anyio
import attrs
import pydantic_core
from anyio.abc import TaskStatus
from mcp.server.connection import Connection
from mcp.server.runner import ServerRunner, aclose_shielded, serve_connection, serve_one
from mcp.server.streamable_http import (
    MCP_SESSION_ID_HEADER,
    StreamableHTTPServerTransport,
    check_accept_headers,
)
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp.shared.dispatcher import CallOptions, coerce_request_id
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.jsonrpc_dispatcher import (
    JSONRPCDispatcher,
    cancelled_request_id_from_params,
    handler_exception_to_error_data,
)
from mcp.shared.message import ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types import (
    ErrorData,
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    RequestId,
    jsonrpc_message_adapter,
)
from mcp_types.version import LATEST_HANDSHAKE_VERSION
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)

SESSION_NOT_FOUND = b'{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Session not found"}}'
"""The SDK's stateful manager's answer to a session id it does not know (a test compares them);
the gateway gives it for an unknown, expired or deleted id, and to a token of another issuer or
client of the session's user."""

_INLINE = frozenset({"initialize"})
REQUEST_CANCELLED = -32800
"""What the era's transport answers for a request the client cancelled (``notifications/cancelled``)."""
_JSON_REQUEST_CONTEXT = TransportContext(kind="jsonrpc", can_send_request=False)
"""What the dispatcher builds for a JSON-response-mode message (its default transport builder)."""


@attrs.define(slots=True)
class OneExchange:
    """The dispatch context of one request answered with one JSON body: like the dispatcher's in
    JSON-response mode, it has no back-channel, and notifications and progress have no wire."""

    request_id: RequestId | None
    message_metadata: ServerMessageMetadata
    transport: TransportContext = _JSON_REQUEST_CONTEXT
    cancel_requested: anyio.Event = attrs.Factory(anyio.Event)

    @property
    def can_send_request(self) -> bool:
        return False

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        raise NoBackChannelError(method)

    async def notify(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> None:
        return None

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        return None


class Outcome(enum.Enum):
    """What :meth:`LegacyServer.answer` did with a request."""

    ANSWERED = "answered"
    TRANSPORT = "transport"
    """Nothing sent: the transport answers it."""
    INITIALIZE = "initialize"
    """Nothing sent: an ``initialize`` by its parsed method (however its bytes spell it), which the
    transport answers; a successful answer renews what the session negotiated."""


InFlight = MutableMapping[RequestId, tuple[anyio.CancelScope, OneExchange]]
"""A session's requests being answered directly, by (coerced) JSON-RPC id, so that the session's
``notifications/cancelled`` can reach them as it reached the SDK session's dispatcher."""


def _json_content_type(request: Request) -> bool:
    """The transport's own Content-Type test."""
    content_type = request.headers.get("content-type", "")
    return any(part.strip() == "application/json" for part in content_type.split(";")[0].split(","))


class LegacyServer:
    """Runs the shared MCP ``Server`` for one legacy request at a time, on a transport of its own.

    :meth:`run` enters the server's lifespan once, for the app's whole serving life (the SDK's
    manager does the same for its sessions).
    """

    def __init__(self, server: Any, security_settings: TransportSecuritySettings | None) -> None:
        self._server = server
        self._security = security_settings
        self._checks = TransportSecurityMiddleware(security_settings)
        self._lifespan_state: Any = None

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        async with self._server.lifespan(self._server) as state:
            self._lifespan_state = state
            try:
                yield
            finally:
                self._lifespan_state = None

    def transport(self, session_id: str) -> StreamableHTTPServerTransport:
        return StreamableHTTPServerTransport(
            mcp_session_id=session_id,
            is_json_response_enabled=True,
            event_store=None,
            security_settings=self._security,
        )

    async def serve(
        self,
        transport: StreamableHTTPServerTransport,
        protocol_version: str | None,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Answer one request on ``transport``; the server speaks ``protocol_version`` (the
        session's negotiated one; ``None`` before ``initialize``, as a fresh SDK session does)."""
        version = protocol_version or LATEST_HANDSHAKE_VERSION

        async def run_server(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            async with transport.connect() as (read_stream, write_stream):
                task_status.started()
                dispatcher: JSONRPCDispatcher[TransportContext] = JSONRPCDispatcher(
                    read_stream, write_stream, inline_methods=_INLINE
                )
                connection = Connection.from_envelope(version, None, None)
                connection.session_id = transport.mcp_session_id
                await serve_connection(
                    self._server, dispatcher, connection=connection, lifespan_state=self._lifespan_state
                )

        async with anyio.create_task_group() as tg:
            await tg.start(run_server)
            try:
                await transport.handle_request(scope, receive, send)
            finally:
                # The server task ends once its streams close.
                with anyio.CancelScope(shield=True):
                    await transport.terminate()

    async def answer(
        self,
        session_id: str,
        protocol_version: str | None,
        body: bytes,
        scope: Scope,
        receive: Receive,
        send: Send,
        in_flight: InFlight,
    ) -> Outcome:
        """Answer a request on an open session the way its transport would: a DELETE, or a POST of
        one JSON-RPC message other than ``initialize``. Anything else is left to the transport,
        with nothing sent. ``in_flight`` is the session's."""
        request = Request(scope, receive)
        is_post = scope["method"] == "POST"
        if await self._checks.validate_request(request, is_post=is_post) is not None:
            return Outcome.TRANSPORT
        if scope["method"] == "DELETE":
            await self._respond(None, 200, session_id, scope, receive, send)
            return Outcome.ANSWERED
        if not is_post:
            return Outcome.TRANSPORT
        if not check_accept_headers(request)[0] or not _json_content_type(request):
            return Outcome.TRANSPORT
        try:
            message = jsonrpc_message_adapter.validate_python(pydantic_core.from_json(body), by_name=False)
        except (ValueError, ValidationError):
            return Outcome.TRANSPORT
        if isinstance(message, JSONRPCRequest) and message.method == "initialize":
            return Outcome.INITIALIZE
        metadata = ServerMessageMetadata(request_context=request, can_send_request=False)
        connection = Connection.from_envelope(protocol_version or LATEST_HANDSHAKE_VERSION, None, None)
        connection.session_id = session_id
        if not isinstance(message, JSONRPCRequest):
            # Accepted first, then handled (a client's response has no request of this exchange
            # to settle; the dispatcher drops it).
            await self._respond(None, 202, session_id, scope, receive, send)
            if isinstance(message, JSONRPCNotification):
                if message.method == "notifications/cancelled":
                    _cancel(in_flight, cancelled_request_id_from_params(message.params))
                runner = ServerRunner(self._server, connection, self._lifespan_state)
                try:
                    await runner.on_notify(OneExchange(None, metadata), message.method, message.params)
                finally:
                    await aclose_shielded(connection)
            return Outcome.ANSWERED
        dctx = OneExchange(message.id, metadata)
        cancel_scope = anyio.CancelScope()
        key = coerce_request_id(message.id)
        in_flight[key] = (cancel_scope, dctx)
        reply: JSONRPCResponse | JSONRPCError | None = None
        try:
            with cancel_scope:
                result = await serve_one(
                    self._server,
                    dctx,
                    message.method,
                    message.params,
                    connection=connection,
                    lifespan_state=self._lifespan_state,
                )
                reply = JSONRPCResponse(jsonrpc="2.0", id=message.id, result=result)
        except Exception as exc:
            error = handler_exception_to_error_data(exc)
            if error is None:
                # The dispatcher's catch-all on this era (code 0, the exception's text).
                log.exception("handler for %r raised", message.method)
                error = ErrorData(code=0, message=str(exc))
            reply = JSONRPCError(jsonrpc="2.0", id=message.id, error=error)
        finally:
            current = in_flight.get(key)
            if current is not None and current[1] is dctx:
                del in_flight[key]
        if reply is None or dctx.cancel_requested.is_set():
            # Cancelled: whatever the handler did is not sent; the era's wire still ends the request.
            reply = JSONRPCError(
                jsonrpc="2.0",
                id=message.id,
                error=ErrorData(code=REQUEST_CANCELLED, message="Request cancelled"),
            )
        await self._respond(reply, 200, session_id, scope, receive, send)
        return Outcome.ANSWERED

    @staticmethod
    async def _respond(
        reply: JSONRPCResponse | JSONRPCError | None,
        status: int,
        session_id: str,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """The transport's JSON answer (its ``_create_json_response``)."""
        response = Response(
            reply.model_dump_json(by_alias=True, exclude_unset=True) if reply is not None else None,
            status_code=status,
            headers={"Content-Type": "application/json", MCP_SESSION_ID_HEADER: session_id},
        )
        await response(scope, receive, send)


def _cancel(in_flight: InFlight, request_id: RequestId | None) -> None:
    """The dispatcher's handling of ``notifications/cancelled`` (interrupt mode)."""
    hit = in_flight.get(coerce_request_id(request_id)) if request_id is not None else None
    if hit is not None:
        hit[1].cancel_requested.set()
        hit[0].cancel()
