"""CORS and the Origin allow-list (gateway-http.md §8), as precomputed ASGI header lists.

Origins are compared exactly (scheme, host, port) with the configured list. Loopback origins
(``localhost``, ``127.0.0.1``, ``[::1]``, any port) are allowed as well (issue #4: "CORS_ORIGINS plus
localhost"): a DNS-rebinding page always carries its own, non-loopback origin, while local tools
(the web app's dev server, MCP inspectors) run on loopback. The literal ``null`` is never allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

Headers = list[tuple[bytes, bytes]]

ALLOW_METHODS = b"GET, POST, DELETE, OPTIONS"
ALLOW_HEADERS = (
    b"authorization, content-type, accept, x-mana-space, mcp-session-id, mcp-protocol-version, "
    b"mcp-method, mcp-name, last-event-id, x-request-id"
)
EXPOSE_HEADERS = b"Mcp-Session-Id, WWW-Authenticate, X-Request-Id"
MAX_AGE = b"600"
_VARY = (b"vary", b"Origin")
_LOOPBACK_ORIGIN = re.compile(rb"https?://(?:localhost|127\.0\.0\.1|\[::1\])(?::[0-9]{1,5})?")


class CorsPolicy:
    def __init__(self, allowed_origins: Iterable[str]) -> None:
        self._allowed = frozenset(o.encode("latin-1") for o in allowed_origins if o != "null")

    def allows(self, origin: bytes) -> bool:
        return origin in self._allowed or _LOOPBACK_ORIGIN.fullmatch(origin) is not None

    def preflight_headers(self, origin: bytes | None) -> Headers:
        """Headers of the 204 answer to ``OPTIONS``; a disallowed origin gets no ``Access-Control-*``."""
        if origin is None or not self.allows(origin):
            return [_VARY]
        return [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-allow-methods", ALLOW_METHODS),
            (b"access-control-allow-headers", ALLOW_HEADERS),
            (b"access-control-max-age", MAX_AGE),
            _VARY,
        ]

    def response_headers(self, origin: bytes | None) -> Headers:
        """Headers added to every actual response (any route)."""
        if origin is None or not self.allows(origin):
            return [_VARY]
        return [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-expose-headers", EXPOSE_HEADERS),
            _VARY,
        ]
