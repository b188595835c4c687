"""The token checks of gateway-http.md §4: order, exact messages, key-set fetching and the cache."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mana.adapters.jwks_verifier import JwksTokenVerifier, JwksUnavailable, StaticJwksSource, parse_jwks
from mana.adapters.memory import FixedClock
from mana.adapters.standins.fake_mana_auth import FakeManaAuth
from mana.adapters.standins.jws import b64url, sign_eddsa, unb64url
from mana.application.errors import InvalidToken, VerificationUnavailable

AUDIENCE = "mana"
ISSUER = "http://localhost:3001"


class LiveSource:
    """The fake mana-auth's current key set, counting fetches; can be switched to fail."""

    def __init__(self, auth: FakeManaAuth) -> None:
        self.auth = auth
        self.fetches = 0
        self.failing: str | None = None

    async def fetch(self) -> Mapping[str, Any]:
        self.fetches += 1
        if self.failing is not None:
            raise JwksUnavailable(self.failing)
        return self.auth.jwks()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def auth(clock) -> FakeManaAuth:
    return FakeManaAuth(issuer=ISSUER, audience=AUDIENCE, clock=lambda: clock.now().timestamp())


@pytest.fixture
def source(auth) -> LiveSource:
    return LiveSource(auth)


@pytest.fixture
def verifier(source, clock) -> JwksTokenVerifier:
    return JwksTokenVerifier(source, audience=AUDIENCE, issuer=ISSUER, clock=clock)


async def rejection(verifier: JwksTokenVerifier, token: str) -> tuple[str, str]:
    with pytest.raises(InvalidToken) as raised:
        await verifier.verify(token)
    return raised.value.message, raised.value.description


def signed(auth: FakeManaAuth, header: dict[str, Any], payload: bytes) -> str:
    """A token over an arbitrary payload, signed with the active key."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(payload)}"
    return f"{signing_input}.{b64url(auth.active_key.private.sign(signing_input.encode()))}"


async def test_a_valid_token_yields_its_subject_and_expiry(verifier, auth, clock):
    token = auth.mint("u_alice", azp="client-x")
    verified = await verifier.verify(token)
    assert verified.subject == "u_alice"
    assert verified.token == token
    assert verified.expires_at == int(clock.now().timestamp()) + 900
    assert verified.issuer == ISSUER
    assert verified.authorized_party == "client-x"
    assert token not in repr(verified)


@pytest.mark.parametrize(
    ("variant", "message", "description"),
    [
        ("wrong_alg", "Invalid token: unsupported algorithm", "unsupported algorithm"),
        ("missing_kid", "Invalid token: missing kid", "missing kid"),
        ("unknown_kid", "Invalid token: unknown signing key", "unknown signing key"),
        ("bad_signature", "Invalid token: bad signature", "bad signature"),
        ("missing_exp", "Invalid token: missing exp", "missing exp"),
        ("expired", "Invalid token: expired", "token expired"),
        ("not_yet_valid", "Invalid token: not yet valid", "token not yet valid"),
        ("wrong_aud", "Invalid token: wrong audience", "wrong audience"),
        ("wrong_iss", "Invalid token: wrong issuer", "wrong issuer"),
        ("missing_sub", "Invalid token: missing sub", "missing sub"),
    ],
)
async def test_each_broken_variant_gets_its_message(verifier, auth, variant, message, description):
    assert await rejection(verifier, auth.mint("u_alice", variant=variant)) == (message, description)


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c.d", "W10.e30.c2ln", "bm90IGpzb24.e30.c2ln", "e30*.e30.c2ln", "e30.e30.c2=="],
)
async def test_anything_but_three_base64url_segments_with_a_json_object_header_is_malformed(verifier, token):
    assert await rejection(verifier, token) == ("Invalid token: malformed", "malformed token")


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "eddsa", "EdDSA ", None, 1])
async def test_only_eddsa_is_accepted(verifier, auth, alg):
    token = auth.mint("u_alice")
    _, rest = token.split(".", 1)
    forged = b64url(json.dumps({"alg": alg, "kid": auth.active_key.kid}).encode()) + "." + rest
    assert (await rejection(verifier, forged))[0] == "Invalid token: unsupported algorithm"


@pytest.mark.parametrize("kid", ["", 7, None])
async def test_the_kid_must_be_a_non_empty_string(verifier, auth, kid):
    token = sign_eddsa(
        {"alg": "EdDSA", "kid": kid}, {"sub": "u", "exp": 2**40, "aud": AUDIENCE}, auth.active_key.private
    )
    assert (await rejection(verifier, token))[0] == "Invalid token: missing kid"


async def test_a_payload_that_is_not_a_json_object_is_malformed_after_the_signature(verifier, auth):
    header = {"alg": "EdDSA", "kid": auth.active_key.kid}
    assert (await rejection(verifier, signed(auth, header, b"[1, 2]")))[0] == "Invalid token: malformed"
    assert (await rejection(verifier, signed(auth, header, b'{"exp": Infinity}')))[
        0
    ] == "Invalid token: malformed"


@pytest.mark.parametrize("exp", ["1777284900", True, None])
async def test_a_non_numeric_exp_counts_as_missing(verifier, auth, exp):
    assert (await rejection(verifier, auth.mint("u_alice", exp=exp)))[0] == "Invalid token: missing exp"


async def test_expiry_allows_thirty_seconds_of_leeway(verifier, auth, clock):
    now = clock.now().timestamp()
    assert (await verifier.verify(auth.mint("u_a", exp=now - 30))).subject == "u_a"
    assert (await rejection(verifier, auth.mint("u_b", exp=now - 30.5)))[0] == "Invalid token: expired"
    assert (await verifier.verify(auth.mint("u_c", nbf=now + 30))).subject == "u_c"
    assert (await rejection(verifier, auth.mint("u_d", nbf=now + 31)))[0] == "Invalid token: not yet valid"
    assert (await rejection(verifier, auth.mint("u_e", nbf="soon")))[0] == "Invalid token: not yet valid"


@pytest.mark.parametrize(
    ("aud", "ok"), [(["other", "mana"], True), (["other"], False), (None, False), (7, False)]
)
async def test_the_audience_may_be_a_list_containing_ours(verifier, auth, aud, ok):
    token = auth.mint("u_alice", aud=aud)
    if ok:
        assert (await verifier.verify(token)).subject == "u_alice"
    else:
        assert (await rejection(verifier, token))[0] == "Invalid token: wrong audience"


async def test_the_issuer_is_not_checked_when_none_is_configured(source, auth, clock):
    verifier = JwksTokenVerifier(source, audience=AUDIENCE, clock=clock)
    assert (await verifier.verify(auth.mint("u_alice", variant="wrong_iss"))).subject == "u_alice"


@pytest.mark.parametrize("sub", ["", 42, None])
async def test_the_subject_must_be_a_non_empty_string(verifier, auth, sub):
    token = auth.mint("x", variant="missing_sub") if sub is None else auth.mint("x", sub=sub)
    assert (await rejection(verifier, token))[0] == "Invalid token: missing sub"


@pytest.mark.parametrize(
    ("claims", "header", "message"),
    [
        # each token breaks two rules; the earlier check of §4 must answer
        ({"exp": None}, {"alg": "HS256"}, "Invalid token: unsupported algorithm"),
        ({}, {"alg": "none", "kid": None}, "Invalid token: unsupported algorithm"),
        ({"aud": "x"}, {"kid": None}, "Invalid token: missing kid"),
        ({"aud": "x"}, {"kid": "k-unknown"}, "Invalid token: unknown signing key"),
        ({"exp": 1, "aud": "x"}, {}, "Invalid token: expired"),
        ({"exp": None, "sub": ""}, {}, "Invalid token: missing exp"),
        ({"aud": "x", "iss": "y"}, {}, "Invalid token: wrong audience"),
        ({"iss": "y", "sub": ""}, {}, "Invalid token: wrong issuer"),
    ],
)
async def test_checks_run_in_the_documented_order(verifier, auth, clock, claims, header, message):
    now = int(clock.now().timestamp())
    body = {"sub": "u_alice", "exp": now + 900, "aud": AUDIENCE, "iss": ISSUER}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    head = {"alg": "EdDSA", "kid": auth.active_key.kid}
    head.update(header)
    head = {k: v for k, v in head.items() if v is not None}
    assert (await rejection(verifier, sign_eddsa(head, body, auth.active_key.private)))[0] == message


async def test_a_bad_signature_is_found_before_the_claims_are_looked_at(verifier, auth):
    forged = auth.mint("u_alice", variant="bad_signature", exp=1, aud="x")
    assert (await rejection(verifier, forged))[0] == "Invalid token: bad signature"


async def test_without_any_key_set_verification_is_unavailable_until_a_fetch_succeeds(
    verifier, source, auth, clock
):
    source.failing = "timeout"
    await verifier.start()  # logged, not fatal
    with pytest.raises(VerificationUnavailable):
        await verifier.verify(auth.mint("u_alice"))
    assert source.fetches == 1  # the start-up attempt was less than a second ago
    clock.advance(1.0)
    with pytest.raises(VerificationUnavailable):
        await verifier.verify(auth.mint("u_alice"))
    assert source.fetches == 2
    source.failing = None
    clock.advance(1.0)
    assert (await verifier.verify(auth.mint("u_alice"))).subject == "u_alice"


async def test_an_unknown_kid_refetches_at_most_once_per_30_seconds(verifier, source, auth, clock):
    await verifier.start()
    assert source.fetches == 1
    assert (await rejection(verifier, auth.mint("u", variant="unknown_kid")))[
        0
    ] == "Invalid token: unknown signing key"
    assert source.fetches == 2
    for _ in range(5):
        await rejection(verifier, auth.mint("u", variant="unknown_kid"))
    assert source.fetches == 2
    clock.advance(30.0)
    await rejection(verifier, auth.mint("u", variant="unknown_kid"))
    assert source.fetches == 3


async def test_a_rotated_key_is_found_by_the_refetch(verifier, source, auth):
    await verifier.start()
    old = auth.mint("u_old")
    auth.rotate()
    assert (await verifier.verify(auth.mint("u_new"))).subject == "u_new"
    assert source.fetches == 2
    assert verifier.key_ids == {auth.active_key.kid}
    # the old key left the set: its tokens are refused (no refetch within 30 s)
    assert (await rejection(verifier, old))[0] == "Invalid token: unknown signing key"


async def test_the_key_set_is_refreshed_when_older_than_ten_minutes(verifier, source, auth, clock):
    await verifier.start()
    await verifier.verify(auth.mint("u_a"))
    clock.advance(600.0)
    await verifier.verify(auth.mint("u_b"))
    assert source.fetches == 1
    clock.advance(1.0)
    await verifier.verify(auth.mint("u_c"))  # served with the keys at hand; the refresh runs behind
    await asyncio.sleep(0)
    assert source.fetches == 2


async def test_a_failed_refresh_keeps_the_old_keys(verifier, source, auth, clock):
    await verifier.start()
    clock.advance(700.0)
    source.failing = "HTTP 503"
    assert (await verifier.verify(auth.mint("u_a"))).subject == "u_a"
    assert await verifier.check_ready() == "HTTP 503"
    source.failing = None
    assert await verifier.check_ready() is None


async def test_an_empty_key_set_never_replaces_a_usable_one(verifier, source, auth, clock):
    await verifier.start()
    kid = auth.active_key.kid
    auth.keys = []
    clock.advance(700.0)
    assert await verifier.check_ready() == "no usable key"
    assert verifier.key_ids == {kid}


async def test_a_repeated_token_is_served_from_the_cache_without_a_key_lookup(verifier, source, auth, clock):
    await verifier.start()
    token = auth.mint("u_alice", ttl_s=3600)
    await verifier.verify(token)
    # Rotate and refresh: a token not in the cache would now fail its key lookup.
    auth.rotate()
    clock.advance(601.0)
    await verifier.verify(auth.mint("u_other"))
    assert kid_of(token) not in verifier.key_ids
    assert (await verifier.verify(token)).subject == "u_alice"


async def test_a_cached_token_is_never_accepted_past_exp_plus_leeway(verifier, auth, clock):
    token = auth.mint("u_alice", ttl_s=60)
    await verifier.verify(token)
    clock.advance(90.0)  # exp + 30 s reached, not passed
    assert (await verifier.verify(token)).subject == "u_alice"
    clock.advance(0.5)
    assert (await rejection(verifier, token))[0] == "Invalid token: expired"


def kid_of(token: str) -> str:
    return json.loads(unb64url(token.split(".")[0]))["kid"]


async def test_the_cache_is_bounded(source, auth, clock):
    verifier = JwksTokenVerifier(source, audience=AUDIENCE, clock=clock, cache_size=2)
    for user in ("a", "b", "c"):
        await verifier.verify(auth.mint(user))
    assert len(verifier._cache) == 2


async def test_static_sources_serve_local_mode(auth, clock):
    verifier = JwksTokenVerifier(StaticJwksSource(auth.jwks()), audience=AUDIENCE, clock=clock)
    assert (await verifier.verify(auth.mint("u_local"))).subject == "u_local"


def test_only_ed25519_okp_keys_with_a_32_byte_x_are_used():
    good = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    doc = {
        "keys": [
            {"kty": "OKP", "crv": "Ed25519", "kid": "good", "x": b64url(good)},
            {"kty": "OKP", "crv": "Ed25519", "kid": "padded", "x": b64url(good) + "="},
            {"kty": "OKP", "crv": "X25519", "kid": "x25519", "x": b64url(good)},
            {"kty": "EC", "crv": "P-256", "kid": "ec", "x": b64url(good)},
            {"kty": "OKP", "crv": "Ed25519", "kid": "short", "x": b64url(good[:31])},
            {"kty": "OKP", "crv": "Ed25519", "kid": "std-alphabet", "x": "+/" + b64url(good)[2:]},
            {"kty": "OKP", "crv": "Ed25519", "x": b64url(good)},
            "not an object",
        ]
    }
    assert set(parse_jwks(doc)) == {"good", "padded"}
    assert parse_jwks({"keys": "nope"}) == {}


async def test_a_hanging_refresh_does_not_hold_up_requests(verifier, source, auth, clock):
    await verifier.start()
    hang = asyncio.Event()
    original = source.fetch

    async def hanging_fetch():
        await hang.wait()
        return await original()

    source.fetch = hanging_fetch
    clock.advance(700.0)
    verified = await asyncio.wait_for(verifier.verify(auth.mint("u_alice")), timeout=1.0)
    assert verified.subject == "u_alice"
    await verifier.aclose()  # cancels the fetch still waiting
