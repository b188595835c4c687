"""The harness adapters: key vault modes, space directory, clocks and id sources."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mana.adapters.memory import (
    FixedClock,
    InMemoryKeyVault,
    SequentialIdSource,
    StaticSpaceDirectory,
    SystemClock,
    UuidIdSource,
)
from mana.application.errors import KeyUnavailable, SpacesUnavailable, VaultNotInitialised, ZeroKnowledge
from mana.application.ports import Caller
from mana.domain.spaces import Space

ALICE = Caller("u_alice", "t")
BOB = Caller("u_bob", "t")


async def test_vault_gives_a_set_key_and_generates_one_for_unknown_users() -> None:
    vault = InMemoryKeyVault()
    given = vault.set_key("u_alice", bytes(range(32)))
    assert (await vault.master_key(ALICE)) == given
    generated = await vault.master_key(BOB)
    assert len(generated.material) == 32
    assert (await vault.master_key(BOB)) == generated
    assert vault.key_of("u_bob") == generated
    assert vault.calls == 3
    assert vault.calls_by_user == {"u_alice": 1, "u_bob": 2}
    assert vault.set_key("u_carol") != vault.set_key("u_dave")


async def test_vault_modes_raise_the_port_errors() -> None:
    vault = InMemoryKeyVault()
    vault.set_zero_knowledge("u_alice")
    with pytest.raises(ZeroKnowledge):
        await vault.master_key(ALICE)
    vault.set_not_initialised("u_alice")
    with pytest.raises(VaultNotInitialised):
        await vault.master_key(ALICE)
    vault.set_failing("u_alice", "timeout")
    with pytest.raises(KeyUnavailable) as failure:
        await vault.master_key(ALICE)
    assert failure.value.reason == "timeout"
    with pytest.raises(ValueError, match="no key"):
        vault.key_of("u_alice")
    assert vault.calls == 3
    with pytest.raises(ValueError, match="32-byte"):
        vault.set_key("u_alice", b"short")


async def test_space_directory_is_settable_counts_calls_and_serves_memberships() -> None:
    family = Space("sp_family", "Family", "family", "family", "member")
    directory = StaticSpaceDirectory({"u_alice": [family]})
    assert list(await directory.spaces(ALICE)) == [family]
    assert list(await directory.spaces(BOB)) == []
    directory.set("u_bob", [family, Space("sp_bob", "Bob", type="personal")])
    assert [s.id for s in await directory.spaces(BOB)] == ["sp_family", "sp_bob"]
    assert directory.memberships("u_bob") == {"sp_family", "sp_bob"}
    assert directory.memberships("nobody") == frozenset()
    directory.set_failing("HTTP 503")
    with pytest.raises(SpacesUnavailable) as failure:
        await directory.spaces(ALICE)
    assert failure.value.reason == "HTTP 503"
    directory.set_failing(None)
    assert len(await directory.spaces(ALICE)) == 1
    assert directory.calls == 5
    assert directory.calls_by_user["u_bob"] == 2


def test_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(datetime(2026, 5, 1, 9, tzinfo=UTC), monotonic_start=5.0)
    assert clock.now() == clock.now() == datetime(2026, 5, 1, 9, tzinfo=UTC)
    clock.advance(1.5)
    assert clock.now() == datetime(2026, 5, 1, 9, 0, 1, 500000, tzinfo=UTC)
    assert clock.monotonic() == 6.5
    clock.advance(delta=timedelta(minutes=5))
    assert clock.monotonic() == 306.5
    clock.set(datetime(2026, 5, 1, 8, tzinfo=UTC))  # the wall clock may jump back, monotonic never does
    assert clock.now().hour == 8
    assert clock.monotonic() == 306.5
    with pytest.raises(ValueError, match="forwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="timezone"):
        FixedClock(datetime(2026, 5, 1))


def test_system_clock_is_aware_utc_and_monotonic() -> None:
    clock = SystemClock()
    now = clock.now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert abs((datetime.now(UTC) - now).total_seconds()) < 5
    first = clock.monotonic()
    assert clock.monotonic() >= first


def test_id_sources_give_lowercase_uuid_v4_strings() -> None:
    sequential = SequentialIdSource(namespace=0xAB)
    first, second = sequential.new_id(), sequential.new_id()
    assert first == "000000ab-0000-4000-8000-000000000001"
    assert second == "000000ab-0000-4000-8000-000000000002"
    assert SequentialIdSource(namespace=0xAB).new_id() == first  # deterministic
    random_id = UuidIdSource().new_id()
    for value in (first, random_id):
        parsed = uuid.UUID(value)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == value
    assert UuidIdSource().new_id() != random_id
