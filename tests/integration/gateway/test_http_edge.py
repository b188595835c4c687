"""Raw HTTP against the served gateway: routes, request ids, CORS, Host and Origin, limits, shutdown."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from dependency_injector import providers

from mana.application.ports import VerifiedToken
from mana.entrypoints.container import Container

from .support import gateway, initialize, modern_call

ALLOWED = "http://localhost:5173"
JSON = "application/json"


def assert_gateway_error(response: httpx.Response, status: int, message: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == JSON
    assert response.json() == {"error": message}


async def test_health_ready_and_metrics(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        health = await http.get("/health")
        ready = await http.get("/ready")
        body, headers = modern_call("spaces_list", {})
        called = await http.post("/mcp", json=body, headers=gw.headers(**headers))
        metrics = await http.get("/metrics")
    assert health.status_code == 200
    assert health.headers["content-type"] == JSON
    assert health.json() == {
        "status": "ok",
        "service": "mana-mcp",
        "version": "0.1.0",
        "tools": 11,
        "mode": "local",
    }
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"jwks": {"status": "ok"}, "sync": {"status": "ok"}}}
    assert called.status_code == 200
    assert metrics.status_code == 200
    assert metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = metrics.text
    assert 'mana_mcp_tool_invocations_total{outcome="success",tool="spaces.list"} 1.0' in text
    assert 'mana_mcp_tool_duration_seconds_bucket{le="0.005",outcome="success",tool="spaces.list"}' in text
    assert 'mana_mcp_policy_decisions_total{decision="allow",reason="clean"} 1.0' in text
    for series in (
        "mana_mcp_upstream_request_duration_seconds",
        "mana_mcp_sessions_open",
        "mana_mcp_master_key_cache_total",
        "process_cpu_seconds_total",
    ):
        assert f"# TYPE {series}" in text


async def test_unknown_paths_and_methods(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        missing = await http.get("/nope")
        slash = await http.post("/mcp/", json={})
        wrong = await http.post("/health")
        put = await http.put("/mcp", headers=gw.headers())
        prm = await http.get("/.well-known/oauth-protected-resource/mcp")
    assert_gateway_error(missing, 404, "Not found")
    assert_gateway_error(slash, 404, "Not found")
    assert_gateway_error(wrong, 405, "Method not allowed")
    assert "GET" in wrong.headers["allow"]
    assert_gateway_error(put, 405, "Method not allowed")
    assert put.headers["allow"] == "GET, POST, DELETE, OPTIONS"
    assert_gateway_error(prm, 404, "Not found")


async def test_request_ids(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        kept = await http.get("/health", headers={"X-Request-Id": "trace-42.a_b"})
        fresh = await http.get("/health", headers={"X-Request-Id": "bad id!"})
        too_long = await http.get("/nope", headers={"X-Request-Id": "a" * 65})
        on_mcp = await http.post("/mcp", json=initialize(), headers={"X-Request-Id": "mcp-1"})
        preflight = await http.options("/mcp", headers={"X-Request-Id": "pre-1"})
    assert kept.headers["x-request-id"] == "trace-42.a_b"
    for response in (fresh, too_long):
        assert re.fullmatch(r"[0-9a-f]{16}", response.headers["x-request-id"])
    assert fresh.headers["x-request-id"] != too_long.headers["x-request-id"]
    assert on_mcp.status_code == 401
    assert on_mcp.headers["x-request-id"] == "mcp-1"
    assert preflight.headers["x-request-id"] == "pre-1"


@pytest.mark.parametrize("path", ["/mcp", "/health", "/anything/else"])
async def test_preflight_is_204_for_any_path_without_auth(tmp_path: Path, path: str) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        allowed = await http.options(
            path, headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}
        )
        denied = await http.options(path, headers={"Origin": "https://evil.example"})
        bare = await http.options(path)
    assert allowed.status_code == 204
    assert allowed.content == b""
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert allowed.headers["access-control-allow-methods"] == "GET, POST, DELETE, OPTIONS"
    assert allowed.headers["access-control-allow-headers"] == (
        "authorization, content-type, accept, x-mana-space, mcp-session-id, mcp-protocol-version, "
        "mcp-method, mcp-name, last-event-id, x-request-id"
    )
    assert allowed.headers["access-control-max-age"] == "600"
    assert allowed.headers["vary"] == "Origin"
    for response in (denied, bare):
        assert response.status_code == 204
        assert not [h for h in response.headers if h.startswith("access-control-")]
        assert response.headers["vary"] == "Origin"


async def test_actual_responses_carry_cors_for_allowed_origins_only(tmp_path: Path) -> None:
    env = {"CORS_ORIGINS": f"{ALLOWED}, https://app.example.org"}
    async with gateway(tmp_path, env) as gw, gw.http() as http:
        health = await http.get("/health", headers={"Origin": "https://app.example.org"})
        unauthorized = await http.post("/mcp", json=initialize(), headers={"Origin": ALLOWED})
        session = await http.post("/mcp", json=initialize(), headers={**gw.headers(), "Origin": ALLOWED})
        other = await http.get("/health", headers={"Origin": "https://evil.example"})
        no_origin = await http.get("/health")
    assert health.headers["access-control-allow-origin"] == "https://app.example.org"
    for response in (health, unauthorized, session):
        assert response.headers["access-control-allow-credentials"] == "true"
        assert (
            response.headers["access-control-expose-headers"]
            == "Mcp-Session-Id, WWW-Authenticate, X-Request-Id"
        )
        assert response.headers["vary"] == "Origin"
    assert unauthorized.status_code == 401
    assert session.status_code == 200
    assert "mcp-session-id" in session.headers
    for response in (other, no_origin):
        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers
        assert response.headers["vary"] == "Origin"


async def test_origin_is_checked_before_authentication(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        for origin in ("https://evil.example", "null", "http://localhost:5173.evil.example"):
            response = await http.post("/mcp", json=initialize(), headers={"Origin": origin})
            assert_gateway_error(response, 403, "Origin not allowed")
            assert "www-authenticate" not in response.headers
        with_token = await http.post("/mcp", json=initialize(), headers={**gw.headers(), "Origin": "null"})
        own_origin = await http.post(
            "/mcp", json=initialize(), headers={**gw.headers(), "Origin": "http://localhost:3069"}
        )
        inspector = await http.post(
            "/mcp", json=initialize(), headers={**gw.headers(), "Origin": "http://127.0.0.1:6274"}
        )
    assert_gateway_error(with_token, 403, "Origin not allowed")
    assert own_origin.status_code == 200
    assert inspector.status_code == 200
    assert inspector.headers["access-control-allow-origin"] == "http://127.0.0.1:6274"


async def test_local_mode_rejects_foreign_hosts_before_anything_else(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        for host in ("evil.example", "evil.example:3069", "localhost.evil.example", "10.0.0.1"):
            response = await http.post(
                "/mcp", json=initialize(), headers={"Host": host, "Origin": "https://x.example"}
            )
            assert_gateway_error(response, 421, "Misdirected request")
        for host in ("localhost", "localhost:1234", "127.0.0.1:9", "[::1]:3069"):
            response = await http.post("/mcp", json=initialize(), headers={**gw.headers(), "Host": host})
            assert response.status_code == 200, host
        health = await http.get("/health", headers={"Host": "evil.example"})
    assert health.status_code == 200


async def test_body_limit(tmp_path: Path) -> None:
    big = b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"x":"' + b"a" * (4 * 1024 * 1024) + b'"}}'

    async def chunks() -> object:
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    async with gateway(tmp_path) as gw, gw.http() as http:
        declared = await http.post("/mcp", content=big, headers={**gw.headers(), "Content-Type": JSON})
        streamed = await http.post("/mcp", content=chunks(), headers={**gw.headers(), "Content-Type": JSON})  # type: ignore[arg-type]
        at_limit = await http.post(
            "/mcp",
            content=json.dumps(initialize()).encode().ljust(4 * 1024 * 1024),
            headers={**gw.headers(), "Content-Type": JSON},
        )
    assert_gateway_error(declared, 413, "Request body too large")
    assert_gateway_error(streamed, 413, "Request body too large")
    assert at_limit.status_code == 200


class ExplodingVerifier:
    """A TokenVerifier that fails unexpectedly, to reach the edge's last-resort 500."""

    async def verify(self, token: str) -> VerifiedToken:
        raise RuntimeError("secret internal detail")


def explode(container: Container) -> None:
    container.adapters.verifier.override(providers.Object(ExplodingVerifier()))


async def test_unexpected_failure_is_a_bare_500_with_details_only_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with gateway(tmp_path, configure=explode) as gw, gw.http() as http:
        response = await http.post(
            "/mcp", json=initialize(), headers={**gw.headers(), "X-Request-Id": "boom-1"}
        )
    assert_gateway_error(response, 500, "Internal error")
    assert response.headers["x-request-id"] == "boom-1"
    assert "secret" not in response.text
    assert any("secret internal detail" in (r.exc_text or "") or r.exc_info for r in caplog.records)


async def test_shutdown_answers_503(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        gw.container.lifecycle().begin_shutdown()
        mcp = await http.post("/mcp", json=initialize(), headers=gw.headers())
        ready = await http.get("/ready")
        health = await http.get("/health")
    assert_gateway_error(mcp, 503, "The gateway is shutting down; try again")
    assert mcp.headers["retry-after"] == "5"
    assert ready.status_code == 503
    assert ready.json() == {"status": "stopping", "checks": {}}
    assert health.status_code == 200
