"""mana-sync's server semantics, once, for every stand-in of it (mana-sync.md §4-§9, §14).

The in-memory change log of the test harness, the embedded SQLite log of local mode and the HTTP
stand-in all answer through :class:`SyncServer`, so the pager, the replay and the filters above
them meet the same behaviour everywhere, including the server's faithful defects: no idempotency,
no atomic batches, no membership check on writes, and a ``null`` field change that kills the
request (:class:`ConnectionDropped`).

Storage is a :class:`SyncStore`: append one row in its own transaction, select rows after a
cursor. Rows keep ``data``, the field-time map and ``actor`` as JSON text, like the database does,
so every answer is built from fresh objects and a caller can never alter what was stored.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import attrs

log = logging.getLogger(__name__)

PAGE_SIZE = 1000
"""Changes per pull page; the store is asked for one more to detect a further page (§5.2)."""
DELTA_LIMIT = 5000
"""At most this many rows in a push delta, cut silently (§4.3)."""
MAX_BODY_BYTES = 10 * 1024 * 1024
SYNC_INACTIVE_BODY: Mapping[str, str] = {
    "error": "sync_inactive",
    "message": "Cloud Sync ist nicht aktiv. Aktiviere Sync in den Einstellungen.",
}
UNAUTHORIZED_TEXT = "unauthorized: parse token: token is expired\n"
_NUL_REJECTED = 'ERROR: invalid byte sequence for encoding "UTF8": 0x00 (SQLSTATE 22021)'
_TEXT_REJECTED = 'ERROR: invalid byte sequence for encoding "UTF8" (SQLSTATE 22021)'

WireFormat = Literal["current", "legacy"]
Fault = Literal["unauthorized", "inactive", "error", "drop"]
_OPS = frozenset(("insert", "update", "delete"))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_INT64 = 2**63


class ConnectionDropped(Exception):
    """The request dies without a response (a ``null`` field change, §11): no status to return."""


class StoreError(Exception):
    """The store could not write or read; the message names the database error, never row data."""


@attrs.frozen(slots=True)
class SyncResponse:
    """``json`` is sent as ``application/json``; ``text`` as ``text/plain; charset=utf-8``."""

    status: int
    json: Any | None = None
    text: str | None = None


@attrs.frozen(slots=True)
class StoredRow:
    """One row of the log (§14.1). ``data`` and ``actor`` are JSON text (``actor`` None = SQL NULL)."""

    event_id: str
    app_id: str
    table: str
    record_id: str
    user_id: str
    op: str
    data: str | None
    field_times: Mapping[str, str]
    client_id: str
    schema_version: int
    actor: str | None
    origin: str | None
    space_id: str | None
    created_at: int = 0
    """Microseconds since the epoch, assigned by the store."""


@attrs.frozen(slots=True)
class RowQuery:
    """The rows a pull or push delta sees (§5.2, §4.3): ``table`` None means every table of the app."""

    app_id: str
    table: str | None
    after: int
    exclude_client_id: str
    user_id: str
    spaces: frozenset[str]
    limit: int


class SyncStore(Protocol):
    """Append-only storage. Calls are short and synchronous and may come from several threads."""

    def append(self, row: StoredRow, now: int) -> StoredRow:
        """Store one row in its own transaction with ``created_at`` = ``now``, or 1 µs after the
        newest row when that is not later (strictly increasing); raises :class:`StoreError`."""
        ...

    def select(self, query: RowQuery) -> list[StoredRow]:
        """Matching rows, ``created_at`` ascending, at most ``query.limit``; raises :class:`StoreError`."""
        ...


def visible(row: StoredRow, query: RowQuery) -> bool:
    """The per-row filter every store applies besides app, table and cursor (§5.2, §8, §9)."""
    return row.client_id != query.exclude_client_id and (
        row.user_id == query.user_id or (row.space_id is not None and row.space_id in query.spaces)
    )


# --- times ---------------------------------------------------------------------------------------

# RFC 3339 as Go's time.Parse reads it: T, seconds and a zone are required, 1-9 fraction digits.
_SINCE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))\Z"
)


def to_micros(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError("naive datetime: the sync clock must be timezone-aware")
    return (dt - _EPOCH) // _MICRO


def parse_since(value: str | None) -> int:
    """A cursor in microseconds; anything unparseable silently means the epoch (§7)."""
    if not value:
        return 0
    m = _SINCE.match(value)
    if m is None:
        return 0
    year, month, day, hour, minute, second, frac, sign, off_h, off_m = m.groups()
    try:
        dt = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((frac or "0")[:6].ljust(6, "0")),
            tzinfo=UTC,
        )
    except ValueError:
        return 0
    if sign:
        oh, om = int(off_h), int(off_m)
        if oh > 23 or om > 59:
            return 0
        offset = timedelta(hours=oh, minutes=om)
        dt = dt - offset if sign == "+" else dt + offset
    return to_micros(dt)


def format_cursor(micros: int) -> str:
    """RFC 3339 in UTC with up to 9 fraction digits, trailing zeros trimmed (Go's RFC3339Nano)."""
    dt = _EPOCH + timedelta(microseconds=micros)
    base = f"{dt:%Y-%m-%dT%H:%M:%S}"
    if dt.microsecond:
        return f"{base}.{dt.microsecond:06d}".rstrip("0") + "Z"
    return base + "Z"


# --- decoding the changeset as Go's encoding/json does -------------------------------------------

_dump = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_load = json.JSONDecoder().decode


def _refuse_constant(name: str) -> Any:
    raise ValueError("invalid number literal")


_BODY_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_JSON_SPACE = " \t\n\r"


class _BadRequest(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_error(value: object, path: str, go_type: str) -> _BadRequest:
    return _BadRequest(
        f"invalid JSON: json: cannot unmarshal {_kind(value)} into Go struct field {path} of type {go_type}"
    )


def _string(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise _type_error(value, f"{path}.{key}", "string")


def _integer(obj: Mapping[str, Any], key: str, path: str) -> int:
    value = obj.get(key)
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64:
        return value
    raise _type_error(value, f"{path}.{key}", "int")


@attrs.frozen(slots=True)
class _FieldChange:
    value: Any
    time: str


@attrs.frozen(slots=True)
class _Change:
    table: str
    record_id: str
    op: str
    data: dict[str, Any] | None
    fields: dict[str, _FieldChange | None] | None
    deleted_at: str
    space_id: str
    actor: str | None
    origin: str
    schema_version: int


@attrs.frozen(slots=True)
class _Changeset:
    client_id: str
    since: str
    schema_version: int
    changes: list[_Change]


def _read_body(body: bytes | Mapping[str, Any]) -> object:
    if not isinstance(body, bytes | bytearray | memoryview):
        try:
            body = json.dumps(body, allow_nan=False).encode("ascii")
        except (TypeError, ValueError):
            raise _BadRequest("invalid JSON: json: unsupported value") from None
    if len(body) > MAX_BODY_BYTES:
        raise _BadRequest("invalid JSON: http: request body too large")
    text = bytes(body).decode("utf-8", "replace")
    start = len(text) - len(text.lstrip(_JSON_SPACE))
    if start == len(text):
        raise _BadRequest("invalid JSON: EOF")
    try:
        # Like Go's json.Decoder: the first value counts, anything after it is not read.
        value, _ = _BODY_DECODER.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise _BadRequest(f"invalid JSON: {exc.msg} (offset {exc.pos})") from None
    except ValueError:
        raise _BadRequest("invalid JSON: invalid number literal") from None
    except RecursionError:
        raise _BadRequest("invalid JSON: exceeded max depth") from None
    return value


def _decode_changeset(raw: object, time_key: str) -> _Changeset:
    if raw is None:
        return _Changeset("", "", 0, [])
    if not isinstance(raw, dict):
        raise _BadRequest(
            f"invalid JSON: json: cannot unmarshal {_kind(raw)} into Go value of type Changeset"
        )
    path = "Changeset"
    client_id = _string(raw, "clientId", path)
    _string(raw, "appId", path)
    since = _string(raw, "since", path)
    schema_version = _integer(raw, "schemaVersion", path)
    raw_changes = raw.get("changes")
    if raw_changes is None:
        raw_changes = []
    elif not isinstance(raw_changes, list):
        raise _type_error(raw_changes, "Changeset.changes", "[]Change")
    changes = [_decode_change(item, time_key) for item in raw_changes]
    return _Changeset(client_id, since, schema_version, changes)


def _decode_change(raw: object, time_key: str) -> _Change:
    path = "Changeset.changes"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _type_error(raw, path, "Change")
    data = raw.get("data")
    if data is not None and not isinstance(data, dict):
        raise _type_error(data, f"{path}.data", "map[string]interface {}")
    fields: dict[str, _FieldChange | None] | None = None
    raw_fields = raw.get("fields")
    if raw_fields is not None:
        if not isinstance(raw_fields, dict):
            raise _type_error(raw_fields, f"{path}.fields", "map[string]*FieldChange")
        fields = {}
        for name, entry in raw_fields.items():
            if entry is None:
                fields[name] = None  # a nil pointer: the handler dereferences it later
                continue
            if not isinstance(entry, dict):
                raise _type_error(entry, f"{path}.fields", "FieldChange")
            fields[name] = _FieldChange(entry.get("value"), _string(entry, time_key, f"{path}.fields"))
    _string(raw, "eventId", path)
    return _Change(
        table=_string(raw, "table", path),
        record_id=_string(raw, "id", path),
        op=_string(raw, "op", path),
        data=data,
        fields=fields,
        deleted_at=_string(raw, "deletedAt", path),
        space_id=_string(raw, "spaceId", path),
        actor=_dump(raw["actor"]) if "actor" in raw else None,
        origin=_string(raw, "origin", path),
        schema_version=_integer(raw, "schemaVersion", path),
    )


def _validate(changes: Sequence[_Change]) -> None:
    """The whole batch is checked before anything is written (§4.2)."""
    for i, change in enumerate(changes):
        if change.op not in _OPS:
            raise _BadRequest(f"invalid op {json.dumps(change.op, ensure_ascii=False)} in change {i}")
        if not change.table or not change.record_id:
            raise _BadRequest(f"missing table or id in change {i}")


# --- storing -------------------------------------------------------------------------------------

# An escaped NUL in JSON text: ``\u0000`` preceded by an even number of backslashes.
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def _rejected_text(row: StoredRow) -> str | None:
    """What a PostgreSQL text or JSON column would refuse: NUL characters and lone surrogates."""
    plain = [row.table, row.record_id, row.client_id, row.origin or "", row.space_id or ""]
    plain.extend(row.field_times.values())
    for text in plain:
        if "\x00" in text:
            return _NUL_REJECTED
    json_texts = [row.data or "", row.actor or ""]
    for text in json_texts:
        if "\\u0000" in text and _ESCAPED_NUL.search(text):
            return _NUL_REJECTED
    for text in (*plain, *json_texts):
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return _TEXT_REJECTED
    return None


def _space_id(change: _Change) -> str | None:
    """First non-empty of: top-level ``spaceId``, ``data.spaceId``, ``fields.spaceId.value`` (§4.2)."""
    if change.space_id:
        return change.space_id
    if change.data is not None:
        value = change.data.get("spaceId")
        if isinstance(value, str) and value:
            return value
    if change.fields is not None and "spaceId" in change.fields:
        fc = change.fields["spaceId"]
        if fc is None:
            raise ConnectionDropped("nil field change")
        if isinstance(fc.value, str) and fc.value:
            return fc.value
    return None


def _stored_data(change: _Change) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The stored data and per-field time map of one change (§4.2 step 1)."""
    if change.op == "insert":
        return change.data, {}
    if change.op == "update":
        if not change.fields:
            return change.data, {}
        data: dict[str, Any] = {}
        times: dict[str, str] = {}
        for name, fc in change.fields.items():
            if fc is None:
                raise ConnectionDropped("nil field change")
            data[name] = fc.value
            times[name] = fc.time
        return data, times
    deleted = dict(change.data) if change.data is not None else {}
    if change.deleted_at:
        deleted["deletedAt"] = change.deleted_at
    return deleted, {}


# --- the server ------------------------------------------------------------------------------------


def _text(status: int, message: str) -> SyncResponse:
    return SyncResponse(status, text=message + "\n")


def _system_now() -> datetime:
    return datetime.now(UTC)


class SyncServer:
    """Push and pull as mana-sync answers them, over any :class:`SyncStore`.

    ``memberships(user_id)`` is the caller's space ids (read visibility, §9); a failing lookup
    counts as no memberships. ``wire_format="legacy"`` speaks the older format: field times are
    read from and emitted as ``updatedAt`` and no ``origin`` is emitted. ``fail`` switches on the
    answers tests need (401, 402, 500, a dropped connection).
    """

    def __init__(
        self,
        store: SyncStore,
        memberships: Callable[[str], Collection[str]],
        clock: Callable[[], datetime] | None = None,
        wire_format: WireFormat = "current",
    ) -> None:
        if wire_format not in ("current", "legacy"):
            raise ValueError("wire_format must be 'current' or 'legacy'")
        self.store = store
        self._memberships = memberships
        self._clock = clock or _system_now
        self._legacy = wire_format == "legacy"
        self._time_key = "updatedAt" if self._legacy else "at"
        self._fault: Fault | None = None
        self._fault_left: int | None = None
        self._fault_lock = threading.Lock()

    # --- switches for tests (§14.8) ---

    def fail(self, fault: Fault | None, times: int | None = None) -> None:
        """Answer every request (or the next ``times`` requests) with ``fault``; None switches off."""
        with self._fault_lock:
            self._fault = fault
            self._fault_left = times

    def _faulted(self) -> SyncResponse | None:
        with self._fault_lock:
            fault = self._fault
            if fault is None:
                return None
            if self._fault_left is not None:
                self._fault_left -= 1
                if self._fault_left <= 0:
                    self._fault = None
        if fault == "unauthorized":
            return SyncResponse(401, text=UNAUTHORIZED_TEXT)
        if fault == "inactive":
            return SyncResponse(402, json=dict(SYNC_INACTIVE_BODY))
        if fault == "error":
            return _text(500, "internal error")
        raise ConnectionDropped("fault switch")

    # --- operations ---

    def push(
        self, user_id: str, client_id_header: str | None, app_id: str, body: bytes | Mapping[str, Any]
    ) -> SyncResponse:
        """``POST /sync/{appId}`` (§4). Raises :class:`ConnectionDropped` for a ``null`` field change."""
        faulted = self._faulted()
        if faulted is not None:
            return faulted
        try:
            changeset = _decode_changeset(_read_body(body), self._time_key)
            if changeset.schema_version > 1:
                raise _BadRequest(f"unsupported schemaVersion {changeset.schema_version} (max 1)")
            _validate(changeset.changes)
        except _BadRequest as exc:
            return _text(400, exc.text)
        client_id = client_id_header or changeset.client_id
        default_version = changeset.schema_version if changeset.schema_version > 0 else 1
        for change in changeset.changes:
            # Each change is its own transaction: a failure leaves the earlier ones stored (§13).
            row = self._row(change, user_id, app_id, client_id, default_version)
            rejected = _rejected_text(row)
            if rejected is not None:
                return _text(500, f"failed to record change: {rejected}")
            try:
                self.store.append(row, self._now())
            except StoreError as exc:
                return _text(500, f"failed to record change: {exc}")
        query = RowQuery(
            app_id=app_id,
            table=None,
            after=parse_since(changeset.since),
            exclude_client_id=client_id,
            user_id=user_id,
            spaces=self._spaces(user_id),
            limit=DELTA_LIMIT,
        )
        try:
            rows = self.store.select(query)
        except StoreError:
            return _text(500, "internal error")
        return SyncResponse(
            200,
            json={
                "serverChanges": [self.emit(row) for row in rows],
                "conflicts": [],
                "syncedUntil": format_cursor(self._now()),
            },
        )

    def pull(
        self,
        user_id: str,
        client_id_header: str | None,
        app_id: str,
        collection: str | None,
        since: str | None,
    ) -> SyncResponse:
        """``GET /sync/{appId}/pull`` (§5): ``collection`` and ``since`` as decoded from the query."""
        faulted = self._faulted()
        if faulted is not None:
            return faulted
        if not collection or not since:
            return _text(400, "missing collection or since parameter")
        query = RowQuery(
            app_id=app_id,
            table=collection,
            after=parse_since(since),
            exclude_client_id=client_id_header or "",
            user_id=user_id,
            spaces=self._spaces(user_id),
            limit=PAGE_SIZE + 1,
        )
        try:
            rows = self.store.select(query)
        except StoreError:
            return _text(500, "internal error")
        body: dict[str, Any]
        if len(rows) > PAGE_SIZE:
            del rows[PAGE_SIZE:]
            body = {
                "serverChanges": [self.emit(row) for row in rows],
                "conflicts": [],
                "syncedUntil": format_cursor(rows[-1].created_at),
                "hasMore": True,
            }
        else:
            body = {
                "serverChanges": [self.emit(row) for row in rows],
                "conflicts": [],
                "syncedUntil": format_cursor(self._now()),
            }
        return SyncResponse(200, json=body)

    def emit(self, row: StoredRow) -> dict[str, Any]:
        """The change object as the server emits it (§6): empty optional keys omitted."""
        out: dict[str, Any] = {
            "eventId": row.event_id,
            "schemaVersion": row.schema_version,
            "table": row.table,
            "id": row.record_id,
            "op": row.op,
        }
        op = row.op
        if op == "insert":
            if row.data is not None:
                data = _load(row.data)
                if data:
                    out["data"] = data
        elif op == "update":
            if row.field_times:
                values = _load(row.data) if row.data is not None else {}
                time_key = self._time_key
                out["fields"] = {
                    name: {"value": values.get(name), time_key: time}
                    for name, time in row.field_times.items()
                }
        elif row.data is not None:
            deleted_at = _load(row.data).get("deletedAt")
            if isinstance(deleted_at, str) and deleted_at:
                out["deletedAt"] = deleted_at
        if row.space_id:
            out["spaceId"] = row.space_id
        if row.actor is not None:
            out["actor"] = _load(row.actor)
        if row.origin and not self._legacy:
            out["origin"] = row.origin
        return out

    # --- helpers ---

    def _now(self) -> int:
        return to_micros(self._clock())

    def _spaces(self, user_id: str) -> frozenset[str]:
        try:
            return frozenset(self._memberships(user_id))
        except Exception:
            # Like mana-sync: fail open for the caller's own rows, closed for shared ones (§9).
            log.warning("membership lookup failed; reading own rows only", exc_info=True)
            return frozenset()

    def _row(
        self, change: _Change, user_id: str, app_id: str, client_id: str, default_version: int
    ) -> StoredRow:
        data, times = _stored_data(change)
        return StoredRow(
            event_id=str(uuid.uuid4()),
            app_id=app_id,
            table=change.table,
            record_id=change.record_id,
            user_id=user_id,
            op=change.op,
            data=None if data is None else _dump(data),
            field_times=times,
            client_id=client_id,
            schema_version=change.schema_version or default_version,
            actor=change.actor,
            origin=change.origin or None,
            space_id=_space_id(change),
        )
