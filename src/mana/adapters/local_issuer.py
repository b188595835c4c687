"""Local mode's token issuer: Ed25519 dev tokens shaped exactly like mana-auth's (D16).

The gateway verifies these with the same JWKS verifier as mana-auth tokens, so the key is
published as a mana-auth-shaped JWKS (mana-auth.md §2) with ``kid`` = the RFC 7638 thumbprint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mana.adapters.local_store import ensure_data_dir

KEY_FILE = "dev-signing-key.pem"
DEFAULT_TTL_MINUTES = 720


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _load_key(path: Path) -> Ed25519PrivateKey:
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return loaded


def _load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """Reuse the key file; on first use write it 0600 to a temporary name and link it into place,
    so a concurrent creator (``mana-mcp token`` next to ``serve``) never reads a half-written file."""
    if path.exists():
        return _load_key(path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        os.link(temporary, path)
    except FileExistsError:
        return _load_key(path)
    finally:
        temporary.unlink(missing_ok=True)
    return key


def jwk_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint of an OKP key: SHA-256 of the required members in lexicographic order."""
    canonical = json.dumps({"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


class LocalTokenIssuer:
    """Signs dev tokens with ``<data_dir>/dev-signing-key.pem``; ``jwks()`` publishes the public key."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        issuer: str,
        audience: str,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.key_path = ensure_data_dir(data_dir) / KEY_FILE
        self._key = _load_or_create_key(self.key_path)
        self.issuer = issuer
        self.audience = audience
        self._now = now
        raw_public = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._public_jwk = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw_public)}
        self.kid = jwk_thumbprint(self._public_jwk)

    def issue(self, sub: str, ttl_minutes: int = DEFAULT_TTL_MINUTES) -> str:
        if not sub:
            raise ValueError("a token needs a non-empty subject")
        if isinstance(ttl_minutes, bool) or not isinstance(ttl_minutes, int) or ttl_minutes < 1:
            raise ValueError("ttl_minutes must be a positive whole number")
        issued_at = int(self._now())
        claims: dict[str, Any] = {
            "sub": sub,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": issued_at,
            "exp": issued_at + ttl_minutes * 60,
        }
        # typ=None drops pyjwt's default "typ" header: mana-auth's header is {"alg","kid"} only.
        return jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self.kid, "typ": None})

    def is_ready(self) -> bool:
        """For ``/ready`` in local mode: the signing key is still on disk."""
        return self.key_path.is_file()

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """mana-auth's JWKS shape (mana-auth.md §2)."""
        return {"keys": [{"alg": "EdDSA", **self._public_jwk, "kid": self.kid}]}
