"""A hostile caller's toolkit, and the leak check every attack ends with.

Tokens are forged with the stand-in's own JWS code (never the gateway's verifier), from the real
signing key of the fake mana-auth, so that each forged token differs from a valid one in exactly
the one property under attack.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import attrs
import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from tests.integration.gateway.support import ALICE, BOB, BOB_HOME, mcp_client
from tests.integration.security.support import (
    LogCapture,
    RemoteStack,
    Secrets,
    captured_logs,
    key_forms,
    no_stack_traces,
    remote_stack,
    response_text,
    token_forms,
)

from mana.adapters.standins.fake_mana_auth import DEFAULT_SERVICE_KEY
from mana.adapters.standins.jws import b64url, sign_eddsa

BOB_NOTE_TITLE = "bob-private-title-7f3a"
BOB_NOTE_CONTENT = "bob-private-content-91c2 lives here"
BOB_TASK = "bob-private-task-5d0e"

_DROP = object()
DROP: Any = _DROP
"""Pass as a claim value to leave the claim out."""


@attrs.frozen
class RawResponse:
    status: int
    head: str
    body: bytes

    @property
    def text(self) -> str:
        return f"{self.head}\r\n\r\n{self.body.decode('utf-8', 'replace')}"


async def raw_post(base_url: str, headers: list[tuple[bytes, bytes]], body: bytes) -> RawResponse:
    """One POST /mcp written byte for byte on a socket: headers no HTTP client would send."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        lines = [b"POST /mcp HTTP/1.1", b"Host: " + host.encode(), b"Connection: close"]
        lines += [name + b": " + value for name, value in headers]
        lines += [b"Content-Type: application/json", b"Content-Length: " + str(len(body)).encode()]
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head, _, rest = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return RawResponse(status, head.decode("latin-1"), rest)


@attrs.define
class Arena:
    """A served remote stack with Bob's private data planted and every secret registered."""

    stack: RemoteStack
    logs: LogCapture
    secrets: Secrets
    responses: list[httpx.Response | RawResponse] = attrs.Factory(list)

    @property
    def kid(self) -> str:
        return self.stack.auth.active_key.kid

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        return self.stack.auth.active_key.private

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": ALICE,
            "iss": self.stack.auth.issuer,
            "aud": "mana",
            "iat": now,
            "exp": now + 600,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not _DROP}

    def forge(self, claims: dict[str, Any] | None = None, **header: Any) -> str:
        """EdDSA with the real signing key and ``kid``; ``header`` overrides (``kid=None`` drops it)."""
        fields = {"alg": "EdDSA", "kid": self.kid, **header}
        token = sign_eddsa(
            {k: v for k, v in fields.items() if v is not None}, claims or self.claims(), self.signing_key
        )
        return self.plant(token)

    def plant(self, token: str) -> str:
        """Register a token as a secret: it must never come back in a response or a log line."""
        self.secrets.add(f"token {len(self.secrets.needles)}", *token_forms(token))
        return token

    async def send(
        self, http: httpx.AsyncClient, method: str, headers: dict[str, Any], **kwargs: Any
    ) -> httpx.Response:
        response = await http.request(method, "/mcp", headers=headers, **kwargs)
        self.responses.append(response)
        return response

    async def send_raw(self, headers: list[tuple[bytes, bytes]], body: bytes) -> RawResponse:
        response = await raw_post(self.stack.gw.base_url, headers, body)
        self.responses.append(response)
        return response

    def assert_clean(self) -> None:
        """Nothing secret and no other user's data in any response or log line; no stack trace."""
        texts = [r.text if isinstance(r, RawResponse) else response_text(r) for r in self.responses]
        problems = {
            "secrets in responses": self.secrets.found_in(texts),
            "secrets in log lines": self.secrets.found_in(self.logs.lines),
            "stack traces in log lines": no_stack_traces(self.logs.lines),
            "stack traces in responses": no_stack_traces(texts),
        }
        assert not any(problems.values()), {k: v for k, v in problems.items() if v}


def public_key_forms(key: Ed25519PrivateKey) -> list[bytes]:
    """What an algorithm-confusion attacker would try as an HMAC secret: the public key as raw
    bytes, as the JWKS ``x`` text, and as PEM."""
    public = key.public_key()
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return [raw, b64url(raw).encode(), pem]


def _segment(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """``alg: none`` style: a header and claims with an empty signature segment."""
    return f"{_segment(header)}.{_segment(claims)}."


def register_secrets(stack: RemoteStack, secrets: Secrets, extra_tokens: Iterable[str] = ()) -> None:
    auth = stack.auth
    for user in (ALICE, BOB):
        secrets.add(f"master key of {user}", *key_forms(auth.user(user).master_key))
        secrets.add(f"token of {user}", *token_forms(stack.gw.tokens[user]))
    for token in extra_tokens:
        secrets.add("token", *token_forms(token))
    secrets.add("service key", DEFAULT_SERVICE_KEY)
    private = auth.active_key.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    secrets.add("mana-auth signing key", *key_forms(private))


@contextlib.asynccontextmanager
async def arena(tmp_path: Path, env: dict[str, str] | None = None) -> AsyncIterator[Arena]:
    """The remote stack with Bob's private note and task written through the gateway first."""
    with captured_logs() as logs:
        async with remote_stack(tmp_path, env) as stack:
            async with mcp_client(stack.gw, BOB, BOB_HOME) as bob:
                note = await bob.call_tool(
                    "notes_create", {"title": BOB_NOTE_TITLE, "content": BOB_NOTE_CONTENT}
                )
                task = await bob.call_tool("todo_create", {"title": BOB_TASK})
                assert note.is_error is False
                assert task.is_error is False
            secrets = Secrets()
            register_secrets(stack, secrets)
            secrets.add("Bob's note", BOB_NOTE_TITLE, BOB_NOTE_CONTENT)
            secrets.add("Bob's task", BOB_TASK)
            yield Arena(stack, logs, secrets)
