"""Field-level last-write-wins replay of one collection (mana-sync.md §10).

mana-sync never merges: every reader rebuilds the current records from the log. The rules here are
the web app's, with two deliberate differences from it: times are parsed, not compared as strings,
and an update whose insert was never seen creates nothing (no "ghost" records).

The replay is incremental: a :class:`CollectionState` can be fed more changes later and ends up
exactly where a replay of the concatenated log would (the incremental pull cache relies on this).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from sys import intern
from typing import Any

from mana.domain.changes import Change, WireChange, parts_of
from mana.domain.timestamps import format_micros, normalise_timestamp, parse_instant

UNKNOWN_TIME = -(2**63)
"""The time of a value whose time is unknown: earlier than every real time."""

_IMMUTABLE_ON_UPDATE = frozenset(("id", "spaceId", "authorId"))
PERSONAL_SPACE_PREFIX = "_personal:"


def _is_bookkeeping(key: str) -> bool:
    # Most keys do not start with "_": one character compare decides them.
    return key[:1] == "_" and (key.startswith("__") or key == "_updatedAtIndex")


_SHARED_KEYS = frozenset(("spaceId", "authorId"))
_SHORT = 16


def _fields_of(data: Mapping[str, Any]) -> dict[str, Any]:
    """An insert's fields: every key of ``data`` but ``id`` and the bookkeeping keys.

    Short strings (enums such as ``priority`` or ``visibility``, dates) and the space and author
    ids repeat across the records of a collection: each is kept once (``sys.intern``, which lets
    go of a string no record holds any more), about 200 bytes less per record of a long history.
    """
    values = {}
    for key, value in data.items():
        if key[:1] == "_":
            if _is_bookkeeping(key):
                continue
        elif key == "id":
            continue
        if value.__class__ is str and (len(value) <= _SHORT or key in _SHARED_KEYS):
            value = intern(value)
        values[key] = value
    return values


def _time(value: object) -> int:
    instant = parse_instant(value)
    return UNKNOWN_TIME if instant is None else instant


class RecordState:
    """The current state of one record: values, one time per field, its space and its author.

    Every field of the insert has the insert's time, and most fields are never written again, so
    the times are kept as that one baseline plus a dict of the fields whose time differs from it
    (created on the first such field): a long history holds tens of thousands of records.
    """

    __slots__ = ("_base", "_created_at", "_later", "author_id", "record_id", "space_id", "values")

    def __init__(
        self,
        record_id: str,
        space_id: str | None,
        author_id: str | None,
        created_at: object,
        values: dict[str, Any] | None = None,
        time: int = UNKNOWN_TIME,
    ) -> None:
        """``values`` all have the time ``time`` (an insert's fields and its baseline)."""
        self.record_id = record_id
        self.space_id = space_id
        self.author_id = author_id
        self.values: dict[str, Any] = {} if values is None else values
        self._base = time
        self._later: dict[str, int] | None = None
        self._created_at = created_at

    def apply(self, name: str, value: Any, time: int) -> None:
        """Set the field unless it already holds a strictly newer value (ties go to the later change)."""
        later = self._later
        if later is not None and name in later:
            if time >= later[name]:
                self.values[name] = value
                later[name] = time
        elif name not in self.values or time >= self._base:
            self.values[name] = value
            if time != self._base:
                if later is None:
                    self._later = {name: time}
                else:
                    later[name] = time

    @property
    def times(self) -> dict[str, int]:
        """The time of each field (a new dict: the state keeps them more compactly)."""
        later = self._later or {}
        base = self._base
        return {name: later.get(name, base) for name in self.values}

    @property
    def newest_time(self) -> int:
        """The newest field time, :data:`UNKNOWN_TIME` when there is none."""
        later = self._later
        if not later:
            return self._base if self.values else UNKNOWN_TIME
        newest = max(later.values())
        if len(later) < len(self.values) and self._base > newest:  # some field keeps the baseline
            return self._base
        return newest

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
        newest = self.newest_time
        return None if newest == UNKNOWN_TIME else format_micros(newest)

    def visible_to(self, user_id: str, space_id: str) -> bool:
        """Live in the active space for this caller (mana-sync.md §10.3 steps 1-3)."""
        if self.deleted:
            return False
        if self.space_id != space_id and self.space_id != PERSONAL_SPACE_PREFIX + user_id:
            return False
        return not (self.values.get("visibility") == "private" and self.author_id != user_id)


Keep = Callable[[Mapping[str, Any]], bool]
"""A filter on a record's values (``task_is_open``, ...) that a live view applies on top of
visibility; a module-level function, so that views can be found again by it."""

_NONE_SEEN: frozenset[str] = frozenset()
MAX_VIEWS = 16
JOURNAL_MIN = 4096


class _LiveView:
    """The records one caller sees in one space (and that ``keep`` keeps), kept up to date from the
    state's journal: a read after a few new changes re-checks those records only."""

    __slots__ = ("keep", "offset", "records", "space_id", "user_id")

    def __init__(self, user_id: str, space_id: str, keep: Keep | None) -> None:
        self.user_id = user_id
        self.space_id = space_id
        self.keep = keep
        self.records: dict[str, RecordState] = {}
        self.offset = 0

    def admits(self, record: RecordState) -> bool:
        return record.visible_to(self.user_id, self.space_id) and (
            self.keep is None or self.keep(record.values)
        )


class CollectionState:
    """Replay state of one collection: live records, kept-aside fields, seen event ids.

    Every applied change also appends its record id to a journal, so that live views (the
    records one caller sees in one space) follow the state in O(new changes) instead of a pass
    over every record on every read.
    """

    __slots__ = ("_aside", "_journal", "_journal_base", "_seen", "_views", "invalid", "records")

    def __init__(self) -> None:
        self.records: dict[str, RecordState] = {}
        self._aside: dict[str, list[tuple[str, Any, int]]] = {}
        self._seen: set[str] | frozenset[str] = _NONE_SEEN  # a set once a change is applied
        self.invalid = 0
        self._journal: list[str] = []
        self._journal_base = 0
        self._views: dict[tuple[str, str, Keep | None], _LiveView] = {}

    def __len__(self) -> int:
        return len(self.records)

    def has_seen(self, event_id: str) -> bool:
        return event_id in self._seen

    @property
    def seen_count(self) -> int:
        return len(self._seen)

    def forget_event_ids_except(self, keep: Iterable[str]) -> None:
        """Forget every seen event id but those in ``keep``.

        For a caller that knows which changes can never come again: an incremental reader that
        resumes after a cursor will never be sent a change stored well before it (mana-sync gives
        each stored change a fresh id), so remembering those ids only costs memory, about 100
        bytes per change of a long history.
        """
        self._seen = self._seen.intersection(keep)

    def forget_event_ids(self, gone: Iterable[str]) -> None:
        """Forget these seen event ids (the same knowledge as above, when few ids go)."""
        if isinstance(self._seen, set):
            self._seen.difference_update(gone)

    def apply_all(self, changes: Iterable[Change]) -> None:
        self._apply_parts(map(parts_of, changes))
        self._compact_journal()

    def apply(self, change: Change) -> None:
        """Replay one change in server order; an event id seen before is skipped."""
        self._apply_parts((parts_of(change),))

    def apply_wire(self, changes: Sequence[WireChange]) -> None:
        """Replay changes as :func:`~mana.domain.changes.read_change` yields them, in server order:
        what a pull page holds, replayed without building a ``Change`` per change."""
        if changes:
            self._apply_parts(changes)
            self._compact_journal()

    def _apply_parts(self, changes: Iterable[WireChange]) -> None:
        seen = self._seen
        if not isinstance(seen, set):
            seen = self._seen = set()
        journal = self._journal
        records = self.records
        for event_id, _table, record_id, op, data, fields, deleted_at, space_id, _a, _o, _v in changes:
            if event_id is not None:
                if event_id in seen:
                    continue
                seen.add(event_id)
            journal.append(record_id)
            if op == "update":
                if fields:
                    record = records.get(record_id)
                    for name, entry in fields.items():
                        if name in _IMMUTABLE_ON_UPDATE or _is_bookkeeping(name):
                            continue
                        # The time of D1 (FieldChange.time): `at` if a non-empty string, else
                        # `updatedAt`; anything else (absent, empty, not a string) is unknown.
                        time = _time(entry.get("at") or entry.get("updatedAt"))
                        if record is not None:
                            record.apply(name, entry["value"], time)
                        else:
                            self._aside.setdefault(record_id, []).append((name, entry["value"], time))
            elif op == "insert":
                if data is not None:
                    self._insert(record_id, data, space_id)
            elif deleted_at:
                self._update_field(record_id, "deletedAt", deleted_at, _time(deleted_at))
            else:
                records.pop(record_id, None)
                self._aside.pop(record_id, None)

    def _insert(self, record_id: str, data: Mapping[str, Any], space_id: str | None) -> None:
        time = _time(data.get("updatedAt"))
        if time == UNKNOWN_TIME:
            time = _time(data.get("createdAt"))
        record = self.records.get(record_id)
        if record is None:
            values = _fields_of(data)
            space = values.get("spaceId")
            if not (isinstance(space, str) and space):
                space = None if space_id is None else intern(space_id)
            author = values.get("authorId")
            record = RecordState(
                record_id,
                space,
                author if isinstance(author, str) else None,
                data.get("createdAt"),
                values,
                time,
            )
            self.records[record_id] = record
            for name, value, field_time in self._aside.pop(record_id, ()):
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

    def live(self, user_id: str, space_id: str, keep: Keep | None = None) -> Mapping[str, RecordState]:
        """What :meth:`visible` yields (and ``keep`` keeps), by record id, from a view kept up to
        date incrementally. Read-only, and valid until the state is fed more changes."""
        key = (user_id, space_id, keep)
        view = self._views.get(key)
        if view is None or view.offset < self._journal_base:
            view = _LiveView(user_id, space_id, keep)
            view.records = {rid: r for rid, r in self.records.items() if view.admits(r)}
            if key not in self._views and len(self._views) >= MAX_VIEWS:
                del self._views[next(iter(self._views))]
            self._views[key] = view
        else:
            records = self.records
            kept = view.records
            for record_id in self._journal[view.offset - self._journal_base :]:
                record = records.get(record_id)
                if record is not None and view.admits(record):
                    kept[record_id] = record
                else:
                    kept.pop(record_id, None)
        view.offset = self._journal_base + len(self._journal)
        self._compact_journal()
        return view.records

    def _compact_journal(self) -> None:
        """Keep the journal at most about twice as long as there are records: past that it is
        dropped, and a view that had not caught up rebuilds once (O(records), amortised over at
        least as many changes), so a long-lived state never grows it without bound."""
        if len(self._journal) > max(JOURNAL_MIN, 2 * len(self.records)):
            self._journal_base += len(self._journal)
            self._journal.clear()


def replay(changes: Iterable[Change]) -> CollectionState:
    """Rebuild the current records of one collection from its changes in server order."""
    state = CollectionState()
    state.apply_all(changes)
    return state
