"""Local dev tokens: signed with the data directory's Ed25519 key, verifiable through the JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mana.adapters.local_issuer import KEY_FILE, LocalTokenIssuer, jwk_thumbprint

ISSUER = "http://localhost:3069"


def public_key_from_jwks(document: dict[str, list[dict[str, str]]], kid: str) -> Ed25519PublicKey:
    [entry] = [k for k in document["keys"] if k["kid"] == kid]
    assert entry["kty"] == "OKP"
    assert entry["crv"] == "Ed25519"
    raw = base64.urlsafe_b64decode(entry["x"] + "=" * (-len(entry["x"]) % 4))
    assert len(raw) == 32
    return Ed25519PublicKey.from_public_bytes(raw)


def test_token_round_trip_through_the_jwks(tmp_path: Path) -> None:
    issuer = LocalTokenIssuer(tmp_path, ISSUER, "mana", now=lambda: 1_777_284_000.0)
    token = issuer.issue("user-1", ttl_minutes=15)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": issuer.kid}
    key = public_key_from_jwks(issuer.jwks(), header["kid"])
    claims = jwt.decode(
        token,
        key,
        algorithms=["EdDSA"],
        audience="mana",
        issuer=ISSUER,
        options={"verify_exp": False},
    )
    assert claims == {
        "sub": "user-1",
        "iss": ISSUER,
        "aud": "mana",
        "iat": 1_777_284_000,
        "exp": 1_777_284_900,
    }


def test_a_fresh_token_verifies_with_expiry_checked_and_fails_with_a_wrong_audience(tmp_path: Path) -> None:
    issuer = LocalTokenIssuer(tmp_path, ISSUER, "mana")
    token = issuer.issue("user-1")
    key = public_key_from_jwks(issuer.jwks(), issuer.kid)
    claims = jwt.decode(token, key, algorithms=["EdDSA"], audience="mana")
    assert claims["exp"] - claims["iat"] == 720 * 60
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key, algorithms=["EdDSA"], audience="other")


def test_an_expired_token_is_refused(tmp_path: Path) -> None:
    issuer = LocalTokenIssuer(tmp_path, ISSUER, "mana", now=lambda: 1_000_000.0)
    key = public_key_from_jwks(issuer.jwks(), issuer.kid)
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(issuer.issue("user-1", ttl_minutes=1), key, algorithms=["EdDSA"], audience="mana")


def test_the_key_file_is_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    first = LocalTokenIssuer(data_dir, ISSUER, "mana")
    key_file = data_dir / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    second = LocalTokenIssuer(data_dir, "http://elsewhere", "mana")
    assert second.kid == first.kid
    assert second.jwks() == first.jwks()
    token = second.issue("user-2")
    jwt.decode(token, public_key_from_jwks(first.jwks(), first.kid), algorithms=["EdDSA"], audience="mana")
    assert [p.name for p in data_dir.iterdir()] == [KEY_FILE]  # no temporary file left behind
    assert second.is_ready()
    key_file.unlink()
    assert not second.is_ready()


def test_a_new_data_dir_gets_a_new_key(tmp_path: Path) -> None:
    assert (
        LocalTokenIssuer(tmp_path / "a", ISSUER, "mana").kid
        != LocalTokenIssuer(tmp_path / "b", ISSUER, "mana").kid
    )


def test_jwks_has_mana_auths_shape_and_the_kid_is_the_rfc7638_thumbprint(tmp_path: Path) -> None:
    issuer = LocalTokenIssuer(tmp_path, ISSUER, "mana")
    [entry] = issuer.jwks()["keys"]
    assert set(entry) == {"alg", "crv", "kty", "x", "kid"}
    assert entry["alg"] == "EdDSA"
    assert "=" not in entry["x"]
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": entry["x"]}, separators=(",", ":"))
    digest = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    assert entry["kid"] == digest == issuer.kid


def test_thumbprint_matches_the_rfc_8037_example() -> None:
    # RFC 8037 Appendix A.3: the thumbprint of its example Ed25519 public key.
    jwk = {"crv": "Ed25519", "kty": "OKP", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert jwk_thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


@pytest.mark.parametrize("ttl", [0, -5, True, 1.5])
def test_bad_ttls_and_subjects_are_refused(tmp_path: Path, ttl: object) -> None:
    issuer = LocalTokenIssuer(tmp_path, ISSUER, "mana")
    with pytest.raises(ValueError, match="ttl_minutes"):
        issuer.issue("user-1", ttl_minutes=ttl)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="subject"):
        issuer.issue("")
