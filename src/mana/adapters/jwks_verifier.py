"""Verifying mana-auth's EdDSA access tokens against its JWKS (gateway-http.md §4, D7).

The checks run in the order of gateway-http.md §4 with its exact messages. The header is parsed
here, never by a library that could let the token pick the algorithm: only ``EdDSA`` with an
Ed25519 key of the fetched set is accepted. This runs on every request, so a token that already
passed is remembered (by its SHA-256, never past ``exp`` + leeway) and skips Ed25519.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, NoReturn, Protocol, TypeGuard

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jwt.utils import base64url_decode

from mana.adapters.http_client import JWKS_TIMEOUT_S, TransportFailure, send_timed, upstream_request
from mana.application.errors import InvalidToken, VerificationUnavailable
from mana.application.ports import Clock, UpstreamObserver, VerifiedToken

log = logging.getLogger(__name__)

JWKS_PATH = "/api/auth/jwks"
LEEWAY_S = 30.0
REFRESH_AFTER_S = 600.0
UNKNOWN_KID_REFETCH_S = 30.0
CACHE_SIZE = 10_000
_EMPTY_RETRY_S = 1.0
"""While no usable key is held, fetch attempts are at most this often (each request would try)."""

_B64URL = re.compile(r"[A-Za-z0-9_-]*\Z")
_B64URL_PADDED = re.compile(r"[A-Za-z0-9_-]*={0,2}\Z")


class JwksUnavailable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JwksSource(Protocol):
    async def fetch(self) -> Mapping[str, Any]:
        """The JWKS document; raises :class:`JwksUnavailable` with a short reason."""
        ...


class HttpJwksSource:
    """mana-auth's ``GET /api/auth/jwks`` (``url`` is the full JWKS URL)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        observer: UpstreamObserver,
        *,
        timeout_s: float = JWKS_TIMEOUT_S,
    ) -> None:
        self._client = client
        self._url = httpx.URL(url)
        self._observer = observer
        self._timeout = timeout_s

    async def fetch(self) -> Mapping[str, Any]:
        request = upstream_request("GET", self._url)
        try:
            response = await send_timed(
                self._client,
                request,
                upstream="auth_jwks",
                observer=self._observer,
                total_timeout_s=self._timeout,
            )
        except TransportFailure as exc:
            raise JwksUnavailable(exc.reason) from None
        if response.status_code != 200:
            raise JwksUnavailable(f"HTTP {response.status_code}")
        try:
            doc = json.loads(response.content)
        except ValueError:
            raise JwksUnavailable("invalid response") from None
        if not isinstance(doc, dict):
            raise JwksUnavailable("invalid response")
        return doc


class StaticJwksSource:
    """A fixed key set (local mode: ``LocalTokenIssuer.jwks()``)."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._jwks = jwks

    async def fetch(self) -> Mapping[str, Any]:
        return self._jwks


def parse_jwks(doc: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """The usable keys by ``kid``: ``kty`` OKP, ``crv`` Ed25519, ``x`` 32 bytes of base64url.

    Other members (``alg``, ``use``) vary with Better Auth versions and are not relied on;
    entries that cannot be used are skipped.
    """
    keys: dict[str, Ed25519PublicKey] = {}
    entries = doc.get("keys")
    if not isinstance(entries, list):
        return keys
    for jwk in entries:
        if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        kid, x = jwk.get("kid"), jwk.get("x")
        if not (isinstance(kid, str) and kid and isinstance(x, str) and _B64URL_PADDED.match(x)):
            continue
        raw = base64url_decode(x.rstrip("="))
        if len(raw) != 32 or kid in keys:
            continue
        keys[kid] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


def _fail(message: str, description: str) -> NoReturn:
    raise InvalidToken(f"Invalid token: {message}", description)


def _b64url(segment: str) -> bytes:
    if not _B64URL.match(segment):
        _fail("malformed", "malformed token")
    try:
        return base64url_decode(segment)
    except (ValueError, TypeError):
        _fail("malformed", "malformed token")


def _no_constants(name: str) -> NoReturn:
    raise ValueError(name)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw, parse_constant=_no_constants)
    except ValueError:
        _fail("malformed", "malformed token")
    if not isinstance(value, dict):
        _fail("malformed", "malformed token")
    return value


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class JwksTokenVerifier:
    """:class:`~mana.application.ports.TokenVerifier` over a :class:`JwksSource`."""

    def __init__(
        self,
        source: JwksSource,
        *,
        audience: str,
        issuer: str | None = None,
        clock: Clock,
        leeway_s: float = LEEWAY_S,
        refresh_after_s: float = REFRESH_AFTER_S,
        unknown_kid_refetch_s: float = UNKNOWN_KID_REFETCH_S,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self._source = source
        self._audience = audience
        self._issuer = issuer
        self._clock = clock
        self._leeway = leeway_s
        self._refresh_after = refresh_after_s
        self._unknown_kid_interval = unknown_kid_refetch_s
        self._cache_size = cache_size
        self._cache: OrderedDict[bytes, VerifiedToken] = OrderedDict()
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._fetched_at: float | None = None
        self._last_attempt = -math.inf
        self._last_unknown_refetch = -math.inf
        self._refreshing: asyncio.Task[str | None] | None = None

    # --- lifecycle and readiness -----------------------------------------------------------

    async def start(self) -> None:
        """Prefetch the key set; a failure is logged, not fatal (the first request retries)."""
        reason = await self._refresh()
        if reason is not None:
            log.warning("could not fetch the JWKS at startup: %s", reason)

    async def check_ready(self) -> str | None:
        """None when a usable key set younger than the refresh age is held (or fetched now);
        else the /ready error (``no usable key``, ``timeout``, ``connection failed``, ``HTTP <n>``)."""
        age = None if self._fetched_at is None else self._clock.monotonic() - self._fetched_at
        if self._keys and age is not None and age <= self._refresh_after:
            return None
        reason = await self._refresh()
        if reason is not None:
            return reason
        return None if self._keys else "no usable key"

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    # --- verification ----------------------------------------------------------------------

    async def verify(self, token: str) -> VerifiedToken:
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        cached = self._cache.get(digest)
        if cached is not None:
            if self._clock.now().timestamp() <= cached.expires_at + self._leeway:
                self._cache.move_to_end(digest)
                return cached
            del self._cache[digest]
        verified = await self._verify(token)
        self._cache[digest] = verified
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return verified

    async def _verify(self, token: str) -> VerifiedToken:
        # 2. structure
        parts = token.split(".")
        if len(parts) != 3:
            _fail("malformed", "malformed token")
        header_b64, payload_b64, signature_b64 = parts
        header = _json_object(_b64url(header_b64))
        payload_raw = _b64url(payload_b64)
        signature = _b64url(signature_b64)
        # 3. algorithm: fixed here, never taken from the key or the token
        if header.get("alg") != "EdDSA":
            _fail("unsupported algorithm", "unsupported algorithm")
        # 4. key id
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            _fail("missing kid", "missing kid")
        # 5. key lookup
        key = await self._key_for(kid)
        # 6. signature
        try:
            key.verify(signature, f"{header_b64}.{payload_b64}".encode("ascii"))
        except InvalidSignature:
            _fail("bad signature", "bad signature")
        claims = _json_object(payload_raw)
        # 7. expiry
        now = self._clock.now().timestamp()
        exp = claims.get("exp")
        if not _is_number(exp):
            _fail("missing exp", "missing exp")
        if now > exp + self._leeway:
            _fail("expired", "token expired")
        if "nbf" in claims:
            nbf = claims["nbf"]
            if not _is_number(nbf) or now < nbf - self._leeway:
                _fail("not yet valid", "token not yet valid")
        # 8. audience
        aud = claims.get("aud")
        if not (aud == self._audience or (isinstance(aud, list) and self._audience in aud)):
            _fail("wrong audience", "wrong audience")
        # 9. issuer
        iss = claims.get("iss")
        if self._issuer is not None and iss != self._issuer:
            _fail("wrong issuer", "wrong issuer")
        # 10. subject
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            _fail("missing sub", "missing sub")
        azp = claims.get("azp")
        return VerifiedToken(
            subject=sub,
            token=token,
            expires_at=float(exp),
            issuer=iss if isinstance(iss, str) else None,
            authorized_party=azp if isinstance(azp, str) else None,
        )

    async def _key_for(self, kid: str) -> Ed25519PublicKey:
        now = self._clock.monotonic()
        if not self._keys:
            if now - self._last_attempt >= _EMPTY_RETRY_S or self._refreshing is not None:
                await self._refresh()
            if not self._keys:
                raise VerificationUnavailable()
        elif (
            self._fetched_at is not None
            and now - self._fetched_at > self._refresh_after
            and now - self._last_attempt >= self._unknown_kid_interval
        ):
            # In the background: during a mana-auth outage requests keep using the keys they have
            # instead of all waiting for the fetch to time out.
            self._start_refresh()
        key = self._keys.get(kid)
        if key is None:
            if self._refreshing is not None:
                await self._refresh()  # a fetch already under way may bring the key
            elif now - self._last_unknown_refetch >= self._unknown_kid_interval:
                self._last_unknown_refetch = now
                await self._refresh()
            key = self._keys.get(kid)
        if key is None:
            _fail("unknown signing key", "unknown signing key")
        return key

    async def _refresh(self) -> str | None:
        """Fetch the key set once for every concurrent caller; returns the failure reason or None."""
        return await asyncio.shield(self._start_refresh())

    def _start_refresh(self) -> asyncio.Task[str | None]:
        task = self._refreshing
        if task is None:
            task = asyncio.ensure_future(self._fetch())
            task.add_done_callback(_retrieve)
            self._refreshing = task
        return task

    async def aclose(self) -> None:
        """Cancel a key-set fetch still running in the background (at shutdown)."""
        task = self._refreshing
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _fetch(self) -> str | None:
        self._last_attempt = self._clock.monotonic()
        try:
            doc = await self._source.fetch()
        except JwksUnavailable as exc:
            log.warning("JWKS fetch failed: %s", exc.reason)
            return exc.reason
        finally:
            self._refreshing = None
        keys = parse_jwks(doc)
        if not keys:
            # An empty or unusable document does not throw away a key set that works.
            log.warning("the JWKS holds no usable Ed25519 key")
            return "no usable key"
        self._keys = keys
        self._fetched_at = self._last_attempt
        return None


def _retrieve(task: asyncio.Task[str | None]) -> None:
    """A background refresh nobody awaited must not leave an unretrieved exception behind."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("JWKS refresh failed unexpectedly: %s", type(task.exception()).__name__)
