"""A fake mana-auth (mana-auth.md §9): JWKS, token minting, the vault key, memberships, spaces.

Routes and bodies follow mana-auth.md byte for byte where the gateway depends on them. Switches
cover what the tests need: a rotated signing key, per-user vault modes, failing routes, added
latency, and an organization list that accepts bearer tokens (the stock one does not).
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from quart import Quart, Response, request

from mana.adapters.standins.jws import (
    TokenRejected,
    b64url,
    public_keys,
    sign_eddsa,
    sign_hs256,
    verify_eddsa,
)

VaultMode = Literal["normal", "zero_knowledge", "not_initialised", "error", "raw"]
TokenVariant = Literal[
    "valid",
    "expired",
    "not_yet_valid",
    "wrong_aud",
    "wrong_iss",
    "wrong_alg",
    "unknown_kid",
    "missing_kid",
    "missing_sub",
    "missing_exp",
    "bad_signature",
]
SESSION_COOKIE = "mana.session_token"
DEFAULT_ISSUER = "http://localhost:3001"
DEFAULT_AUDIENCE = "mana"
DEFAULT_SERVICE_KEY = "fake-service-key"
TOKEN_TTL_S = 900


@attrs.define
class SigningKey:
    kid: str
    private: Ed25519PrivateKey

    def jwk(self) -> dict[str, str]:
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"alg": "EdDSA", "crv": "Ed25519", "kty": "OKP", "x": b64url(raw), "kid": self.kid}


@attrs.define
class FakeUser:
    user_id: str
    vault: VaultMode = "normal"
    master_key: bytes = attrs.Factory(lambda: secrets.token_bytes(32))
    raw_body: Any = None
    """The whole 200 body sent in ``raw`` mode (a key of the wrong size, url-safe text, no key...)."""
    memberships: list[tuple[str, str]] = attrs.Factory(list)
    vault_calls: int = 0


@attrs.define
class FakeSpace:
    id: str
    name: str
    slug: str | None = None
    metadata: Any = None
    """An object, a JSON string encoding one, or None, exactly as the list returns it."""
    created_at: str = "2026-03-01T12:00:00.000Z"


def _new_kid() -> str:
    return "k" + secrets.token_hex(6)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


class FakeManaAuth:
    """State plus a Quart app (:attr:`app`); every switch can be flipped while it serves."""

    def __init__(
        self,
        *,
        issuer: str = DEFAULT_ISSUER,
        audience: str = DEFAULT_AUDIENCE,
        service_key: str = DEFAULT_SERVICE_KEY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.service_key = service_key
        self.clock = clock
        self.keys: list[SigningKey] = [SigningKey(_new_kid(), Ed25519PrivateKey.generate())]
        self.users: dict[str, FakeUser] = {}
        self.spaces: dict[str, FakeSpace] = {}
        self.sessions: dict[str, str] = {}
        # switches
        self.accept_bearer_org_list = False
        self.latency_s = 0.0
        self.jwks_status: int | None = None
        self.spaces_status: int | None = None
        # counters and what the last requests carried
        self.last_headers: dict[str, dict[str, str]] = {}
        self.jwks_calls = 0
        self.membership_calls = 0
        self.org_list_calls = 0
        self.app = self._build_app()

    # --- keys and tokens -----------------------------------------------------------------------

    @property
    def active_key(self) -> SigningKey:
        return self.keys[-1]

    def rotate(self, *, keep_old: bool = False) -> str:
        """A new signing key (a database reset, for example); returns its ``kid``."""
        key = SigningKey(_new_kid(), Ed25519PrivateKey.generate())
        self.keys = [*self.keys, key] if keep_old else [key]
        return key.kid

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.jwk() for key in self.keys]}

    def mint(
        self,
        sub: str,
        /,
        *,
        variant: TokenVariant = "valid",
        ttl_s: int = TOKEN_TTL_S,
        now: float | None = None,
        key: SigningKey | None = None,
        **claims: Any,
    ) -> str:
        """A token with the claims of mana-auth.md §1.2, or one of the broken variants of §9.1.

        ``claims`` override or add claims after the variant is applied (``sub=""`` included).
        """
        issued = int(self.clock() if now is None else now)
        signing = key or self.active_key
        body: dict[str, Any] = {
            "sub": sub,
            "email": f"{sub}@example.org",
            "role": "user",
            "sid": "s_" + secrets.token_hex(5),
            "tier": "beta",
            "iat": issued,
            "exp": issued + ttl_s,
            "iss": self.issuer,
            "aud": self.audience,
        }
        header: dict[str, Any] = {"alg": "EdDSA", "kid": signing.kid}
        if variant == "expired":
            body["iat"], body["exp"] = issued - 2 * ttl_s, issued - ttl_s
        elif variant == "not_yet_valid":
            body["nbf"] = issued + 3600
        elif variant == "wrong_aud":
            body["aud"] = "not-" + self.audience
        elif variant == "wrong_iss":
            body["iss"] = "https://elsewhere.example.org"
        elif variant == "unknown_kid":
            header["kid"] = _new_kid()
        elif variant == "missing_kid":
            del header["kid"]
        elif variant == "missing_sub":
            del body["sub"]
        elif variant == "missing_exp":
            del body["exp"]
        body.update(claims)
        if variant == "wrong_alg":
            return sign_hs256({"alg": "HS256", "kid": signing.kid}, body, b"not-a-real-secret")
        if variant == "bad_signature":
            return sign_eddsa(header, body, Ed25519PrivateKey.generate())
        return sign_eddsa(header, body, signing.private)

    # --- fixtures ------------------------------------------------------------------------------

    def user(self, user_id: str) -> FakeUser:
        """The user, created in ``normal`` vault mode on first use (with a random key)."""
        found = self.users.get(user_id)
        if found is None:
            found = FakeUser(user_id)
            self.users[user_id] = found
        return found

    def set_vault(self, user_id: str, mode: VaultMode, *, raw_body: Any = None) -> FakeUser:
        user = self.user(user_id)
        user.vault = mode
        user.raw_body = raw_body
        return user

    def add_space(
        self,
        space_id: str,
        name: str,
        *,
        type: str | None = None,
        metadata_as_string: bool = False,
        slug: str | None = None,
        members: Iterable[tuple[str, str]] = (),
    ) -> FakeSpace:
        metadata: Any = None if type is None else {"type": type}
        if metadata is not None and metadata_as_string:
            metadata = json.dumps(metadata)
        space = FakeSpace(space_id, name, slug or space_id, metadata)
        self.spaces[space_id] = space
        for user_id, role in members:
            self.add_member(user_id, space_id, role)
        return space

    def add_member(self, user_id: str, space_id: str, role: str = "member") -> None:
        user = self.user(user_id)
        if all(org != space_id for org, _ in user.memberships):
            user.memberships.append((space_id, role))

    def remove_member(self, user_id: str, space_id: str) -> None:
        user = self.user(user_id)
        user.memberships = [(org, role) for org, role in user.memberships if org != space_id]

    def memberships(self, user_id: str) -> frozenset[str]:
        """The user's space ids (what mana-sync's visibility uses)."""
        found = self.users.get(user_id)
        return frozenset(org for org, _ in found.memberships) if found else frozenset()

    def session_for(self, user_id: str) -> str:
        """A Better Auth session token for the cookie-only organization list."""
        token = secrets.token_urlsafe(18)
        self.sessions[token] = user_id
        return token

    # --- the app -------------------------------------------------------------------------------

    def _verify(self, authorization: str | None) -> dict[str, Any] | None:
        """mana-auth's ``/api/v1/me/*`` check: signature, ``iss``, ``aud``, not expired."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        try:
            claims = verify_eddsa(authorization[7:], public_keys(self.jwks()), self.clock())
        except TokenRejected:
            return None
        if claims.get("iss") != self.issuer or claims.get("aud") != self.audience or "exp" not in claims:
            return None
        return claims

    async def _delay(self) -> None:
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)

    def _build_app(self) -> Quart:
        app = Quart("fake_mana_auth")

        @app.get("/health")
        async def health() -> Response:
            return _json({"status": "ok", "service": "mana-auth", "timestamp": datetime.now(UTC).isoformat()})

        async def jwks() -> Response:
            self.jwks_calls += 1
            await self._delay()
            if self.jwks_status is not None:
                return _json({"code": "INTERNAL_SERVER_ERROR", "message": "fault"}, self.jwks_status)
            return _json(self.jwks())

        app.add_url_rule("/api/auth/jwks", "jwks", jwks, methods=["GET"])
        app.add_url_rule("/api/v1/auth/jwks", "jwks_alias", jwks, methods=["GET"])

        @app.get("/api/v1/me/encryption-vault/key")
        async def vault_key() -> Response:
            await self._delay()
            self.last_headers["vault_key"] = {k.lower(): v for k, v in request.headers.items()}
            authorization = request.headers.get("Authorization")
            if not authorization or not authorization.startswith("Bearer "):
                return _json({"statusCode": 401, "message": "Missing or invalid Authorization header"}, 401)
            claims = self._verify(authorization)
            if claims is None:
                return _json({"statusCode": 401, "message": "Invalid or expired token"}, 401)
            user = self.user(claims["sub"])
            user.vault_calls += 1
            return self._vault_answer(user)

        @app.get("/api/v1/internal/users/<user_id>/memberships")
        async def memberships(user_id: str) -> Response:
            self.membership_calls += 1
            await self._delay()
            self.last_headers["memberships"] = {k.lower(): v for k, v in request.headers.items()}
            if request.headers.get("X-Service-Key") != self.service_key:
                return _json({"statusCode": 401, "message": "Invalid or missing service key"}, 401)
            if self.spaces_status is not None:
                return _json(
                    {"statusCode": self.spaces_status, "message": "Internal server error"}, self.spaces_status
                )
            found = self.users.get(user_id)
            rows = [
                {"organizationId": org, "role": role} for org, role in (found.memberships if found else [])
            ]
            return _json({"userId": user_id, "memberships": rows})

        @app.get("/api/v1/internal/org/<org_id>/member/<user_id>")
        async def member(org_id: str, user_id: str) -> Response:
            if request.headers.get("X-Service-Key") != self.service_key:
                return _json({"statusCode": 401, "message": "Invalid or missing service key"}, 401)
            found = self.users.get(user_id)
            for org, role in found.memberships if found else []:
                if org == org_id:
                    return _json({"isMember": True, "role": role})
            return _json({"isMember": False, "role": ""})

        @app.get("/api/auth/organization/list")
        async def organization_list() -> Response:
            self.org_list_calls += 1
            self.last_headers["organization_list"] = {k.lower(): v for k, v in request.headers.items()}
            await self._delay()
            user_id = self.sessions.get(request.cookies.get(SESSION_COOKIE, ""))
            if user_id is None and self.accept_bearer_org_list:
                claims = self._verify(request.headers.get("Authorization"))
                user_id = claims["sub"] if claims else None
            if user_id is None:
                return _json({"code": "UNAUTHORIZED", "message": "Unauthorized"}, 401)
            if self.spaces_status is not None:
                return _json({"code": "INTERNAL_SERVER_ERROR", "message": "fault"}, self.spaces_status)
            return _json([self._org(org) for org, _ in self.user(user_id).memberships])

        return app

    def _org(self, space_id: str) -> dict[str, Any]:
        space = self.spaces.get(space_id) or FakeSpace(space_id, space_id)
        return {
            "id": space.id,
            "name": space.name,
            "slug": space.slug,
            "logo": None,
            "metadata": space.metadata,
            "createdAt": space.created_at,
        }

    @staticmethod
    def _vault_answer(user: FakeUser) -> Response:
        if user.vault == "normal":
            key = base64.b64encode(user.master_key).decode("ascii")
            return _json({"masterKey": key, "formatVersion": 1, "kekId": "env-v1"})
        if user.vault == "raw":
            if isinstance(user.raw_body, bytes):
                return Response(user.raw_body, status=200, content_type="application/json")
            return _json(user.raw_body)
        if user.vault == "zero_knowledge":
            return _json(
                {
                    "requiresRecoveryCode": True,
                    "recoveryWrappedMk": base64.b64encode(secrets.token_bytes(48)).decode("ascii"),
                    "recoveryIv": base64.b64encode(secrets.token_bytes(12)).decode("ascii"),
                    "formatVersion": 1,
                }
            )
        if user.vault == "not_initialised":
            return _json({"error": "vault not initialised", "code": "VAULT_NOT_INITIALISED"}, 404)
        return _json({"statusCode": 500, "message": "Internal server error"}, 500)


def claims_of(token: str) -> Mapping[str, Any]:
    """The unverified claims of a token (for test assertions only)."""
    payload = token.split(".")[1]
    claims: Mapping[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims
