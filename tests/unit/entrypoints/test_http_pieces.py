"""The small pure pieces of the HTTP edge: bearer parsing, challenges, CORS headers, request ids."""

import pytest

from mana.entrypoints.http.auth import Challenge, bearer_token
from mana.entrypoints.http.cors import CorsPolicy
from mana.entrypoints.http.edge import request_id
from mana.entrypoints.http.mcp_asgi import host_name, initialize_client
from mana.entrypoints.http.spaces import MALFORMED, MISSING, space_header_error


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (b"Bearer abc.def.ghi", "abc.def.ghi"),
        (b"bearer   abc", "abc"),
        (b"BEARER x", "x"),
        (None, None),
        (b"", None),
        (b"Bearer ", None),
        (b"Bearer    ", None),
        (b"Basic abc", None),
        (b"Bearerabc", None),
        (b"Bearer a b", None),
        (b"Bearer " + b"a" * 8192, "a" * 8192),
        (b"Bearer " + b"a" * 8193, None),
        ("Bearer tökén".encode(), None),
    ],
)
def test_bearer_token(header: bytes | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_challenges_carry_resource_metadata_only_when_configured() -> None:
    plain = Challenge(None)
    assert plain.no_token() == b'Bearer realm="mana-mcp"'
    assert plain.invalid_token("token expired") == (
        b'Bearer realm="mana-mcp", error="invalid_token", error_description="token expired"'
    )
    with_prm = Challenge("https://mcp.example.org/.well-known/oauth-protected-resource/mcp")
    suffix = b', resource_metadata="https://mcp.example.org/.well-known/oauth-protected-resource/mcp"'
    assert with_prm.no_token() == b'Bearer realm="mana-mcp"' + suffix
    assert with_prm.invalid_token('bad "x"').endswith(b'error_description="bad \\"x\\""' + suffix)


def test_cors_preflight_and_response_headers() -> None:
    cors = CorsPolicy(["https://app.example.org", "null"])
    good = b"https://app.example.org"
    pre = dict(cors.preflight_headers(good))
    assert pre[b"access-control-allow-origin"] == good
    assert pre[b"access-control-allow-credentials"] == b"true"
    assert pre[b"access-control-allow-methods"] == b"GET, POST, DELETE, OPTIONS"
    assert b"mcp-session-id" in pre[b"access-control-allow-headers"]
    assert b"last-event-id" in pre[b"access-control-allow-headers"]
    assert pre[b"access-control-max-age"] == b"600"
    assert pre[b"vary"] == b"Origin"
    actual = dict(cors.response_headers(good))
    assert actual[b"access-control-expose-headers"] == b"Mcp-Session-Id, WWW-Authenticate, X-Request-Id"
    for loopback in (
        b"http://localhost:6274",
        b"http://127.0.0.1",
        b"http://[::1]:5173",
        b"https://localhost:8443",
    ):
        assert cors.allows(loopback)
        assert dict(cors.preflight_headers(loopback))[b"access-control-allow-origin"] == loopback
    evil = (
        b"https://evil.example",
        b"null",
        b"https://app.example.org:443",
        b"http://localhost.evil.example",
    )
    for origin in (*evil, b"http://localhost:5173.evil.example", b"http://127.0.0.1:80/x", None):
        assert cors.preflight_headers(origin) == [(b"vary", b"Origin")]
        assert cors.response_headers(origin) == [(b"vary", b"Origin")]
        assert origin is None or not cors.allows(origin)


def test_request_id_is_kept_when_safe_else_fresh() -> None:
    assert request_id(b"abc-123_x.y") == "abc-123_x.y"
    assert request_id(b"a" * 64) == "a" * 64
    for bad in (None, b"", b"a" * 65, b"has space", b"semi;colon", "é".encode()):
        fresh = request_id(bad)
        assert len(fresh) == 16
        assert int(fresh, 16) >= 0
    assert request_id(None) != request_id(None)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (None, MISSING),
        (b"", MISSING),
        (b"space-1", None),
        (b"_personal:abc", None),
        (b"a" * 200, None),
        (b"a" * 201, MALFORMED),
        (b"has space", MALFORMED),
        ("é".encode(), MALFORMED),
        (b"tab\t", MALFORMED),
    ],
)
def test_space_header(value: bytes | None, error: str | None) -> None:
    assert space_header_error(value) == error


@pytest.mark.parametrize(
    ("host", "name"),
    [
        (b"localhost", b"localhost"),
        (b"localhost:3069", b"localhost"),
        (b"127.0.0.1:80", b"127.0.0.1"),
        (b"[::1]:3069", b"[::1]"),
        (b"[::1]", b"[::1]"),
        (b"evil.example:3069", b"evil.example"),
    ],
)
def test_host_name(host: bytes, name: bytes) -> None:
    assert host_name(host) == name


def test_initialize_detection() -> None:
    body = b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"clientInfo":{"name":"Claude Code"}}}'
    assert initialize_client(body) == (True, "Claude Code")
    assert initialize_client(b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}') == (True, None)
    assert initialize_client(b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}') == (False, None)
    assert initialize_client(b"[1, 2]") == (False, None)
    assert initialize_client(b"not json") == (False, None)
