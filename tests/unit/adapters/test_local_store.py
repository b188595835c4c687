"""Local mode's SQLite file: users, keys, spaces, memberships and the change log in one place."""

from __future__ import annotations

import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mana.adapters.in_process_sync import InProcessChangeLog
from mana.adapters.local_store import DATABASE_FILE, LocalDatabase, LocalUsers
from mana.application.errors import KeyUnavailable
from mana.application.ports import Caller
from mana.application.reading import FullReplayReader
from mana.domain.changes import Actor, Change
from mana.domain.spaces import Space

NOW = "2026-05-01T09:00:00.000Z"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[LocalDatabase]:
    database = LocalDatabase(tmp_path / "data" / "nested")
    yield database
    database.close()


def test_the_data_dir_and_file_are_private(tmp_path: Path, db: LocalDatabase) -> None:
    assert db.path == tmp_path / "data" / "nested" / DATABASE_FILE
    assert mode(db.data_dir) == 0o700
    assert mode(db.path) == 0o600
    db.users.get_or_create("alice")
    for companion in db.data_dir.glob(DATABASE_FILE + "-*"):  # WAL and shared-memory files
        assert mode(companion) == 0o600
    assert db.is_ready()


def test_an_existing_data_dir_is_left_as_it_is(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with LocalDatabase(shared) as database:
        assert mode(shared) == 0o755
        assert database.path.is_file()


def test_users_are_created_once_and_found_by_name_and_id(db: LocalDatabase) -> None:
    alice = db.users.get_or_create("alice")
    assert uuid.UUID(alice.id).version == 4
    assert uuid.UUID(alice.space_id).version == 4
    assert alice.id != alice.space_id
    assert db.users.get_or_create("  alice ") == alice
    bob = db.users.get_or_create("bob")
    assert bob.id != alice.id
    assert bob.space_id != alice.space_id
    assert db.users.by_id(alice.id) == alice
    assert db.users.by_id("nobody") is None
    assert [u.name for u in db.users.all()] == ["alice", "bob"]


@pytest.mark.parametrize("name", ["", "   ", "a\nb", "x" * 65, "bad\x00", "lone \ud800"])
def test_unusable_names_are_refused(db: LocalDatabase, name: str) -> None:
    with pytest.raises(ValueError, match="local user name"):
        db.users.get_or_create(name)


def test_users_and_keys_persist_across_opens(tmp_path: Path) -> None:
    with LocalDatabase(tmp_path) as first:
        alice = first.users.get_or_create("alice")
        key = first.users.master_key(alice.id)
    # A second process (``mana-mcp token`` next to ``serve``) sees the same user and key.
    with LocalDatabase(tmp_path) as second:
        assert second.users.get_or_create("alice") == alice
        assert second.users.master_key(alice.id) == key


def test_a_user_created_by_another_connection_is_found(tmp_path: Path) -> None:
    with LocalDatabase(tmp_path) as server_side:
        assert server_side.users.by_id("x") is None
        other = LocalUsers(server_side.path)
        carol = other.get_or_create("carol")
        other.close()
        assert server_side.users.by_id(carol.id) == carol
        assert server_side.users.memberships(carol.id) == {carol.space_id}


async def test_key_vault_gives_each_user_their_own_32_byte_key(db: LocalDatabase) -> None:
    alice, bob = db.users.get_or_create("alice"), db.users.get_or_create("bob")
    alice_key = await db.key_vault.master_key(Caller(alice.id, "t"))
    bob_key = await db.key_vault.master_key(Caller(bob.id, "t"))
    assert len(alice_key.material) == 32
    assert alice_key != bob_key
    assert await db.key_vault.master_key(Caller(alice.id, "t")) == alice_key
    with pytest.raises(KeyUnavailable) as failure:
        await db.key_vault.master_key(Caller("unknown", "t"))
    assert failure.value.reason == "unknown local user"


async def test_space_directory_lists_exactly_the_personal_space(db: LocalDatabase) -> None:
    alice = db.users.get_or_create("alice")
    spaces = await db.space_directory.spaces(Caller(alice.id, "t"))
    assert list(spaces) == [
        Space(id=alice.space_id, name="Personal", slug=None, type="personal", role="owner")
    ]
    assert list(await db.space_directory.spaces(Caller("unknown", "t"))) == []
    assert db.users.memberships(alice.id) == {alice.space_id}
    assert db.users.memberships("unknown") == frozenset()


async def test_change_log_visibility_follows_the_personal_spaces(db: LocalDatabase) -> None:
    alice, bob = db.users.get_or_create("alice"), db.users.get_or_create("bob")
    log = InProcessChangeLog(db.sync_server())
    actor = Actor("system", "system:mcp", "Agent via MCP")

    def habit(record_id: str, space: str, author: str) -> Change:
        data = {"id": record_id, "title": "t", "spaceId": space, "authorId": author, "createdAt": NOW}
        return Change("habits", record_id, "insert", data=data, space_id=space, actor=actor, origin="agent")

    await log.push(Caller(alice.id, "t"), "habits", habit("a1", alice.space_id, alice.id), NOW)
    # No membership check on writes: Bob can write into Alice's space, and she sees it.
    await log.push(Caller(bob.id, "t"), "habits", habit("b1", alice.space_id, bob.id), NOW)
    await log.push(Caller(bob.id, "t"), "habits", habit("b2", bob.space_id, bob.id), NOW)
    reader = FullReplayReader(log)
    assert set((await reader.read(Caller(alice.id, "t"), "habits", "habits")).records) == {"a1", "b1"}
    assert set((await reader.read(Caller(bob.id, "t"), "habits", "habits")).records) == {"b1", "b2"}


def test_the_database_is_not_ready_once_its_file_is_gone(tmp_path: Path) -> None:
    database = LocalDatabase(tmp_path)
    database.path.unlink()
    assert not database.is_ready()
    database.close()
