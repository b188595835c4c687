"""The token verifier with mana-auth's JWKS fetched over HTTP: start-up, rotation, outage, checks."""

from __future__ import annotations

import asyncio

import pytest

from mana.adapters.jwks_verifier import JWKS_PATH, HttpJwksSource, JwksTokenVerifier
from mana.adapters.memory import FixedClock
from mana.adapters.standins.fake_mana_auth import FakeManaAuth
from mana.application.errors import InvalidToken, VerificationUnavailable

pytestmark = pytest.mark.integration


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def auth(clock) -> FakeManaAuth:
    return FakeManaAuth(clock=lambda: clock.now().timestamp())


@pytest.fixture
def verifier(client, auth_url, observer, clock, auth) -> JwksTokenVerifier:
    source = HttpJwksSource(client, auth_url + JWKS_PATH, observer)
    return JwksTokenVerifier(source, audience="mana", issuer=auth.issuer, clock=clock)


async def message_for(verifier: JwksTokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as raised:
        await verifier.verify(token)
    return raised.value.message


async def test_the_key_set_is_fetched_at_start_and_tokens_verify(verifier, auth, observer):
    await verifier.start()
    assert auth.jwks_calls == 1
    assert (await verifier.verify(auth.mint("u_alice"))).subject == "u_alice"
    assert auth.jwks_calls == 1
    assert observer.labels[("auth_jwks", "200")] == 1
    assert await verifier.check_ready() is None


async def test_a_rotated_key_costs_one_refetch_and_unknown_kids_are_rate_limited(verifier, auth, clock):
    await verifier.start()
    auth.rotate()
    assert (await verifier.verify(auth.mint("u_alice"))).subject == "u_alice"
    assert auth.jwks_calls == 2
    results = await asyncio.gather(
        *(message_for(verifier, auth.mint("u_x", variant="unknown_kid")) for _ in range(10))
    )
    assert set(results) == {"Invalid token: unknown signing key"}
    assert auth.jwks_calls == 2  # the last refetch was less than 30 s ago
    clock.advance(30.0)
    await message_for(verifier, auth.mint("u_x", variant="unknown_kid"))
    assert auth.jwks_calls == 3


async def test_concurrent_tokens_of_a_new_key_share_one_refetch(verifier, auth):
    await verifier.start()
    auth.rotate()
    tokens = [auth.mint(f"u_{i}") for i in range(10)]
    verified = await asyncio.gather(*(verifier.verify(t) for t in tokens))
    assert [v.subject for v in verified] == [f"u_{i}" for i in range(10)]
    assert auth.jwks_calls == 2


async def test_without_a_key_set_tokens_cannot_be_verified_until_mana_auth_answers(
    verifier, auth, clock, observer
):
    auth.jwks_status = 503
    await verifier.start()  # logged, not fatal
    with pytest.raises(VerificationUnavailable):
        await verifier.verify(auth.mint("u_alice"))
    assert await verifier.check_ready() == "HTTP 503"
    auth.jwks_status = None
    clock.advance(1.0)
    assert (await verifier.verify(auth.mint("u_alice"))).subject == "u_alice"
    assert observer.labels[("auth_jwks", "503")] == 2


async def test_an_unreachable_mana_auth_is_reported_to_readiness(client, closed_url, observer, clock, auth):
    source = HttpJwksSource(client, closed_url + JWKS_PATH, observer)
    verifier = JwksTokenVerifier(source, audience="mana", clock=clock)
    await verifier.start()
    assert await verifier.check_ready() == "connection failed"
    with pytest.raises(VerificationUnavailable):
        await verifier.verify(auth.mint("u_alice"))


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ("wrong_alg", "Invalid token: unsupported algorithm"),
        ("missing_kid", "Invalid token: missing kid"),
        ("unknown_kid", "Invalid token: unknown signing key"),
        ("bad_signature", "Invalid token: bad signature"),
        ("missing_exp", "Invalid token: missing exp"),
        ("expired", "Invalid token: expired"),
        ("not_yet_valid", "Invalid token: not yet valid"),
        ("wrong_aud", "Invalid token: wrong audience"),
        ("wrong_iss", "Invalid token: wrong issuer"),
        ("missing_sub", "Invalid token: missing sub"),
    ],
)
async def test_every_variant_of_the_fake_is_refused_with_its_message(verifier, auth, variant, message):
    await verifier.start()
    assert await message_for(verifier, auth.mint("u_alice", variant=variant)) == message
