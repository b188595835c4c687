"""The vault key over HTTP against the fake mana-auth, alone and behind the D12 cache."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections import Counter

import pytest

from mana.adapters.key_cache import CachingKeyVault
from mana.adapters.memory import SystemClock
from mana.adapters.vault_http import HttpKeyVault, decode_master_key
from mana.application.errors import AuthUnauthorized, KeyUnavailable, VaultNotInitialised, ZeroKnowledge
from mana.application.ports import Caller

pytestmark = pytest.mark.integration

KEY = bytes(range(32))
KEY_B64 = base64.b64encode(KEY).decode()


class Lookups:
    def __init__(self) -> None:
        self.results: Counter[str] = Counter()

    def key_lookup(self, result: str) -> None:
        self.results[result] += 1


@pytest.fixture
def vault(client, auth_url, observer) -> HttpKeyVault:
    return HttpKeyVault(client, auth_url, observer, total_timeout_s=2.0)


@pytest.fixture
def alice(auth) -> Caller:
    auth.user("u_alice").master_key = KEY
    return Caller("u_alice", auth.mint("u_alice"))


async def test_a_normal_user_gets_the_32_byte_key(vault, alice, auth, observer):
    key = await vault.master_key(alice)
    assert key.material == KEY
    assert auth.last_headers["vault_key"]["authorization"] == f"Bearer {alice.token}"
    assert auth.user("u_alice").vault_calls == 1
    assert observer.labels[("auth_vault_key", "200")] == 1


async def test_zero_knowledge_is_recognised_by_the_recovery_flag(vault, alice, auth):
    auth.set_vault("u_alice", "zero_knowledge")
    with pytest.raises(ZeroKnowledge):
        await vault.master_key(alice)


@pytest.mark.parametrize(
    "body",
    [
        {"formatVersion": 1},
        {"masterKey": None, "formatVersion": 1},
        {"masterKey": KEY_B64, "requiresRecoveryCode": True},
    ],
)
async def test_a_200_without_a_usable_key_is_zero_knowledge(vault, alice, auth, body):
    auth.set_vault("u_alice", "raw", raw_body=body)
    with pytest.raises(ZeroKnowledge):
        await vault.master_key(alice)


async def test_a_vault_never_created_is_not_initialised(vault, alice, auth):
    auth.set_vault("u_alice", "not_initialised")
    with pytest.raises(VaultNotInitialised):
        await vault.master_key(alice)


@pytest.mark.parametrize("variant", ["expired", "wrong_iss", "wrong_aud", "bad_signature"])
async def test_a_token_mana_auth_rejects_is_auth_unauthorized(vault, auth, variant):
    with pytest.raises(AuthUnauthorized):
        await vault.master_key(Caller("u_alice", auth.mint("u_alice", variant=variant)))


async def test_a_server_failure_is_key_unavailable(vault, alice, auth):
    auth.set_vault("u_alice", "error")
    with pytest.raises(KeyUnavailable) as raised:
        await vault.master_key(alice)
    assert raised.value.reason == "HTTP 500"


async def test_a_wrong_url_is_key_unavailable_not_a_missing_vault(client, auth_url, observer, alice):
    misconfigured = HttpKeyVault(client, auth_url + "/nope", observer)
    with pytest.raises(KeyUnavailable) as raised:
        await misconfigured.master_key(alice)
    assert raised.value.reason == "HTTP 404"


async def test_timeouts_and_refused_connections_are_key_unavailable(
    client, auth_url, closed_url, alice, auth, observer
):
    auth.latency_s = 0.5
    slow = HttpKeyVault(client, auth_url, observer, total_timeout_s=0.1)
    with pytest.raises(KeyUnavailable) as timed_out:
        await slow.master_key(alice)
    assert timed_out.value.reason == "timeout"
    with pytest.raises(KeyUnavailable) as refused:
        await HttpKeyVault(client, closed_url, observer).master_key(alice)
    assert refused.value.reason == "connection failed"
    assert observer.labels[("auth_vault_key", "timeout")] == 1
    assert observer.labels[("auth_vault_key", "error")] == 1


@pytest.mark.parametrize(
    "master_key",
    [
        base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode(),  # url-safe alphabet
        base64.b64encode(bytes(16)).decode(),  # 16 bytes
        base64.b64encode(bytes(33)).decode(),  # 33 bytes
        "not base64 at all!",
        "A",
        7,
        ["AAAA"],
    ],
)
async def test_a_key_that_is_not_32_bytes_of_standard_base64_is_an_invalid_key(
    vault, alice, auth, master_key
):
    auth.set_vault("u_alice", "raw", raw_body={"masterKey": master_key, "formatVersion": 1})
    with pytest.raises(KeyUnavailable) as raised:
        await vault.master_key(alice)
    assert raised.value.reason == "invalid key"


async def test_a_200_that_is_not_a_json_object_is_an_invalid_response(vault, alice, auth):
    auth.set_vault("u_alice", "raw", raw_body=b"<html>proxy</html>")
    with pytest.raises(KeyUnavailable) as raised:
        await vault.master_key(alice)
    assert raised.value.reason == "invalid response"


def test_standard_base64_with_or_without_padding_is_decoded():
    assert decode_master_key(KEY_B64.rstrip("=")).material == KEY
    assert decode_master_key(KEY_B64).material == KEY
    both_symbols = b"\xfb\xff" * 16
    assert decode_master_key(base64.b64encode(both_symbols).decode()).material == both_symbols


async def test_key_bytes_never_reach_logs_or_errors(vault, alice, auth, caplog):
    caplog.set_level(logging.DEBUG)
    await vault.master_key(alice)
    wrong = base64.b64encode(KEY[:31]).decode()
    auth.set_vault("u_alice", "raw", raw_body={"masterKey": wrong})
    with pytest.raises(KeyUnavailable) as raised:
        await vault.master_key(alice)
    assert "expected 32-byte master key, got 31" in caplog.text
    for secret in (KEY_B64, wrong, KEY.hex(), repr(KEY), alice.token):
        assert secret not in caplog.text
        assert secret not in str(raised.value)


async def test_twenty_concurrent_requests_for_one_user_make_one_vault_request(vault, alice, auth):
    lookups = Lookups()
    cache = CachingKeyVault(vault, SystemClock(), lookups)
    auth.latency_s = 0.05
    keys = await asyncio.gather(*(cache.master_key(alice) for _ in range(20)))
    assert {k.material for k in keys} == {KEY}
    assert auth.user("u_alice").vault_calls == 1
    assert lookups.results == Counter({"miss": 1, "shared": 19})
    await cache.master_key(alice)
    assert auth.user("u_alice").vault_calls == 1
    assert lookups.results["hit"] == 1


async def test_zero_knowledge_is_remembered_and_a_missing_vault_is_asked_again(vault, auth):
    cache = CachingKeyVault(vault, SystemClock(), Lookups())
    auth.set_vault("u_zk", "zero_knowledge")
    auth.set_vault("u_new", "not_initialised")
    zk, new = Caller("u_zk", auth.mint("u_zk")), Caller("u_new", auth.mint("u_new"))
    for _ in range(3):
        with pytest.raises(ZeroKnowledge):
            await cache.master_key(zk)
        with pytest.raises(VaultNotInitialised):
            await cache.master_key(new)
    assert auth.user("u_zk").vault_calls == 1
    assert auth.user("u_new").vault_calls == 3
