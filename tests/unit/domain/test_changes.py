"""Changes on the wire: the validity rules of mana-sync.md §6 on read, the client shape on write (D1)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mana.domain.changes import (
    Actor,
    Change,
    FieldChange,
    InvalidChange,
    change_from_wire,
    change_to_wire,
)

T = "2026-05-01T09:00:00.000Z"
ACTOR = Actor("system", "system:mcp", "Claude Code via MCP")
SECRET = "enc:1:AAECAwQFBgcICQoL.ZUCjYuWIq3fmY7kAFBOko15oHcmYxWgkYqw="


def server_update(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "eventId": "e1",
        "schemaVersion": 1,
        "table": "habits",
        "id": "h1",
        "op": "update",
        "fields": {"title": {"value": "Evening walk", "at": T}},
        "spaceId": "sp_family",
        "actor": {"kind": "user", "principalId": "u_alice", "displayName": "Alice"},
        "origin": "user",
    }
    raw.update(overrides)
    return raw


# --- reading: valid shapes -------------------------------------------------------------------


def test_server_update_is_parsed_with_every_key() -> None:
    change = change_from_wire(server_update())
    assert change == Change(
        table="habits",
        record_id="h1",
        op="update",
        fields={"title": FieldChange("Evening walk", T, None)},
        space_id="sp_family",
        event_id="e1",
        actor={"kind": "user", "principalId": "u_alice", "displayName": "Alice"},
        origin="user",
        schema_version=1,
    )


def test_insert_keeps_data_verbatim() -> None:
    data = {"id": "h1", "title": "Walk", "order": 0, "__fieldMeta": {"x": 1}, "dueDate": None}
    change = change_from_wire({"eventId": "e1", "table": "habits", "id": "h1", "op": "insert", "data": data})
    assert isinstance(change, Change)
    assert change.op == "insert"
    assert change.data == data
    assert change.fields is None
    assert change.actor is None
    assert change.space_id is None


def test_older_wire_format_field_time_under_updated_at() -> None:
    change = change_from_wire(server_update(fields={"isArchived": {"value": False, "updatedAt": T}}))
    assert isinstance(change, Change)
    assert change.fields == {"isArchived": FieldChange(False, None, T)}
    assert change.fields["isArchived"].time == T


@pytest.mark.parametrize(
    ("entry", "time"),
    [
        ({"value": 1, "at": T, "updatedAt": "2020-01-01T00:00:00.000Z"}, T),  # at wins
        ({"value": 1, "at": "", "updatedAt": T}, T),  # an empty at falls back to updatedAt
        ({"value": 1, "updatedAt": T}, T),
        ({"value": 1, "at": "", "updatedAt": ""}, None),
        ({"value": 1}, None),
        ({"value": 1, "updatedAt": 5}, None),  # a non-string updatedAt is not a time (and not invalid)
        ({"value": None, "at": T}, T),  # a cleared field
    ],
)
def test_field_time_prefers_at_then_updated_at(entry: dict[str, Any], time: str | None) -> None:
    change = change_from_wire(server_update(fields={"f": entry}))
    assert isinstance(change, Change)
    assert change.fields is not None
    assert change.fields["f"].time == time
    assert change.fields["f"].value == entry["value"]


def test_soft_and_hard_deletes() -> None:
    soft = change_from_wire({"eventId": "e9", "table": "habits", "id": "h4", "op": "delete", "deletedAt": T})
    hard = change_from_wire({"eventId": "e10", "table": "habits", "id": "h4", "op": "delete"})
    assert isinstance(soft, Change)
    assert soft.deleted_at == T
    assert isinstance(hard, Change)
    assert hard.deleted_at is None


@pytest.mark.parametrize(
    ("extra", "attribute", "expected"),
    [
        ({"spaceId": ""}, "space_id", None),
        ({"spaceId": 7}, "space_id", None),
        ({"schemaVersion": 1.0}, "schema_version", 1),
        ({"schemaVersion": 2}, "schema_version", 2),
        ({"schemaVersion": float("inf")}, "schema_version", None),  # json.loads accepts Infinity
        ({"schemaVersion": float("nan")}, "schema_version", None),
        ({"fields": None}, "fields", None),
        ({"actor": {}}, "actor", {}),
    ],
)
def test_lenient_keys(extra: dict[str, Any], attribute: str, expected: object) -> None:
    change = change_from_wire(server_update(**extra))
    assert isinstance(change, Change)
    assert getattr(change, attribute) == expected


def test_infinity_schema_version_from_json_text() -> None:
    change = change_from_wire(json.loads('{"table":"t","id":"x","op":"insert","schemaVersion":Infinity}'))
    assert isinstance(change, Change)


def test_change_without_event_id_is_kept() -> None:
    raw = server_update()
    del raw["eventId"]
    change = change_from_wire(raw)
    assert isinstance(change, Change)
    assert change.event_id is None


# --- reading: the web app's validity rules ---------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"table": ""}, "table or id is not a non-empty string"),
        ({"table": None}, "table or id is not a non-empty string"),
        ({"table": 3}, "table or id is not a non-empty string"),
        ({"id": ""}, "table or id is not a non-empty string"),
        ({"id": ["h1"]}, "table or id is not a non-empty string"),
        ({"op": "upsert"}, "op is not insert, update or delete"),
        ({"op": "INSERT"}, "op is not insert, update or delete"),
        ({"op": None}, "op is not insert, update or delete"),
        ({"op": ["insert"]}, "op is not insert, update or delete"),  # unhashable: must not raise
        ({"op": {"x": 1}}, "op is not insert, update or delete"),
        ({"actor": None}, "actor is not an object"),
        ({"actor": "system:mcp"}, "actor is not an object"),
        ({"actor": []}, "actor is not an object"),
        ({"origin": None}, "origin is not a string"),
        ({"origin": 1}, "origin is not a string"),
        ({"deletedAt": None}, "deletedAt is not a string"),
        ({"deletedAt": 1_777_626_000_000}, "deletedAt is not a string"),
        ({"schemaVersion": "1"}, "schemaVersion is not a number"),
        ({"schemaVersion": True}, "schemaVersion is not a number"),
        ({"schemaVersion": None}, "schemaVersion is not a number"),
        ({"data": None}, "data is not an object"),
        ({"data": []}, "data is not an object"),
        ({"data": SECRET}, "data is not an object"),
        ({"fields": []}, "fields is not an object"),
        ({"fields": {"title": None}}, "a field change is not an object with a value"),
        ({"fields": {"title": SECRET}}, "a field change is not an object with a value"),
        ({"fields": {"title": {"at": T}}}, "a field change is not an object with a value"),
        ({"fields": {"title": {"value": "x", "at": 5}}}, "a field change time is not a string"),
        ({"fields": {"title": {"value": "x", "at": None}}}, "a field change time is not a string"),
    ],
)
def test_invalid_changes_name_the_rule_and_keep_the_event_id(overrides: dict[str, Any], rule: str) -> None:
    result = change_from_wire(server_update(**overrides))
    assert result == InvalidChange("e1", rule)
    assert SECRET not in repr(result)


@pytest.mark.parametrize("event_id", [None, 5, ["e1"], {"id": "e1"}])
def test_an_event_id_that_is_not_a_string_is_invalid(event_id: object) -> None:
    assert change_from_wire(server_update(eventId=event_id)) == InvalidChange(None, "eventId is not a string")


@pytest.mark.parametrize("raw", [None, [], "change", 3, [server_update()]])
def test_non_objects_are_invalid(raw: object) -> None:
    assert change_from_wire(raw) == InvalidChange(None, "change is not an object")


WIRE_KEYS = (
    "eventId",
    "table",
    "id",
    "op",
    "data",
    "fields",
    "deletedAt",
    "spaceId",
    "actor",
    "origin",
    "schemaVersion",
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@given(
    st.dictionaries(
        st.sampled_from(WIRE_KEYS),
        _JSON | st.sampled_from(["insert", "update", "delete", "habits", "h1"]),
    )
)
def test_any_json_object_parses_or_is_reported_invalid_without_raising(raw: dict[str, Any]) -> None:
    result = change_from_wire(raw)
    assert isinstance(result, Change | InvalidChange)
    if isinstance(result, Change):
        assert result.op in ("insert", "update", "delete")
        assert isinstance(result.table, str)
        assert result.table
        assert result.data is None or isinstance(result.data, dict)


# --- writing: the client shape ---------------------------------------------------------------


def _contains_none_outside_values(wire: Any, path: str = "") -> list[str]:
    """Paths of nulls that are not record content (a data value or a field change's value)."""
    found: list[str] = []
    if wire is None:
        return [path]
    if isinstance(wire, dict):
        for key, value in wire.items():
            if path.endswith("/data") or (path.count("/fields/") == 1 and key == "value"):
                continue
            found += _contains_none_outside_values(value, f"{path}/{key}")
    return found


def test_insert_to_wire_is_the_spec_shape() -> None:
    data = {
        "id": "3f2c8a8e-6a4b-4b7e-9a51-2f0d5c1e7b90",
        "title": SECRET,
        "priority": "medium",
        "isCompleted": False,
        "dueDate": None,
        "scheduledBlockId": None,
        "estimatedDuration": None,
        "order": 4,
        "spaceId": "sp_family",
        "authorId": "u_alice",
        "visibility": "space",
        "createdAt": "2026-05-01T09:30:00.000Z",
    }
    change = Change(
        table="tasks",
        record_id=data["id"],
        op="insert",
        data=data,
        space_id="sp_family",
        actor=ACTOR,
        origin="agent",
    )
    wire = change_to_wire(change)
    assert wire == {
        "table": "tasks",
        "id": data["id"],
        "op": "insert",
        "spaceId": "sp_family",
        "data": data,
        "actor": {"kind": "system", "principalId": "system:mcp", "displayName": "Claude Code via MCP"},
        "origin": "agent",
    }
    assert list(wire) == ["table", "id", "op", "spaceId", "data", "actor", "origin"]
    assert _contains_none_outside_values(wire) == []
    assert wire["data"] is not data  # a copy: the caller's mapping is not shared


def test_update_to_wire_writes_the_same_time_under_at_and_updated_at() -> None:
    change = Change(
        table="habits",
        record_id="h1",
        op="update",
        fields={"title": FieldChange("Tea", T), "targetPerDay": FieldChange(None, T, T)},
        space_id="_personal:u_alice",
        actor=ACTOR,
        origin="agent",
    )
    wire = change_to_wire(change)
    assert wire == {
        "table": "habits",
        "id": "h1",
        "op": "update",
        "spaceId": "_personal:u_alice",
        "fields": {
            "title": {"value": "Tea", "at": T, "updatedAt": T},
            "targetPerDay": {"value": None, "at": T, "updatedAt": T},
        },
        "actor": ACTOR.to_wire(),
        "origin": "agent",
    }
    assert "data" not in wire
    assert _contains_none_outside_values(wire) == []


def test_a_field_change_with_only_updated_at_is_written_under_both_keys() -> None:
    change = Change(
        table="habits", record_id="h1", op="update", fields={"icon": FieldChange("leaf", None, T)}
    )
    assert change_to_wire(change)["fields"] == {"icon": {"value": "leaf", "at": T, "updatedAt": T}}


def test_soft_delete_to_wire() -> None:
    change = Change(
        table="habits",
        record_id="h1",
        op="delete",
        deleted_at=T,
        space_id="sp_family",
        actor=ACTOR,
        origin="agent",
    )
    assert change_to_wire(change) == {
        "table": "habits",
        "id": "h1",
        "op": "delete",
        "spaceId": "sp_family",
        "deletedAt": T,
        "actor": ACTOR.to_wire(),
        "origin": "agent",
    }


def test_optional_keys_are_omitted_never_null() -> None:
    change = Change(
        table="habits", record_id="h1", op="insert", data={"id": "h1"}, space_id="", event_id="e1"
    )
    wire = change_to_wire(change)
    assert wire == {"table": "habits", "id": "h1", "op": "insert", "data": {"id": "h1"}}
    for key in ("spaceId", "fields", "deletedAt", "actor", "origin", "eventId", "schemaVersion"):
        assert key not in wire


def test_an_update_without_fields_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="at least one field"):
        change_to_wire(Change(table="habits", record_id="h1", op="update", fields={}))


def test_a_field_change_without_a_time_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="time"):
        change_to_wire(
            Change(table="habits", record_id="h1", op="update", fields={"title": FieldChange("x")})
        )


def test_written_changes_read_back_as_the_same_change() -> None:
    change = Change(
        table="habits",
        record_id="h1",
        op="update",
        fields={"title": FieldChange("Tea", T, T)},
        space_id="sp_family",
        actor=ACTOR,
        origin="agent",
    )
    wire = json.loads(json.dumps(change_to_wire(change)))
    back = change_from_wire(wire)
    assert back == Change(
        table="habits",
        record_id="h1",
        op="update",
        fields={"title": FieldChange("Tea", T, T)},
        space_id="sp_family",
        actor=ACTOR.to_wire(),
        origin="agent",
    )
