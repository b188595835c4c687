"""The read side shared by the tools: live records of the active space, and per-field decryption.

Reads that only count or check existence stop at the live records (tools.md §1.7 step 6) and never
touch a key. Lists decrypt only the records they return, one field at a time (D13).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Collection as Names
from typing import Any, TypeVar

from mana.application.context import ToolContext
from mana.application.errors import DecryptFailed
from mana.application.ports import CipherFactory, CollectionReader, FieldCipher, KeyVault
from mana.domain.records import RecordWarning
from mana.domain.registry import Collection
from mana.domain.replay import Keep, RecordState

E = TypeVar("E")
Normaliser = Callable[..., tuple[E, list[RecordWarning]]]

SORT_ALL_UP_TO = 1000
"""Up to this many candidates a full sort is the faster way to the first ``n``."""


def first(records: Sequence[RecordState], n: int, key: Callable[[RecordState], Any]) -> list[RecordState]:
    """The first ``n`` records in ``key`` order, ties in the order given (``sorted(...)[:n]``).

    ``heapq.nsmallest`` promises the same result, but its loop runs in Python and replaces the heap
    top for nearly every record when they come in the reverse of the wanted order (a list whose
    ``order`` grew as tasks were added): 270 µs for 400 open tasks, where timsort, which takes
    such runs as they come, needs 90. Past a thousand candidates the heap's O(N log n) wins.
    """
    if len(records) <= SORT_ALL_UP_TO:
        return sorted(records, key=key)[:n]
    return heapq.nsmallest(n, records, key=key)


class Keys:
    """The caller's field cipher. Tools with encrypted fields ask for it before any mana-sync request
    (D12), so a zero-knowledge account or a missing vault fails the call before anything is read."""

    def __init__(self, vault: KeyVault, ciphers: CipherFactory) -> None:
        self._vault = vault
        self._ciphers = ciphers

    async def cipher(self, ctx: ToolContext) -> FieldCipher:
        return self._ciphers.cipher(await self._vault.master_key(ctx.caller))


async def live_records(
    reader: CollectionReader, ctx: ToolContext, collection: Collection, keep: Keep | None = None
) -> list[RecordState]:
    """The live records of the active space (mana-sync.md §10.3 steps 1-3) that ``keep`` keeps, in
    no particular order. From the state's incremental live view: O(changes since the last read),
    not a pass over a long history's every record.

    Collected into a list at once: the reader's state is shared and may advance on a later read.
    """
    state = await reader.read(ctx.caller, collection.app_id, collection.name)
    return list(state.live(ctx.user_id, ctx.space_id, keep).values())


async def count_live(reader: CollectionReader, ctx: ToolContext, collection: Collection) -> int:
    """The ``order`` of a new record (D14): live records of the active space, archived or done included."""
    state = await reader.read(ctx.caller, collection.app_id, collection.name)
    return len(state.live(ctx.user_id, ctx.space_id))


async def find_live(
    reader: CollectionReader, ctx: ToolContext, collection: Collection, record_id: str
) -> RecordState | None:
    """The record when it is live in the active space (D5), else None."""
    state = await reader.read(ctx.caller, collection.app_id, collection.name)
    record = state.records.get(record_id)
    if record is None or not record.visible_to(ctx.user_id, ctx.space_id):
        return None
    return record


def decrypt_record(
    record: RecordState, fields: Iterable[str], cipher: FieldCipher
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A copy of the record's values with ``fields`` decrypted, and the names that were unreadable.

    An unreadable field (bad blob, wrong key, not JSON, ``enc:<other version>:``) becomes None and is
    named in the second item; the stored value never reaches the result (crypto.md §5).
    """
    values = dict(record.values)
    unreadable: list[str] = []
    for name in fields:
        if name not in values:
            continue
        try:
            values[name] = cipher.decrypt(values[name])
        except DecryptFailed:
            values[name] = None
            unreadable.append(name)
    return values, tuple(sorted(unreadable))


def project(
    records: Iterable[RecordState],
    normalise: Normaliser[E],
    *,
    encrypted: Names[str] = (),
    cipher: FieldCipher | None = None,
) -> tuple[tuple[E, ...], tuple[RecordWarning, ...]]:
    """The records a list returns, decrypted and normalised onto the output schema (tools.md §1.7
    steps 8-10); warnings in record order, each record's by field name."""
    fields: Sequence[str] = tuple(sorted(encrypted))
    entities: list[E] = []
    warnings: list[RecordWarning] = []
    for record in records:
        if cipher is not None and fields:
            values, unreadable = decrypt_record(record, fields, cipher)
        else:
            values, unreadable = record.values, ()
        entity, found = normalise(
            record.record_id,
            values,
            created_at=record.raw_created_at,
            updated_at=record.updated_at,
            unreadable=unreadable,
        )
        entities.append(entity)
        warnings.extend(found)
    return tuple(entities), tuple(warnings)
