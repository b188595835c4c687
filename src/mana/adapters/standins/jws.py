"""Compact JWS for the stand-ins: signing test tokens and checking them as the upstreams do.

Written independently of the gateway's verifier on purpose, so a bug there is not mirrored here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _segment(obj: Mapping[str, Any]) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def sign_eddsa(header: Mapping[str, Any], claims: Mapping[str, Any], key: Ed25519PrivateKey) -> str:
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"


def sign_hs256(header: Mapping[str, Any], claims: Mapping[str, Any], secret: bytes) -> str:
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


class TokenRejected(Exception):
    """``reason`` in mana-sync's words (the text after ``unauthorized: ``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def public_keys(jwks: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """The entries mana-sync uses: ``kty`` OKP, ``crv`` Ed25519, a 32-byte base64url ``x``."""
    keys: dict[str, Ed25519PublicKey] = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("kid"), str):
            continue
        try:
            raw = unb64url(jwk["x"])
        except (KeyError, binascii.Error, TypeError, ValueError):
            continue
        if len(raw) == 32:
            keys[jwk["kid"]] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


def verify_eddsa(token: str, keys: Mapping[str, Ed25519PublicKey], now: float) -> dict[str, Any]:
    """The claims of a token signed by one of ``keys``; ``exp`` and ``nbf`` checked only when
    present and with no leeway, ``aud`` and ``iss`` not at all (mana-sync.md §2)."""
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(unb64url(header_b64))
        claims = json.loads(unb64url(payload_b64))
        signature = unb64url(signature_b64)
    except (ValueError, binascii.Error) as exc:
        raise TokenRejected("parse token: token is malformed") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenRejected("parse token: token is malformed")
    if header.get("alg") != "EdDSA":
        raise TokenRejected(f"parse token: unexpected signing method: {header.get('alg')}")
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise TokenRejected(f"unknown key ID: {kid}")
    try:
        key.verify(signature, f"{header_b64}.{payload_b64}".encode("ascii"))
    except InvalidSignature:
        raise TokenRejected("parse token: token signature is invalid") from None
    exp = claims.get("exp")
    if isinstance(exp, int | float) and now > exp:
        raise TokenRejected("parse token: token is expired")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and now < nbf:
        raise TokenRejected("parse token: token is not valid yet")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise TokenRejected("missing sub claim")
    return claims
