"""Changes of the mana-sync log: what a reader receives and what the gateway writes.

The wire shapes are fixed by mana-sync.md §4 and §6. Parsing applies the validity rules the web app
applies (§6): a change it would drop as malformed is dropped here too, with the rule that failed,
never its values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast

import attrs

Op = Literal["insert", "update", "delete"]
OPS: frozenset[str] = frozenset(("insert", "update", "delete"))

WIRE_CLIENT_ID = "mana-mcp"
"""X-Client-Id of every push (D2)."""
READER_CLIENT_ID = "mana-mcp-reader"
"""X-Client-Id of every pull: differs from the writer's so that our own writes are visible (D4)."""


@attrs.frozen(slots=True)
class FieldChange:
    """One field of an update: the value and the raw time strings as stored."""

    value: Any
    at: str | None = None
    updated_at: str | None = None

    @property
    def time(self) -> str | None:
        """``at`` when it is a non-empty string, else ``updatedAt`` (D1: readers accept either key)."""
        if self.at:
            return self.at
        return self.updated_at or None


@attrs.frozen(slots=True)
class Actor:
    kind: str
    principal_id: str
    display_name: str

    def to_wire(self) -> dict[str, str]:
        return {"kind": self.kind, "principalId": self.principal_id, "displayName": self.display_name}


@attrs.frozen(slots=True)
class Change:
    """A change as a reader sees it (server shape) or as the gateway writes it (client shape)."""

    table: str
    record_id: str
    op: Op
    data: Mapping[str, Any] | None = None
    fields: Mapping[str, FieldChange] | None = None
    deleted_at: str | None = None
    space_id: str | None = None
    event_id: str | None = None
    actor: Any = None
    origin: str | None = None
    schema_version: int | None = None


@attrs.frozen(slots=True)
class InvalidChange:
    """A change the web app would drop as malformed; only its event id and the rule are kept."""

    event_id: str | None
    rule: str


WireFields = Mapping[str, Mapping[str, Any]]
"""The ``fields`` of an update as read, entries unchanged: each holds ``value``, and ``at`` is
absent or a string. An entry's time (D1) is ``at`` when it is a non-empty string, else
``updatedAt`` when that is a non-empty string, else unknown (:attr:`FieldChange.time`)."""

WireChange = tuple[
    str | None,  # eventId
    str,  # table
    str,  # id
    Op,  # op
    Mapping[str, Any] | None,  # data
    WireFields | None,  # fields
    str | None,  # deletedAt
    str | None,  # spaceId, when a non-empty string
    Any,  # actor
    str | None,  # origin
    int | None,  # schemaVersion
]
"""A valid change as plain values, in this order: what :func:`read_change` yields and a
:class:`Change` is built from. A cold read replays these directly (``CollectionState.apply_wire``):
building a frozen ``Change`` and its ``FieldChange`` objects cost about half of parsing a page."""


def read_change(raw: object) -> WireChange | InvalidChange:
    """Check one change object of a pull page or push delta against the web app's rules
    (mana-sync.md §6) and return its parts; the one place those rules live.

    This runs once per change of every read (100,000 times for a long cold history), so each key
    is looked up once and the common, valid case takes the shortest path; the rules and their
    order are those of the web app.
    """
    if not isinstance(raw, dict):
        return InvalidChange(None, "change is not an object")
    get = raw.get
    # "Present" means the key exists: a JSON null is present and not a string (nor a number).
    event_id = get("eventId")
    if not isinstance(event_id, str) and (event_id is not None or "eventId" in raw):
        return InvalidChange(None, "eventId is not a string")
    table = get("table")
    record_id = get("id")
    if not isinstance(table, str) or not table or not isinstance(record_id, str) or not record_id:
        return InvalidChange(event_id, "table or id is not a non-empty string")
    op = get("op")
    if not isinstance(op, str) or op not in OPS:
        return InvalidChange(event_id, "op is not insert, update or delete")
    actor = get("actor", _ABSENT)
    if actor is not _ABSENT and not isinstance(actor, dict):
        return InvalidChange(event_id, "actor is not an object")
    origin = get("origin", _ABSENT)
    if origin is _ABSENT:
        origin = None
    elif not isinstance(origin, str):
        return InvalidChange(event_id, "origin is not a string")
    deleted_at = get("deletedAt", _ABSENT)
    if deleted_at is _ABSENT:
        deleted_at = None
    elif not isinstance(deleted_at, str):
        return InvalidChange(event_id, "deletedAt is not a string")
    schema_version = get("schemaVersion", _ABSENT)
    if schema_version is _ABSENT:
        version: int | None = None
    elif schema_version.__class__ is int:
        version = schema_version
    elif isinstance(schema_version, bool) or not isinstance(schema_version, int | float):
        return InvalidChange(event_id, "schemaVersion is not a number")
    elif isinstance(schema_version, float) and not math.isfinite(schema_version):
        version = None  # a number for the web app (json.loads yields inf and nan), but no version
    else:
        version = int(schema_version)
    data = get("data", _ABSENT)
    if data is _ABSENT:
        data = None
    elif not isinstance(data, dict):
        return InvalidChange(event_id, "data is not an object")
    fields = get("fields")
    if fields is not None:
        if not isinstance(fields, dict):
            return InvalidChange(event_id, "fields is not an object")
        for entry in fields.values():
            if not isinstance(entry, dict) or "value" not in entry:
                return InvalidChange(event_id, "a field change is not an object with a value")
            at = entry.get("at", _ABSENT)
            if at is not _ABSENT and not isinstance(at, str):
                return InvalidChange(event_id, "a field change time is not a string")
    space_id = get("spaceId")
    return (
        event_id,
        table,
        record_id,
        cast(Op, op),
        data,
        fields,
        deleted_at,
        space_id if isinstance(space_id, str) and space_id else None,
        None if actor is _ABSENT else actor,
        origin,
        version,
    )


def read_changes(raw_changes: Iterable[object]) -> tuple[list[WireChange], list[InvalidChange]]:
    """The valid changes of a page (in order) and the invalid ones, by :func:`read_change`."""
    valid: list[WireChange] = []
    invalid: list[InvalidChange] = []
    for raw in raw_changes:
        parts = read_change(raw)
        if isinstance(parts, InvalidChange):
            invalid.append(parts)
        else:
            valid.append(parts)
    return valid, invalid


def change_from_wire(raw: object) -> Change | InvalidChange:
    """Parse one change object of a pull page or push delta (mana-sync.md §6)."""
    parts = read_change(raw)
    if isinstance(parts, InvalidChange):
        return parts
    return change_of(parts)


def change_of(parts: WireChange) -> Change:
    """The :class:`Change` of a change read by :func:`read_change`."""
    event_id, table, record_id, op, data, fields, deleted_at, space_id, actor, origin, version = parts
    return Change(
        table,
        record_id,
        op,
        data,
        None if fields is None else {name: _field_change(entry) for name, entry in fields.items()},
        deleted_at,
        space_id,
        event_id,
        actor,
        origin,
        version,
    )


def _field_change(entry: Mapping[str, Any]) -> FieldChange:
    updated_at = entry.get("updatedAt")
    return FieldChange(entry["value"], entry.get("at"), updated_at if isinstance(updated_at, str) else None)


def parts_of(change: Change) -> WireChange:
    """A :class:`Change` as the parts :func:`read_change` yields (the inverse of :func:`change_of`)."""
    fields = change.fields
    return (
        change.event_id,
        change.table,
        change.record_id,
        change.op,
        change.data,
        None
        if fields is None
        else {
            name: {"value": fc.value, "at": fc.at, "updatedAt": fc.updated_at} for name, fc in fields.items()
        },
        change.deleted_at,
        change.space_id,
        change.actor,
        change.origin,
        change.schema_version,
    )


def change_to_wire(change: Change) -> dict[str, Any]:
    """The client shape of a change the gateway pushes (mana-sync.md §4.1, D1).

    Optional keys are omitted, never null; a field change carries the same time under ``at`` and
    ``updatedAt`` so that current and older servers both read it.
    """
    out: dict[str, Any] = {"table": change.table, "id": change.record_id, "op": change.op}
    if change.space_id:
        out["spaceId"] = change.space_id
    if change.data is not None:
        out["data"] = dict(change.data)
    if change.fields is not None:
        if not change.fields:
            raise ValueError("an update must change at least one field")
        wire_fields: dict[str, Any] = {}
        for name, fc in change.fields.items():
            time = fc.time
            if time is None:
                raise ValueError("every written field change carries a time")
            wire_fields[name] = {"value": fc.value, "at": time, "updatedAt": time}
        out["fields"] = wire_fields
    if change.deleted_at is not None:
        out["deletedAt"] = change.deleted_at
    if change.actor is not None:
        out["actor"] = change.actor.to_wire() if isinstance(change.actor, Actor) else change.actor
    if change.origin is not None:
        out["origin"] = change.origin
    return out


class _Absent:
    __slots__ = ()


_ABSENT: Any = _Absent()
