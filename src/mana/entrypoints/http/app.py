"""The Quart app factory: ``/health``, ``/ready``, ``/metrics``, the protected-resource metadata, and
``/mcp`` through the edge wrapper. One fresh SDK session manager per app (its ``run()`` works once);
it serves the modern era and, in stateless mode, the legacy one. Legacy sessions are the owner
map's, each request of one served on a transport of its own (:mod:`legacy`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import attrs
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from quart import Quart, Response
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from mana.application.invocation import ToolService
from mana.application.ports import TokenVerifier
from mana.entrypoints.config import Settings
from mana.entrypoints.http import responses as r
from mana.entrypoints.http.auth import Challenge
from mana.entrypoints.http.cors import CorsPolicy
from mana.entrypoints.http.edge import Edge
from mana.entrypoints.http.legacy import LegacyServer
from mana.entrypoints.http.lifecycle import Lifecycle
from mana.entrypoints.http.mcp_asgi import McpEndpoint
from mana.entrypoints.http.metrics import CONTENT_TYPE, GatewayMetrics
from mana.entrypoints.http.readiness import Check, Readiness
from mana.entrypoints.http.sessions import SessionOwners
from mana.entrypoints.http.spaces import SpaceMembership
from mana.entrypoints.mcp_server import build_mcp_server

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None] | None]
JSON = "application/json"


@attrs.define
class Gateway:
    """Everything the HTTP layer needs, assembled by the container."""

    settings: Settings
    tools: ToolService
    verifier: TokenVerifier
    membership: SpaceMembership
    readiness_checks: Mapping[str, Check]
    metrics: GatewayMetrics
    owners: SessionOwners
    version: str
    lifecycle: Lifecycle = attrs.Factory(Lifecycle)
    startup: Sequence[Hook] = ()
    shutdown: Sequence[Hook] = ()


def health_body(gateway: Gateway) -> bytes:
    return json.dumps(
        {
            "status": "ok",
            "service": "mana-mcp",
            "version": gateway.version,
            "tools": len(gateway.tools.published_tools()),
            "mode": gateway.settings.mode,
        },
        separators=(",", ":"),
    ).encode()


def resource_metadata_body(settings: Settings) -> bytes:
    """RFC 9728 document, written by hand so issuer URLs stay byte-exact (gateway-http.md §3.3)."""
    return json.dumps(
        {
            "resource": settings.mcp_url,
            "authorization_servers": list(settings.authorization_servers),
            "bearer_methods_supported": ["header"],
            "resource_name": "Mana",
        },
        separators=(",", ":"),
    ).encode()


NO_REBINDING_CHECK = TransportSecuritySettings(enable_dns_rebinding_protection=False)
"""The gateway checks Origin and (local mode) Host itself, before authentication."""


def new_manager(server: Any) -> StreamableHTTPSessionManager:
    """The SDK's manager for what it serves itself: the modern era (which it routes before looking
    at ``stateless``) and, in ``MANA_LEGACY_SESSIONS=stateless`` mode, the legacy era. Stateless,
    so it never opens a session of its own: legacy sessions are the owner map's."""
    return StreamableHTTPSessionManager(
        app=server, json_response=True, stateless=True, security_settings=NO_REBINDING_CHECK
    )


def create_app(gateway: Gateway) -> Quart:
    settings = gateway.settings
    app = Quart("mana-mcp")
    app.config["MAX_CONTENT_LENGTH"] = 4 * 1024 * 1024
    stateless = settings.legacy_sessions == "stateless"
    server = build_mcp_server(gateway.tools, gateway.version)
    manager = new_manager(server)
    legacy_server = LegacyServer(server, NO_REBINDING_CHECK)
    cors = CorsPolicy(settings.allowed_origins)
    endpoint = McpEndpoint(
        manager=manager,
        legacy_server=legacy_server,
        verifier=gateway.verifier,
        membership=gateway.membership,
        owners=gateway.owners,
        cors=cors,
        challenge=Challenge(settings.resource_metadata_url),
        lifecycle=gateway.lifecycle,
        local_mode=settings.mode == "local",
        stateless_legacy=stateless,
    )
    readiness = Readiness(gateway.readiness_checks, lifecycle=gateway.lifecycle)
    health = health_body(gateway)

    @app.get("/health")
    async def _health() -> Response:
        return Response(health, 200, content_type=JSON)

    @app.get("/ready")
    async def _ready() -> Response:
        status, body = await readiness.verdict()
        return Response(body, status, content_type=JSON)

    @app.get("/metrics")
    async def _metrics() -> Response:
        return Response(gateway.metrics.render(), 200, content_type=CONTENT_TYPE)

    if settings.authorization_servers:
        metadata = resource_metadata_body(settings)

        async def _resource_metadata() -> Response:
            response = Response(metadata, 200, content_type=JSON)
            response.headers["Cache-Control"] = "public, max-age=3600"
            return response

        app.add_url_rule(
            "/.well-known/oauth-protected-resource/mcp", "prm", _resource_metadata, methods=["GET"]
        )
        app.add_url_rule(
            "/.well-known/oauth-protected-resource", "prm_root", _resource_metadata, methods=["GET"]
        )

    @app.errorhandler(HTTPException)
    async def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status == 404:
            message = r.NOT_FOUND
        elif status == 405:
            message = r.METHOD_NOT_ALLOWED
        elif status == 413:
            message = r.BODY_TOO_LARGE
        elif status < 500:
            message = exc.name
        else:
            message = r.INTERNAL_ERROR
        response = Response(r.error_body(message), status, content_type=JSON)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        return response

    @app.errorhandler(Exception)
    async def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error in route")
        return Response(r.error_body(r.INTERNAL_ERROR), 500, content_type=JSON)

    @app.while_serving  # type: ignore[type-var]
    async def _serving() -> AsyncIterator[None]:
        for hook in gateway.startup:
            await _run_hook(hook)
        async with manager.run(), legacy_server.run():
            sweeper = asyncio.create_task(_sweep(gateway.owners))
            try:
                yield
            finally:
                gateway.lifecycle.begin_shutdown()
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
                for stream in gateway.owners.open_streams():
                    await stream.terminate()
        for hook in gateway.shutdown:
            try:
                await _run_hook(hook)
            except Exception:
                log.exception("shutdown hook failed")

    app.asgi_app = Edge(app.asgi_app, endpoint, cors)  # type: ignore[method-assign,assignment,arg-type]
    return app


async def _run_hook(hook: Hook) -> None:
    """Hooks are sync (closing SQLite) or async (closing httpx, prefetching the JWKS)."""
    result = hook()
    if inspect.isawaitable(result):
        await result


async def _sweep(owners: SessionOwners) -> None:
    while True:
        await asyncio.sleep(owners.sweep_interval_s)
        removed = owners.sweep()
        if removed:
            log.info("swept idle sessions", extra={"removed": removed, "open": len(owners)})
