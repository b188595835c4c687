"""Hostile requests against /mcp of the remote profile (issue #5, gateway-http.md §4-§8).

Every attack gets its exact status and body; afterwards no response and no captured log line holds
a token, a key, the service key, Bob's private data or a stack trace, and an honest call still works.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.integration.gateway.support import (
    ALICE,
    ALICE_HOME,
    BOB,
    BOB_HOME,
    FAMILY,
    LEGACY,
    initialize,
    modern_call,
    open_session,
    rpc,
)
from tests.integration.security.attack import DROP, Arena, arena, public_key_forms, unsigned

from mana.adapters.standins.jws import b64url, sign_eddsa, sign_hs256

CHALLENGE = 'Bearer realm="mana-mcp"'
MISSING = "Missing or malformed Authorization header"


def space_headers(token: str | None = None, space: str = ALICE_HOME) -> dict[str, Any]:
    headers: dict[str, Any] = {"Accept": "application/json, text/event-stream", "X-Mana-Space": space}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def assert_json_error(response: httpx.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": message}


def assert_rpc_error(response: httpx.Response, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["jsonrpc"] == "2.0"
    assert body["error"]["code"] == code


async def still_serves(a: Arena, http: httpx.AsyncClient) -> None:
    """After the attacks: an honest request of Alice is answered as usual."""
    response = await a.send(http, "POST", a.stack.gw.headers(ALICE, ALICE_HOME), json=initialize())
    assert response.status_code == 200
    assert (await http.get("/health")).status_code == 200


# --- the Authorization header -------------------------------------------------------------------

HEADERS: list[tuple[str, Any]] = [
    ("no header", None),
    ("empty", ""),
    ("basic scheme", "Basic YWxpY2U6c2VjcmV0"),
    ("scheme only", "Bearer"),
    ("two tokens", "Bearer aaa.bbb.ccc ddd.eee.fff"),
    ("other scheme", "Token abc.def.ghi"),
    ("latin-1 garbage", b"Bearer \xff\xfe\xfd\x80\x81"),
    ("utf-8 text", "Bearer ÄÖÜ-🔑".encode()),
]


@pytest.mark.parametrize(("case", "authorization"), HEADERS, ids=[c for c, _ in HEADERS])
async def test_missing_or_malformed_authorization(tmp_path: Path, case: str, authorization: Any) -> None:
    async with arena(tmp_path) as a, a.stack.gw.http() as http:
        headers = space_headers()
        if authorization is not None:
            headers["Authorization"] = authorization
        response = await a.send(http, "POST", headers, json=initialize())
        assert_json_error(response, 401, MISSING)
        assert response.headers["www-authenticate"] == CHALLENGE
        await still_serves(a, http)
    a.assert_clean()


RAW_HEADERS: list[tuple[str, bytes]] = [
    ("scheme and trailing spaces", b"Bearer    "),
    ("tab instead of a space", b"Bearer\tabc.def.ghi"),
    ("NUL and control characters", b"Bearer abc\x00\x01def"),
    ("a line break inside", b"Bearer abc\rdef"),
    ("8-bit bytes", bytes(range(0x80, 0x100))),
]


@pytest.mark.parametrize(("case", "authorization"), RAW_HEADERS, ids=[c for c, _ in RAW_HEADERS])
async def test_headers_no_client_would_send(tmp_path: Path, case: str, authorization: bytes) -> None:
    """Written on a raw socket: refused (401 by the gateway, or 400 by Hypercorn's HTTP parser
    before the gateway sees it), never let through."""
    async with arena(tmp_path) as a, a.stack.gw.http() as http:
        body = json.dumps(initialize()).encode()
        response = await a.send_raw([(b"Authorization", authorization), (b"X-Mana-Space", b"sp_alice")], body)
        await still_serves(a, http)
    assert response.status in (400, 401), response.text
    if response.status == 401:
        assert json.loads(response.body) == {"error": MISSING}
    a.assert_clean()


async def test_oversized_tokens(tmp_path: Path) -> None:
    """Above 8192 characters the gateway refuses the header; a 100 KB header never reaches it:
    Hypercorn answers 431 and closes the connection."""
    async with arena(tmp_path) as a, a.stack.gw.http() as http:
        ten_kb = a.forge(a.claims(padding="x" * 10_000))
        refused = await a.send(http, "POST", space_headers(ten_kb), json=initialize())
        hundred_kb = a.forge(a.claims(padding="x" * 100_000))
        too_big = await a.send(http, "POST", space_headers(hundred_kb), json=initialize())
        await still_serves(a, http)
    assert_json_error(refused, 401, MISSING)
    assert too_big.status_code == 431
    assert too_big.content == b""
    assert too_big.headers["connection"] == "close"
    a.assert_clean()


# --- forged and broken tokens -------------------------------------------------------------------

Forge = Callable[[Arena], str]


def hs256_with_public_key(form: int) -> Forge:
    def forge(a: Arena) -> str:
        secret = public_key_forms(a.signing_key)[form]
        return sign_hs256({"alg": "HS256", "kid": a.kid}, a.claims(), secret)

    return forge


def tampered_subject(a: Arena) -> str:
    """Alice's real signature over claims changed to Bob's ``sub``."""
    header, _, signature = a.forge().split(".")
    forged = sign_eddsa({"alg": "EdDSA", "kid": a.kid}, a.claims(sub=BOB), Ed25519PrivateKey.generate())
    return f"{header}.{forged.split('.')[1]}.{signature}"


def borrowed_signature(a: Arena) -> str:
    """Header and claims of one token with the signature of another (Bob's real one)."""
    bob_signature = a.stack.gw.tokens[BOB].rsplit(".", 1)[1]
    header, claims, _ = a.forge().split(".")
    return f"{header}.{claims}.{bob_signature}"


TOKENS: list[tuple[str, Forge, str, str]] = [
    ("not a jwt", lambda a: "garbage-token", "malformed", "malformed token"),
    ("four segments", lambda a: a.forge() + ".extra", "malformed", "malformed token"),
    ("header not json", lambda a: "bm90IGpzb24." + a.forge().split(".", 1)[1], "malformed",
     "malformed token"),
    ("header is an array", lambda a: b64url(b"[1,2]") + "." + a.forge().split(".", 1)[1], "malformed",
     "malformed token"),
    ("padding in a segment", lambda a: a.forge().replace(".", "==.", 1), "malformed", "malformed token"),
    ("alg none, no signature", lambda a: unsigned({"alg": "none", "kid": a.kid}, a.claims()),
     "unsupported algorithm", "unsupported algorithm"),
    ("alg NONE, real signature", lambda a: a.forge(alg="NONE"), "unsupported algorithm",
     "unsupported algorithm"),
    ("alg missing", lambda a: a.forge(alg=None), "unsupported algorithm", "unsupported algorithm"),
    ("alg Ed25519", lambda a: a.forge(alg="Ed25519"), "unsupported algorithm", "unsupported algorithm"),
    ("HS256 keyed with the raw public key", hs256_with_public_key(0), "unsupported algorithm",
     "unsupported algorithm"),
    ("HS256 keyed with the JWKS x", hs256_with_public_key(1), "unsupported algorithm",
     "unsupported algorithm"),
    ("HS256 keyed with the PEM public key", hs256_with_public_key(2), "unsupported algorithm",
     "unsupported algorithm"),
    ("kid missing", lambda a: a.forge(kid=None), "missing kid", "missing kid"),
    ("kid empty", lambda a: a.forge(kid=""), "missing kid", "missing kid"),
    ("kid not a string", lambda a: a.forge(kid=7), "missing kid", "missing kid"),
    ("unknown kid", lambda a: a.forge(kid="k" + secrets.token_hex(6)), "unknown signing key",
     "unknown signing key"),
    ("right kid, wrong key", lambda a: sign_eddsa({"alg": "EdDSA", "kid": a.kid}, a.claims(),
     Ed25519PrivateKey.generate()), "bad signature", "bad signature"),
    ("sub changed under a real signature", tampered_subject, "bad signature", "bad signature"),
    ("another token's signature", borrowed_signature, "bad signature", "bad signature"),
    ("expired", lambda a: a.forge(a.claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
     "expired", "token expired"),
    ("exp missing", lambda a: a.forge(a.claims(exp=DROP)), "missing exp", "missing exp"),
    ("exp a string", lambda a: a.forge(a.claims(exp=str(int(time.time()) + 600))), "missing exp",
     "missing exp"),
    ("exp a boolean", lambda a: a.forge(a.claims(exp=True)), "missing exp", "missing exp"),
    ("nbf in the future", lambda a: a.forge(a.claims(nbf=int(time.time()) + 3600)), "not yet valid",
     "token not yet valid"),
    ("nbf not a number", lambda a: a.forge(a.claims(nbf="now")), "not yet valid", "token not yet valid"),
    ("wrong aud", lambda a: a.forge(a.claims(aud="mana-admin")), "wrong audience", "wrong audience"),
    ("aud list without mana", lambda a: a.forge(a.claims(aud=["other", "MANA"])), "wrong audience",
     "wrong audience"),
    ("aud missing", lambda a: a.forge(a.claims(aud=DROP)), "wrong audience", "wrong audience"),
    ("wrong iss", lambda a: a.forge(a.claims(iss="https://evil.example")), "wrong issuer", "wrong issuer"),
    ("iss missing", lambda a: a.forge(a.claims(iss=DROP)), "wrong issuer", "wrong issuer"),
    ("sub missing", lambda a: a.forge(a.claims(sub=DROP)), "missing sub", "missing sub"),
    ("sub empty", lambda a: a.forge(a.claims(sub="")), "missing sub", "missing sub"),
    ("sub a number", lambda a: a.forge(a.claims(sub=42)), "missing sub", "missing sub"),
    ("sub null", lambda a: a.forge(a.claims(sub=None)), "missing sub", "missing sub"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "forge", "message", "description"), TOKENS, ids=[c[0] for c in TOKENS])
async def test_forged_or_broken_token(
    tmp_path: Path, case: str, forge: Forge, message: str, description: str
) -> None:
    async with arena(tmp_path) as a, a.stack.gw.http() as http:
        token = a.plant(forge(a))
        response = await a.send(http, "POST", space_headers(token), json=initialize())
        calls = await a.send(
            http, "POST", space_headers(token), json=rpc("tools/call", {"name": "notes_search"})
        )
        await still_serves(a, http)
    for refused in (response, calls):
        assert_json_error(refused, 401, f"Invalid token: {message}")
        assert refused.headers["www-authenticate"] == (
            f'{CHALLENGE}, error="invalid_token", error_description="{description}"'
        )
    a.assert_clean()


async def test_a_flood_of_unknown_kids_costs_mana_auth_one_refetch(tmp_path: Path) -> None:
    """One JWKS refetch per 30 s for the whole process (D7), however many unknown kids arrive."""
    async with arena(tmp_path) as a, a.stack.gw.http() as http:
        before = a.stack.auth.jwks_calls
        for _ in range(25):
            token = a.forge(kid="k" + secrets.token_hex(6))
            response = await a.send(http, "POST", space_headers(token), json=initialize())
            assert_json_error(response, 401, "Invalid token: unknown signing key")
        refetches = a.stack.auth.jwks_calls - before
        await still_serves(a, http)
    assert refetches == 1
    a.assert_clean()


# --- the space, the session, the origin -------------------------------------------------------


async def test_spaces_the_caller_does_not_belong_to(tmp_path: Path) -> None:
    async with arena(tmp_path) as a, a.stack.gw.http() as http:
        gw = a.stack.gw
        outcomes = []
        for space in (BOB_HOME, "sp_nobody", "SP_ALICE", ALICE_HOME + "x", f"{FAMILY}/../{BOB_HOME}"):
            outcomes.append(await a.send(http, "POST", gw.headers(ALICE, space), json=initialize()))
        malformed = [
            await a.send(http, "POST", {**gw.headers(ALICE), "X-Mana-Space": value}, json=initialize())
            for value in ("a" * 201, b"sp_\xff\xfe", "sp alice", "sp_alice,sp_bob ".strip() + " x")
        ]
        token = gw.tokens[ALICE].encode()
        raw = await a.send_raw(
            [(b"Authorization", b"Bearer " + token), (b"X-Mana-Space", b"sp_alice\x00sp_bob")],
            json.dumps(initialize()).encode(),
        )
        missing = await a.send(http, "POST", gw.headers(ALICE, None), json=initialize())
        body, extra = modern_call("notes_search", {})
        modern = await a.send(http, "POST", gw.headers(ALICE, BOB_HOME, **extra), json=body)
        await still_serves(a, http)
    for response in (*outcomes, modern):
        assert_json_error(response, 403, "X-Mana-Space is not one of your spaces")
    for response in malformed:
        assert_json_error(response, 400, "Malformed X-Mana-Space header")
    assert_json_error(missing, 400, "Missing X-Mana-Space header (set it to the id of the active space)")
    assert raw.status == 400
    a.assert_clean()


async def test_another_users_session(tmp_path: Path) -> None:
    async with arena(tmp_path) as a, a.stack.gw.http() as http:
        gw = a.stack.gw
        bobs = await open_session(http, gw.headers(BOB, BOB_HOME))
        mine = {**gw.headers(ALICE, FAMILY), "Mcp-Session-Id": bobs, "MCP-Protocol-Version": LEGACY}
        call = rpc("tools/call", {"name": "notes_search", "arguments": {}})
        refused = [
            await a.send(http, "POST", mine, json=call),
            await a.send(http, "GET", {**mine, "Accept": "text/event-stream"}),
            await a.send(http, "DELETE", mine),
        ]
        guessed = [
            await a.send(http, "POST", {**mine, "Mcp-Session-Id": guess}, json=call)
            for guess in (secrets.token_hex(16), "../../etc/passwd", "x" * 4000, bobs.upper())
        ]
        bob_still = await http.post(  # Bob's own answer (his own notes): not one of Alice's responses
            "/mcp",
            headers={**gw.headers(BOB, BOB_HOME), "Mcp-Session-Id": bobs, "MCP-Protocol-Version": LEGACY},
            json=call,
        )
        await still_serves(a, http)
    for response in refused:
        assert_json_error(response, 403, "Session belongs to a different user")
    for response in guessed:
        assert_rpc_error(response, 404, -32600)
    assert bob_still.status_code == 200  # Bob's session survived the attempts on it
    a.secrets.add("Bob's session id", bobs)  # never echoed to Alice, never written to a log
    a.assert_clean()


async def test_disallowed_origins_are_refused_before_authentication(tmp_path: Path) -> None:
    async with arena(tmp_path) as a, a.stack.gw.http() as http:
        gw = a.stack.gw
        responses = [
            await a.send(http, "POST", {**gw.headers(ALICE), "Origin": origin}, json=initialize())
            for origin in ("https://evil.example", "null", "http://localhost:5173.evil.example", "file://")
        ]
        unauthenticated = await a.send(http, "POST", {"Origin": "https://evil.example"}, json=initialize())
        await still_serves(a, http)
    for response in (*responses, unauthenticated):
        assert_json_error(response, 403, "Origin not allowed")
        assert "www-authenticate" not in response.headers
        assert "access-control-allow-origin" not in response.headers
    a.assert_clean()


# --- the body ---------------------------------------------------------------------------------


async def test_over_limit_bodies(tmp_path: Path) -> None:
    big = b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"x":"' + b"a" * (5 * 1024 * 1024) + b'"}}'

    async def chunks() -> Any:
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    async with arena(tmp_path) as a, a.stack.gw.http() as http:
        headers = {**a.stack.gw.headers(ALICE), "Content-Type": "application/json"}
        declared = await a.send(http, "POST", headers, content=big)
        streamed = await a.send(http, "POST", headers, content=chunks())
        await still_serves(a, http)
    for response in (declared, streamed):
        assert_json_error(response, 413, "Request body too large")
    a.assert_clean()


async def test_malformed_json_rpc_and_batches(tmp_path: Path) -> None:
    async with arena(tmp_path) as a, a.stack.gw.http() as http:
        gw = a.stack.gw
        session = await open_session(http, gw.headers(ALICE))
        legacy = {
            **gw.headers(ALICE),
            "Mcp-Session-Id": session,
            "MCP-Protocol-Version": LEGACY,
            "Content-Type": "application/json",
        }
        deep = (
            b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":'
            + b'{"a":' * 50_000
            + b"1"
            + b"}" * 50_001
        )
        not_json = [
            await a.send(http, "POST", legacy, content=body)
            for body in (b"{nope", b"\xff\xfe\x00", b'{"jsonrpc":"2.0","id":1,"method":"tools/list"', deep)
        ]
        not_rpc = [
            await a.send(http, "POST", legacy, content=body)
            for body in (b'"hello"', b"42", b"null", b'{"foo":1}', b'{"jsonrpc":"1.0","id":1,"method":"x"}')
        ]
        batches = [
            await a.send(http, "POST", legacy, content=body)
            for body in (
                b'[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]',
                b' \n [{"jsonrpc":"2.0","id":1,"method":"tools/list"}]',
                b"[]",
            )
        ]
        body, extra = modern_call("notes_search", {})
        modern_batch = await a.send(http, "POST", gw.headers(ALICE, **extra), json=[body, body])
        await still_serves(a, http)
    for response in not_json:
        assert_rpc_error(response, 400, -32700)
    for response in not_rpc:
        assert_rpc_error(response, 400, -32600)
        assert "pydantic" not in response.text  # not the SDK's validation dump of the input
    for response in (*batches, modern_batch):
        assert_rpc_error(response, 400, -32600)
    a.assert_clean()


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_unknown_tools(tmp_path: Path, era: str) -> None:
    names = ["nope", "notes.create", "admin_reset", "../spaces_list", "x" * 5000, "notes_create "]
    async with arena(tmp_path) as a, a.stack.gw.http() as http:
        gw = a.stack.gw
        responses = []
        if era == "legacy":
            session = await open_session(http, gw.headers(ALICE))
            headers = {**gw.headers(ALICE), "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}
            for name in names:
                call = rpc("tools/call", {"name": name, "arguments": {}})
                responses.append(await a.send(http, "POST", headers, json=call))
        else:
            for name in names[:-1]:  # Mcp-Name must mirror the name, and a header cannot end in a space
                body, extra = modern_call(name, {})
                responses.append(await a.send(http, "POST", gw.headers(ALICE, **extra), json=body))
        metrics = (await http.get("/metrics")).text
        await still_serves(a, http)
    for response in responses:
        assert response.status_code == (200 if era == "legacy" else 400)
        assert response.json()["error"]["code"] == -32602
    counted = {
        line.split("tool=")[1]
        for line in metrics.splitlines()
        if line.startswith("mana_mcp_tool_invocations_total{")
    }
    assert counted == {'"notes.create"} 1.0', '"todo.create"} 1.0'}  # Bob's two calls; unknown names never
    a.assert_clean()


async def test_bobs_record_ids_do_nothing_for_alice(tmp_path: Path) -> None:
    """Knowing another user's record id gives nothing: not found in every space Alice may use,
    and nothing is written."""
    async with arena(tmp_path) as a, a.stack.gw.http() as http:
        sync = a.stack.sync
        bob_rows = [sync.server.emit(row) for row in sync.store.rows("todo")]
        (task_id,) = {row["id"] for row in bob_rows}
        stored_before = sync.rows_stored
        results = []
        for space in (ALICE_HOME, FAMILY):
            body, extra = modern_call("todo_complete", {"id": task_id})
            results.append(await a.send(http, "POST", a.stack.gw.headers(ALICE, space, **extra), json=body))
            body, extra = modern_call("notes_search", {"query": "bob"})
            results.append(await a.send(http, "POST", a.stack.gw.headers(ALICE, space, **extra), json=body))
        await still_serves(a, http)
    completes, searches = results[0::2], results[1::2]
    for response in completes:
        result = response.json()["result"]
        assert result["isError"] is True
        assert result["_meta"]["mana/error"] == "not_found"
    for response in searches:
        assert response.json()["result"]["structuredContent"]["notes"] == []
    assert sync.rows_stored == stored_before
    a.assert_clean()
