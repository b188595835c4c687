"""The master-key cache of D12, against the in-memory vault, on a clock that moves when told."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from mana.adapters.key_cache import CachingKeyVault
from mana.adapters.memory import FixedClock, InMemoryKeyVault
from mana.application.errors import KeyUnavailable, VaultNotInitialised, ZeroKnowledge
from mana.application.ports import Caller, MasterKey


class Labels:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def key_lookup(self, result: str) -> None:
        self.counts[result] += 1


class GatedVault:
    """The in-memory vault behind a gate: a fetch stays in flight until the test opens it, and
    the clock moves by ``fetch_s`` while it does (a slow mana-auth)."""

    def __init__(self, inner: InMemoryKeyVault, clock: FixedClock, fetch_s: float = 0.0) -> None:
        self.inner = inner
        self.clock = clock
        self.fetch_s = fetch_s
        self.gate = asyncio.Event()
        self.gate.set()

    async def master_key(self, caller: Caller) -> MasterKey:
        await self.gate.wait()
        self.clock.advance(self.fetch_s)
        return await self.inner.master_key(caller)


def caller(user: str = "u_alice") -> Caller:
    return Caller(user, f"token-of-{user}")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def vault() -> InMemoryKeyVault:
    return InMemoryKeyVault()


@pytest.fixture
def labels() -> Labels:
    return Labels()


async def test_a_key_is_fetched_once_and_then_served_from_the_cache(clock, vault, labels):
    cache = CachingKeyVault(vault, clock, labels)
    first = await cache.master_key(caller())
    second = await cache.master_key(caller())
    assert first == second == vault.key_of("u_alice")
    assert vault.calls == 1
    assert labels.counts == Counter({"miss": 1, "hit": 1})


async def test_the_ttl_counts_from_the_start_of_the_fetch(clock, vault, labels):
    cache = CachingKeyVault(GatedVault(vault, clock, fetch_s=100.0), clock, labels, ttl_s=300)
    await cache.master_key(caller())  # the fetch took 100 s: the key has 200 s left
    clock.advance(199.0)
    await cache.master_key(caller())
    assert vault.calls == 1
    clock.advance(1.0)
    await cache.master_key(caller())
    assert vault.calls == 2


async def test_twenty_concurrent_callers_share_one_fetch(clock, vault, labels):
    gated = GatedVault(vault, clock)
    gated.gate.clear()
    cache = CachingKeyVault(gated, clock, labels)
    waiters = [asyncio.ensure_future(cache.master_key(caller())) for _ in range(20)]
    await asyncio.sleep(0)
    gated.gate.set()
    keys = await asyncio.gather(*waiters)
    assert len(set(keys)) == 1
    assert vault.calls == 1
    assert labels.counts == Counter({"miss": 1, "shared": 19})


async def test_a_waiter_that_gives_up_does_not_cancel_the_shared_fetch(clock, vault, labels):
    gated = GatedVault(vault, clock)
    gated.gate.clear()
    cache = CachingKeyVault(gated, clock, labels)
    first = asyncio.ensure_future(cache.master_key(caller()))
    second = asyncio.ensure_future(cache.master_key(caller()))
    await asyncio.sleep(0)
    first.cancel()
    gated.gate.set()
    assert await second == vault.key_of("u_alice")
    assert first.cancelled()
    assert vault.calls == 1


async def test_users_do_not_share_keys_or_fetches(clock, vault, labels):
    cache = CachingKeyVault(vault, clock, labels)
    a, b = await asyncio.gather(cache.master_key(caller("u_a")), cache.master_key(caller("u_b")))
    assert a != b
    assert vault.calls_by_user == Counter({"u_a": 1, "u_b": 1})


async def test_least_recently_used_users_are_evicted(clock, vault, labels):
    cache = CachingKeyVault(vault, clock, labels, max_users=2)
    await cache.master_key(caller("u_a"))
    await cache.master_key(caller("u_b"))
    await cache.master_key(caller("u_a"))  # u_b is now the least recently used
    await cache.master_key(caller("u_c"))
    assert len(cache) == 2
    await cache.master_key(caller("u_a"))
    assert vault.calls_by_user["u_a"] == 1
    await cache.master_key(caller("u_b"))
    assert vault.calls_by_user["u_b"] == 2


async def test_a_zero_knowledge_answer_is_remembered_for_sixty_seconds(clock, vault, labels):
    vault.set_zero_knowledge("u_zk")
    cache = CachingKeyVault(vault, clock, labels)
    for _ in range(3):
        with pytest.raises(ZeroKnowledge):
            await cache.master_key(caller("u_zk"))
    assert vault.calls == 1
    assert labels.counts == Counter({"miss": 1, "zero_knowledge_hit": 2})
    clock.advance(60.0)
    vault.set_key("u_zk")  # the user left zero-knowledge mode meanwhile
    assert await cache.master_key(caller("u_zk")) == vault.key_of("u_zk")
    assert vault.calls == 2


@pytest.mark.parametrize(
    ("configure", "error"),
    [
        (lambda v: v.set_not_initialised("u_alice"), VaultNotInitialised),
        (lambda v: v.set_failing("u_alice", "timeout"), KeyUnavailable),
    ],
)
async def test_other_failures_are_not_cached(clock, vault, labels, configure, error):
    configure(vault)
    cache = CachingKeyVault(vault, clock, labels)
    with pytest.raises(error):
        await cache.master_key(caller())
    with pytest.raises(error):
        await cache.master_key(caller())
    assert vault.calls == 2
    assert labels.counts == Counter({"error": 2})
    vault.set_key("u_alice")
    await cache.master_key(caller())
    assert vault.calls == 3


async def test_concurrent_callers_share_a_failure_and_the_next_call_retries(clock, vault, labels):
    vault.set_failing("u_alice")
    gated = GatedVault(vault, clock)
    gated.gate.clear()
    cache = CachingKeyVault(gated, clock, labels)
    waiters = [asyncio.ensure_future(cache.master_key(caller())) for _ in range(5)]
    await asyncio.sleep(0)
    gated.gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, KeyUnavailable) for r in results)
    assert vault.calls == 1
    assert labels.counts == Counter({"error": 1, "shared": 4})


async def test_key_bytes_never_appear_in_reprs(clock, vault, labels):
    material = bytes(range(32))
    vault.set_key("u_alice", material)
    cache = CachingKeyVault(vault, clock, labels)
    key = await cache.master_key(caller())
    assert material.hex() not in repr(key)
    assert repr(material) not in repr(key)
    assert repr(material) not in repr(cache._entries)
