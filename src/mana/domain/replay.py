"""Field-level last-write-wins replay of one collection (mana-sync.md §10).

mana-sync never merges: every reader rebuilds the current records from the log. The rules here are
the web app's, with two deliberate differences from it: times are parsed, not compared as strings,
and an update whose insert was never seen creates nothing (no "ghost" records).

The replay is incremental: a :class:`CollectionState` can be fed more changes later and ends up
exactly where a replay of the concatenated log would (the incremental pull cache relies on this).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from mana.domain.changes import Change
from mana.domain.timestamps import format_micros, normalise_timestamp, parse_instant

UNKNOWN_TIME = -(2**63)
"""The time of a value whose time is unknown: earlier than every real time."""

_IMMUTABLE_ON_UPDATE = frozenset(("id", "spaceId", "authorId"))
PERSONAL_SPACE_PREFIX = "_personal:"


def _is_bookkeeping(key: str) -> bool:
    return key.startswith("__") or key == "_updatedAtIndex"


def _time(value: object) -> int:
    instant = parse_instant(value)
    return UNKNOWN_TIME if instant is None else instant


class RecordState:
    """The current state of one record: values, one time per field, its space and its author."""

    __slots__ = ("_created_at", "author_id", "record_id", "space_id", "times", "values")

    def __init__(self, record_id: str, space_id: str | None, author_id: str | None, created_at: object):
        self.record_id = record_id
        self.space_id = space_id
        self.author_id = author_id
        self.values: dict[str, Any] = {}
        self.times: dict[str, int] = {}
        self._created_at = created_at

    def apply(self, name: str, value: Any, time: int) -> None:
        """Set the field unless it already holds a strictly newer value (ties go to the later change)."""
        current = self.times.get(name)
        if current is None or time >= current:
            self.values[name] = value
            self.times[name] = time

    @property
    def deleted(self) -> bool:
        deleted_at = self.values.get("deletedAt")
        return isinstance(deleted_at, str) and deleted_at != ""

    @property
    def visibility(self) -> Any:
        return self.values.get("visibility")

    @property
    def raw_created_at(self) -> object:
        """``data.createdAt`` of the insert as stored, so a normaliser can warn when it is unparseable."""
        return self._created_at

    @property
    def created_at(self) -> str | None:
        """``data.createdAt`` of the insert in the output form, or None."""
        return normalise_timestamp(self._created_at) if isinstance(self._created_at, str) else None

    @property
    def updated_at(self) -> str | None:
        """The newest known field time in the output form (D3: never a stored ``updatedAt``)."""
        newest = max(self.times.values(), default=UNKNOWN_TIME)
        return None if newest == UNKNOWN_TIME else format_micros(newest)

    def visible_to(self, user_id: str, space_id: str) -> bool:
        """Live in the active space for this caller (mana-sync.md §10.3 steps 1-3)."""
        if self.deleted:
            return False
        if self.space_id != space_id and self.space_id != PERSONAL_SPACE_PREFIX + user_id:
            return False
        return not (self.values.get("visibility") == "private" and self.author_id != user_id)


class CollectionState:
    """Replay state of one collection: live records, kept-aside fields, seen event ids."""

    __slots__ = ("_aside", "_seen", "invalid", "records")

    def __init__(self) -> None:
        self.records: dict[str, RecordState] = {}
        self._aside: dict[str, list[tuple[str, Any, int]]] = {}
        self._seen: set[str] = set()
        self.invalid = 0

    def __len__(self) -> int:
        return len(self.records)

    def has_seen(self, event_id: str) -> bool:
        return event_id in self._seen

    def apply_all(self, changes: Iterable[Change]) -> None:
        for change in changes:
            self.apply(change)

    def apply(self, change: Change) -> None:
        """Replay one change in server order; an event id seen before is skipped."""
        event_id = change.event_id
        if event_id is not None:
            if event_id in self._seen:
                return
            self._seen.add(event_id)
        op = change.op
        if op == "insert":
            self._insert(change)
        elif op == "update":
            if change.fields:
                for name, fc in change.fields.items():
                    if name not in _IMMUTABLE_ON_UPDATE:
                        self._update_field(change.record_id, name, fc.value, _time(fc.time))
        elif change.deleted_at:
            self._update_field(change.record_id, "deletedAt", change.deleted_at, _time(change.deleted_at))
        else:
            self.records.pop(change.record_id, None)
            self._aside.pop(change.record_id, None)

    def _insert(self, change: Change) -> None:
        data = change.data
        if data is None:
            return
        time = _time(data.get("updatedAt"))
        if time == UNKNOWN_TIME:
            time = _time(data.get("createdAt"))
        record = self.records.get(change.record_id)
        if record is None:
            space = data.get("spaceId")
            if not (isinstance(space, str) and space):
                space = change.space_id
            author = data.get("authorId")
            record = RecordState(
                change.record_id, space, author if isinstance(author, str) else None, data.get("createdAt")
            )
            for key, value in data.items():
                if key != "id" and not _is_bookkeeping(key):
                    record.values[key] = value
                    record.times[key] = time
            self.records[change.record_id] = record
            for name, value, field_time in self._aside.pop(change.record_id, ()):
                record.apply(name, value, field_time)
            return
        for key, value in data.items():
            if key not in _IMMUTABLE_ON_UPDATE and not _is_bookkeeping(key):
                record.apply(key, value, time)

    def _update_field(self, record_id: str, name: str, value: Any, time: int) -> None:
        if _is_bookkeeping(name):
            return
        record = self.records.get(record_id)
        if record is not None:
            record.apply(name, value, time)
        else:
            self._aside.setdefault(record_id, []).append((name, value, time))

    def visible(self, user_id: str, space_id: str) -> Iterator[RecordState]:
        """The live records of the active space for this caller, in no particular order."""
        for record in self.records.values():
            if record.visible_to(user_id, space_id):
                yield record


def replay(changes: Iterable[Change]) -> CollectionState:
    """Rebuild the current records of one collection from its changes in server order."""
    state = CollectionState()
    state.apply_all(changes)
    return state
