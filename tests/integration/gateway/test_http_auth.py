"""Authentication of /mcp over raw HTTP (gateway-http.md §4): every 401, the challenge, the 503s, PRM."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mana.adapters.local_issuer import LocalTokenIssuer

from .support import ALICE, ALICE_HOME, RunningGateway, gateway, initialize

PLAIN = 'Bearer realm="mana-mcp"'


def issuer_like(gw: RunningGateway, **overrides: object) -> LocalTokenIssuer:
    """Another issuer on the gateway's own signing key (same kid), e.g. with another clock or audience."""
    settings = gw.container.settings()
    return LocalTokenIssuer(
        settings.data_dir,
        str(overrides.get("issuer", settings.local_issuer)),
        str(overrides.get("audience", settings.jwt_audience)),
        now=overrides.get("now", time.time),  # type: ignore[arg-type]
    )


def sign(gw: RunningGateway, claims: dict[str, object], header: dict[str, object] | None = None) -> str:
    """A token signed with the gateway's dev key and arbitrary claims."""
    issuer = gw.container.adapters.issuer()
    return jwt.encode(claims, issuer._key, algorithm="EdDSA", headers={"kid": issuer.kid, **(header or {})})


async def post(gw: RunningGateway, http: httpx.AsyncClient, authorization: str | None) -> httpx.Response:
    headers = {"X-Mana-Space": ALICE_HOME, "Accept": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    return await http.post("/mcp", json=initialize(), headers=headers)


def assert_401(
    response: httpx.Response, message: str, description: str | None, token: str | None = None
) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": message}
    challenge = response.headers["www-authenticate"]
    if description is None:
        assert challenge == PLAIN
    else:
        assert challenge == f'{PLAIN}, error="invalid_token", error_description="{description}"'
    if token:
        assert token not in response.text
        assert all(token not in value for value in response.headers.values())


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "Bearer " + "a" * 8193, "Token abc"],
)
async def test_missing_or_malformed_header(tmp_path: Path, authorization: str | None) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        response = await post(gw, http, authorization)
    assert_401(response, "Missing or malformed Authorization header", None)


async def test_the_scheme_is_case_insensitive_and_query_tokens_are_never_read(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        lower = await post(gw, http, f"bearer   {gw.tokens[ALICE]}")
        query = await http.post(
            f"/mcp?access_token={gw.tokens[ALICE]}", json=initialize(), headers={"X-Mana-Space": ALICE_HOME}
        )
    assert lower.status_code == 200
    assert_401(query, "Missing or malformed Authorization header", None)


async def test_each_token_check_has_its_message(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw, gw.http() as http:
        now = time.time()
        good = {"sub": ALICE, "aud": "mana", "exp": now + 600}
        stranger = Ed25519PrivateKey.generate()
        own_key = gw.container.adapters.issuer()._key
        alice = gw.tokens[ALICE]
        tampered = alice[:-4] + ("BBBB" if alice.endswith("AAAA") else "AAAA")
        hs256 = jwt.encode(good, "s" * 32, algorithm="HS256", headers={"kid": "k"})
        no_kid = jwt.encode(good, own_key, algorithm="EdDSA")
        foreign = jwt.encode(good, stranger, algorithm="EdDSA", headers={"kid": "not-ours"})
        expired = issuer_like(gw, now=lambda: now - 7200).issue(ALICE, 60)
        other_audience = issuer_like(gw, audience="other").issue(ALICE, 60)
        cases = [
            ("not-a-jwt", "Invalid token: malformed", "malformed token"),
            ("a.b.c", "Invalid token: malformed", "malformed token"),
            (hs256, "Invalid token: unsupported algorithm", "unsupported algorithm"),
            (no_kid, "Invalid token: missing kid", "missing kid"),
            (foreign, "Invalid token: unknown signing key", "unknown signing key"),
            (tampered, "Invalid token: bad signature", "bad signature"),
            (sign(gw, {"sub": ALICE, "aud": "mana"}), "Invalid token: missing exp", "missing exp"),
            (expired, "Invalid token: expired", "token expired"),
            (sign(gw, {**good, "nbf": now + 3600}), "Invalid token: not yet valid", "token not yet valid"),
            (other_audience, "Invalid token: wrong audience", "wrong audience"),
            (sign(gw, {"aud": "mana", "exp": now + 600}), "Invalid token: missing sub", "missing sub"),
            (sign(gw, {**good, "sub": ""}), "Invalid token: missing sub", "missing sub"),
        ]
        for token, message, description in cases:
            response = await post(gw, http, f"Bearer {token}")
            assert_401(response, message, description, token)
        within_leeway = issuer_like(gw, now=lambda: now - 60 * 60 - 10).issue(ALICE, 60)
        accepted = await post(gw, http, f"Bearer {within_leeway}")
        listed_audience = sign(gw, {**good, "aud": ["other", "mana"]})
        accepted_list = await post(gw, http, f"Bearer {listed_audience}")
    assert accepted.status_code == 200
    assert accepted_list.status_code == 200


async def test_issuer_is_checked_only_when_configured(tmp_path: Path) -> None:
    async with gateway(tmp_path, {"JWT_ISSUER": "https://auth.example.org"}) as gw, gw.http() as http:
        right = await post(gw, http, f"Bearer {gw.tokens[ALICE]}")
        wrong = issuer_like(gw, issuer="https://elsewhere.example").issue(ALICE, 60)
        refused = await post(gw, http, f"Bearer {wrong}")
    assert right.status_code == 200
    assert_401(refused, "Invalid token: wrong issuer", "wrong issuer", wrong)


async def test_authorization_servers_turn_on_resource_metadata(tmp_path: Path) -> None:
    env = {
        "MANA_AUTHORIZATION_SERVERS": "https://auth.example.org/",
        "MANA_PUBLIC_URL": "https://mcp.example.org",
    }
    async with gateway(tmp_path, env) as gw, gw.http() as http:
        missing = await post(gw, http, None)
        invalid = await post(gw, http, "Bearer x.y.z")
        documents = [
            await http.get("/.well-known/oauth-protected-resource/mcp"),
            await http.get("/.well-known/oauth-protected-resource"),
        ]
    metadata = 'resource_metadata="https://mcp.example.org/.well-known/oauth-protected-resource/mcp"'
    assert missing.headers["www-authenticate"] == f"{PLAIN}, {metadata}"
    assert invalid.headers["www-authenticate"].endswith(f", {metadata}")
    assert 'error="invalid_token"' in invalid.headers["www-authenticate"]
    for document in documents:
        assert document.status_code == 200
        assert document.headers["content-type"] == "application/json"
        assert document.headers["cache-control"] == "public, max-age=3600"
        assert document.json() == {
            "resource": "https://mcp.example.org/mcp",
            "authorization_servers": ["https://auth.example.org"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Mana",
        }


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_no_key_set_ever_fetched_is_503_not_401(tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    env = {"MANA_AUTH_URL": down, "MANA_SYNC_URL": down, "HOST": "127.0.0.1", "MANA_SERVICE_KEY": "sk"}
    async with gateway(tmp_path, env, profile="remote") as gw, gw.http() as http:
        claims = {"sub": ALICE, "aud": "mana", "exp": time.time() + 60}
        token = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "k1"})
        response = await post(gw, http, f"Bearer {token}")
        ready = await http.get("/ready")
        health = await http.get("/health")
    assert response.status_code == 503
    assert response.json() == {"error": "Token verification is temporarily unavailable"}
    assert response.headers["retry-after"] == "5"
    assert "www-authenticate" not in response.headers
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "not_ready",
        "checks": {
            "jwks": {"status": "fail", "error": "connection failed"},
            "sync": {"status": "fail", "error": "connection failed"},
        },
    }
    assert health.json()["mode"] == "remote"
