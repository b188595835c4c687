"""The per-user space cache of D6: TTL, the refetch-once rule, single flight, change listeners."""

from __future__ import annotations

import asyncio

import pytest

from mana.adapters.memory import FixedClock, StaticSpaceDirectory
from mana.adapters.space_cache import CachingSpaceDirectory
from mana.application.errors import SpacesUnavailable
from mana.application.ports import Caller
from mana.domain.spaces import Space

ALICE = Caller("u_alice", "token-a")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def directory() -> StaticSpaceDirectory:
    return StaticSpaceDirectory({"u_alice": [Space("sp_home", "Home", type="personal")]})


async def test_spaces_are_cached_for_five_minutes_from_the_fetch(clock, directory):
    cache = CachingSpaceDirectory(directory, clock)
    assert [s.id for s in await cache.spaces(ALICE)] == ["sp_home"]
    clock.advance(299.0)
    await cache.spaces(ALICE)
    assert directory.calls == 1
    clock.advance(1.0)
    await cache.spaces(ALICE)
    assert directory.calls == 2


async def test_membership_comes_from_the_cached_entry(clock, directory):
    cache = CachingSpaceDirectory(directory, clock)
    assert await cache.is_member(ALICE, "sp_home")
    assert await cache.is_member(ALICE, "sp_home")
    assert directory.calls == 1


async def test_an_unknown_space_in_a_young_entry_is_refused_without_a_refetch(clock, directory):
    cache = CachingSpaceDirectory(directory, clock)
    await cache.spaces(ALICE)
    clock.advance(30.0)
    assert not await cache.is_member(ALICE, "sp_new")
    assert directory.calls == 1


async def test_an_unknown_space_in_an_entry_older_than_30_s_refetches_once(clock, directory):
    cache = CachingSpaceDirectory(directory, clock)
    await cache.spaces(ALICE)
    clock.advance(31.0)
    directory.set("u_alice", [Space("sp_home", "Home"), Space("sp_new", "New")])
    assert await cache.is_member(ALICE, "sp_new")
    assert directory.calls == 2
    # still not a member of this one; the entry is young again, so no further request
    assert not await cache.is_member(ALICE, "sp_other")
    assert directory.calls == 2


async def test_a_space_still_missing_after_the_refetch_is_refused(clock, directory):
    cache = CachingSpaceDirectory(directory, clock)
    await cache.spaces(ALICE)
    clock.advance(60.0)
    assert not await cache.is_member(ALICE, "sp_foreign")
    assert directory.calls == 2


async def test_no_entry_and_a_failing_lookup_is_unavailable(clock, directory):
    directory.set_failing("timeout")
    cache = CachingSpaceDirectory(directory, clock)
    with pytest.raises(SpacesUnavailable) as raised:
        await cache.is_member(ALICE, "sp_home")
    assert raised.value.reason == "timeout"
    with pytest.raises(SpacesUnavailable):
        await cache.spaces(ALICE)
    assert directory.calls == 2  # failures are not cached


async def test_a_failing_refetch_answers_from_the_entry_within_its_ttl(clock, directory):
    cache = CachingSpaceDirectory(directory, clock)
    await cache.spaces(ALICE)
    clock.advance(45.0)
    directory.set_failing("HTTP 503")
    assert not await cache.is_member(ALICE, "sp_new")
    assert await cache.is_member(ALICE, "sp_home")


async def test_an_expired_entry_is_not_used_when_the_lookup_fails(clock, directory):
    cache = CachingSpaceDirectory(directory, clock)
    await cache.spaces(ALICE)
    clock.advance(300.0)
    directory.set_failing("HTTP 503")
    with pytest.raises(SpacesUnavailable):
        await cache.is_member(ALICE, "sp_home")


async def test_concurrent_lookups_share_one_request(clock, directory):
    cache = CachingSpaceDirectory(directory, clock)
    results = await asyncio.gather(*(cache.is_member(ALICE, "sp_home") for _ in range(10)))
    assert all(results)
    assert directory.calls == 1


async def test_listeners_hear_when_the_set_of_space_ids_changes(clock, directory):
    heard: list[str] = []
    cache = CachingSpaceDirectory(directory, clock, on_change=heard.append)
    await cache.spaces(ALICE)
    assert heard == ["u_alice"]  # nothing to compare with: assume it changed
    clock.advance(300.0)
    directory.set("u_alice", [Space("sp_home", "Home renamed")])
    await cache.spaces(ALICE)
    assert heard == ["u_alice"]  # same ids: a rename is not a membership change
    clock.advance(300.0)
    directory.set("u_alice", [Space("sp_home", "Home"), Space("sp_club", "Club")])
    await cache.spaces(ALICE)
    assert heard == ["u_alice", "u_alice"]


async def test_least_recently_used_users_are_evicted(clock, directory):
    cache = CachingSpaceDirectory(directory, clock, max_users=1)
    bob = Caller("u_bob", "token-b")
    await cache.spaces(ALICE)
    await cache.spaces(bob)
    await cache.spaces(ALICE)
    assert directory.calls_by_user == {"u_alice": 2, "u_bob": 1}
