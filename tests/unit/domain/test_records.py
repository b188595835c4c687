"""Normalisation of replayed records onto the tools' output schemas (tools.md §1.7 steps 8-10, §2)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mana.domain.records import (
    DECRYPT_FAILED_MESSAGE,
    INVALID_VALUE_MESSAGE,
    Habit,
    JournalEntry,
    Note,
    RecordWarning,
    Subtask,
    Task,
    as_integer,
    habit_is_archived,
    habit_sort_key,
    normalise_habit,
    normalise_journal_entry,
    normalise_note,
    normalise_task,
    note_is_archived,
    note_sort_key,
    task_is_completed,
    task_sort_key,
)

RID = "3f2c8a8e-6a4b-4b7e-9a51-2f0d5c1e7b90"
T = "2026-05-01T09:00:00.000Z"


def invalid(*fields: str) -> list[RecordWarning]:
    return [RecordWarning(RID, field, "invalid_value", INVALID_VALUE_MESSAGE) for field in fields]


def codes(warnings: list[RecordWarning]) -> list[tuple[str, str]]:
    return [(w.field, w.code) for w in warnings]


# --- warnings --------------------------------------------------------------------------------


def test_warning_messages_are_the_spec_texts() -> None:
    assert DECRYPT_FAILED_MESSAGE == "The stored value could not be decrypted and is returned as null."
    assert INVALID_VALUE_MESSAGE == "The stored value has an unexpected type and was replaced by a default."
    assert RecordWarning.decrypt_failed("r", "title").to_wire() == {
        "id": "r",
        "field": "title",
        "code": "decrypt_failed",
        "message": DECRYPT_FAILED_MESSAGE,
    }
    assert RecordWarning.invalid_value("r", "order").to_wire() == {
        "id": "r",
        "field": "order",
        "code": "invalid_value",
        "message": INVALID_VALUE_MESSAGE,
    }


# --- integers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, 3),
        (3.0, 3),
        (-2.0, -2),
        (0, 0),
        (1e20, 10**20),
        (2.5, None),
        (True, None),
        (False, None),
        ("3", None),
        (None, None),
        (float("inf"), None),
        (float("nan"), None),
        ([3], None),
    ],
)
def test_as_integer(value: object, expected: int | None) -> None:
    result = as_integer(value)
    assert result == expected
    assert result is None or type(result) is int


# --- habits ----------------------------------------------------------------------------------


def test_habit_defaults_for_an_empty_record_are_silent() -> None:
    habit, warnings = normalise_habit(RID, {})
    assert habit == Habit(RID, "", "star", "#6366f1", None, None, 0, False, None, None)
    assert warnings == []


def test_habit_with_every_field() -> None:
    values = {
        "title": "Walk",
        "icon": "leaf",
        "color": "#00ff00",
        "targetPerDay": 3,
        "defaultDuration": 600.0,
        "order": 2,
        "isArchived": True,
        "spaceId": "sp",
        "authorId": "u",
        "visibility": "space",
        "createdAt": "ignored: the insert's createdAt is passed separately",
    }
    habit, warnings = normalise_habit(RID, values, created_at="2026-05-01T10:00:00+02:00", updated_at=T)
    assert warnings == []
    assert habit.to_wire() == {
        "id": RID,
        "title": "Walk",
        "icon": "leaf",
        "color": "#00ff00",
        "targetPerDay": 3,
        "defaultDuration": 600,
        "order": 2,
        "isArchived": True,
        "createdAt": "2026-05-01T08:00:00.000Z",
        "updatedAt": T,
    }
    assert type(habit.default_duration) is int


@pytest.mark.parametrize(
    ("field", "stored", "expected"),
    [
        ("title", 5, ""),
        ("title", None, ""),
        ("title", ["Walk"], ""),
        ("icon", 1, "star"),
        ("icon", None, "star"),
        ("color", 0x6366F1, "#6366f1"),
        ("color", None, "#6366f1"),
        ("order", "2", 0),
        ("order", 1.5, 0),
        ("order", True, 0),
        ("order", None, 0),
        ("isArchived", "true", False),
        ("isArchived", 1, False),
        ("isArchived", None, False),
        ("targetPerDay", 2.5, None),
        ("targetPerDay", "3", None),
        ("targetPerDay", True, None),
        ("targetPerDay", float("nan"), None),
        ("defaultDuration", [60], None),
    ],
)
def test_habit_wrong_types_take_the_default_with_a_warning(
    field: str, stored: object, expected: object
) -> None:
    habit, warnings = normalise_habit(RID, {field: stored})
    assert habit.to_wire()[field] == expected
    assert warnings == invalid(field)


@pytest.mark.parametrize(
    ("field", "stored", "expected"),
    [
        ("targetPerDay", 0, None),  # right type, no count goal: null without a warning
        ("targetPerDay", -3, None),
        ("targetPerDay", 0.0, None),
        ("targetPerDay", None, None),
        ("targetPerDay", 4.0, 4),
        ("defaultDuration", -60, None),
        ("defaultDuration", None, None),
        ("color", "red", "red"),  # any string is kept
        ("color", "", ""),
        ("title", "", ""),
        ("order", -4, -4),
        ("order", 7.0, 7),
    ],
)
def test_habit_values_kept_or_cleared_silently(field: str, stored: object, expected: object) -> None:
    habit, warnings = normalise_habit(RID, {field: stored})
    assert habit.to_wire()[field] == expected
    assert warnings == []


@pytest.mark.parametrize(
    ("created_at", "expected", "warns"),
    [
        (None, None, False),
        ("2026-05-01T08:00:00.000Z", "2026-05-01T08:00:00.000Z", False),
        ("2026-05-01", "2026-05-01T00:00:00.000Z", False),
        ("2026-05-01T08:00:00.123456+00:00", "2026-05-01T08:00:00.123Z", False),
        ("someday", None, True),
        ("2026-02-30", None, True),
        (1_777_626_000_000, None, True),
    ],
)
def test_habit_created_at(created_at: object, expected: str | None, warns: bool) -> None:
    habit, warnings = normalise_habit(RID, {}, created_at=created_at)
    assert habit.created_at == expected
    assert warnings == (invalid("createdAt") if warns else [])


def test_habit_warnings_are_ordered_by_field_name() -> None:
    _, warnings = normalise_habit(
        RID, {"title": 1, "order": "x", "color": 2, "isArchived": "no", "icon": 3}, created_at="bad"
    )
    assert [w.field for w in warnings] == ["color", "createdAt", "icon", "isArchived", "order", "title"]


def test_habit_sort_key_and_archived_predicate_apply_the_normalisers_defaults() -> None:
    records = {
        "b": {"order": 1},
        "a": {"order": 1.0},
        "c": {},
        "d": {"order": "0"},
        "e": {"order": -1},
        "f": {"order": 0.5},
    }
    ordered = sorted(records, key=lambda rid: habit_sort_key(rid, records[rid]))
    assert ordered == ["e", "c", "d", "f", "a", "b"]
    habits = [normalise_habit(rid, v)[0] for rid, v in records.items()]
    assert [h.id for h in sorted(habits, key=lambda h: (h.order, h.id))] == ordered
    for stored in (True, False, None, "true", 1):
        assert (
            habit_is_archived({"isArchived": stored})
            is normalise_habit(RID, {"isArchived": stored})[0].is_archived
        )


# --- tasks -----------------------------------------------------------------------------------


def test_task_defaults_for_an_empty_record_are_silent() -> None:
    task, warnings = normalise_task(RID, {})
    assert task == Task(RID, None, None, "medium", False, None, None, 0, None, None, None, None)
    assert warnings == []
    assert task.to_wire() == {
        "id": RID,
        "title": None,
        "description": None,
        "priority": "medium",
        "isCompleted": False,
        "completedAt": None,
        "dueDate": None,
        "order": 0,
        "subtasks": None,
        "metadata": None,
        "createdAt": None,
        "updatedAt": None,
    }


def test_task_with_every_field() -> None:
    values = {
        "title": "Buy milk",
        "description": "2 litres",
        "priority": "urgent",
        "isCompleted": True,
        "completedAt": "2026-05-01T11:00:00+02:00",
        "dueDate": "2026-05-02",
        "order": 4,
        "subtasks": [
            {"id": "s1", "title": "Find shop", "isCompleted": True, "completedAt": T, "order": 1, "extra": 1},
            {"id": "s2", "title": "Pay"},
        ],
        "metadata": {"labelIds": ["l1"]},
        "scheduledBlockId": None,
        "estimatedDuration": None,
    }
    task, warnings = normalise_task(RID, values, created_at=T, updated_at="2026-05-01T11:00:00.000Z")
    assert warnings == []
    assert task.subtasks == (Subtask("s1", "Find shop", True, T, 1), Subtask("s2", "Pay", False, None, 1))
    assert task.to_wire() == {
        "id": RID,
        "title": "Buy milk",
        "description": "2 litres",
        "priority": "urgent",
        "isCompleted": True,
        "completedAt": "2026-05-01T09:00:00.000Z",
        "dueDate": "2026-05-02T00:00:00.000Z",
        "order": 4,
        "subtasks": [
            {"id": "s1", "title": "Find shop", "isCompleted": True, "completedAt": T, "order": 1},
            {"id": "s2", "title": "Pay", "isCompleted": False, "completedAt": None, "order": 1},
        ],
        "metadata": {"labelIds": ["l1"]},
        "createdAt": T,
        "updatedAt": "2026-05-01T11:00:00.000Z",
    }


@pytest.mark.parametrize(
    ("field", "stored", "expected"),
    [
        ("title", 42, None),
        ("title", {"text": "x"}, None),
        ("description", False, None),
        ("priority", "critical", "medium"),  # a string outside the enum
        ("priority", "High", "medium"),
        ("priority", 3, "medium"),
        ("priority", None, "medium"),
        ("isCompleted", "yes", False),
        ("isCompleted", None, False),
        ("completedAt", "done", None),
        ("completedAt", 1_777_626_000_000, None),
        ("dueDate", "next week", None),
        ("dueDate", "2026-02-30", None),
        ("dueDate", True, None),
        ("order", 2.5, 0),
        ("order", False, 0),
        ("subtasks", "s1,s2", None),
        ("subtasks", {"id": "s1", "title": "x"}, None),
        ("subtasks", [{"id": "s1"}], None),  # an element lacks a string title: the whole field goes
        ("subtasks", [{"title": "x"}], None),
        ("subtasks", [{"id": 1, "title": "x"}], None),
        ("subtasks", [{"id": "s1", "title": "ok"}, "s2"], None),
        ("metadata", ["l1"], None),
        ("metadata", "labels", None),
        ("metadata", 0, None),
    ],
)
def test_task_wrong_types_take_the_default_with_a_warning(
    field: str, stored: object, expected: object
) -> None:
    task, warnings = normalise_task(RID, {field: stored})
    assert task.to_wire()[field] == expected
    assert warnings == invalid(field)


@pytest.mark.parametrize(
    ("field", "stored", "expected"),
    [
        ("title", None, None),
        ("title", "", ""),
        ("description", None, None),
        ("completedAt", None, None),
        ("dueDate", None, None),
        ("dueDate", "2026-05-01T00:00:00Z", "2026-05-01T00:00:00.000Z"),
        ("subtasks", None, None),
        ("subtasks", [], []),
        ("metadata", None, None),
        ("metadata", {}, {}),
        ("order", 3.0, 3),
        ("priority", "low", "low"),
    ],
)
def test_task_values_kept_silently(field: str, stored: object, expected: object) -> None:
    task, warnings = normalise_task(RID, {field: stored})
    assert task.to_wire()[field] == expected
    assert warnings == []


@pytest.mark.parametrize(
    ("element", "projected"),
    [
        ({"isCompleted": "yes"}, {"isCompleted": False}),
        ({"isCompleted": None}, {"isCompleted": False}),
        ({"completedAt": "yesterday"}, {"completedAt": None}),
        ({"completedAt": 5}, {"completedAt": None}),
        ({"order": "1"}, {"order": 0}),
        ({"order": 1.5}, {"order": 0}),
        ({"order": None}, {"order": 0}),
    ],
)
def test_a_wrong_typed_subtask_property_takes_its_default_with_one_warning(
    element: dict[str, Any], projected: dict[str, Any]
) -> None:
    task, warnings = normalise_task(RID, {"subtasks": [{"id": "s1", "title": "a", **element}]})
    expected = {"id": "s1", "title": "a", "isCompleted": False, "completedAt": None, "order": 0, **projected}
    assert task.to_wire()["subtasks"] == [expected]
    assert warnings == invalid("subtasks")


def test_subtask_order_defaults_to_its_index_and_completed_at_is_normalised() -> None:
    subtasks = [
        {"id": "a", "title": "1"},
        {"id": "b", "title": "2", "order": 7.0},
        {"id": "c", "title": "3", "completedAt": "2026-05-01T11:00:00+02:00", "isCompleted": True},
    ]
    task, warnings = normalise_task(RID, {"subtasks": subtasks})
    assert warnings == []
    assert task.subtasks == (
        Subtask("a", "1", False, None, 0),
        Subtask("b", "2", False, None, 7),
        Subtask("c", "3", True, T, 2),
    )


def test_one_warning_for_many_bad_subtask_properties() -> None:
    subtasks = [{"id": "a", "title": "1", "order": "x"}, {"id": "b", "title": "2", "isCompleted": 1}]
    _, warnings = normalise_task(RID, {"subtasks": subtasks})
    assert warnings == invalid("subtasks")


def test_unreadable_task_fields_are_null_with_decrypt_failed() -> None:
    values = {"title": "enc:1:garbage", "description": "d", "subtasks": "enc:1:x", "metadata": "enc:1:y"}
    task, warnings = normalise_task(RID, values, unreadable={"title", "subtasks", "metadata"})
    assert (task.title, task.description, task.subtasks, task.metadata) == (None, "d", None, None)
    assert codes(warnings) == [
        ("metadata", "decrypt_failed"),
        ("subtasks", "decrypt_failed"),
        ("title", "decrypt_failed"),
    ]
    assert warnings[0].message == DECRYPT_FAILED_MESSAGE
    for warning in warnings:
        assert "enc:1" not in repr(warning)


def test_task_warnings_mix_codes_and_are_ordered_by_field_name() -> None:
    values = {"priority": "x", "title": "enc:1:bad", "order": "1", "dueDate": "no", "metadata": []}
    _, warnings = normalise_task(RID, values, created_at="bad", unreadable=["title"])
    assert codes(warnings) == [
        ("createdAt", "invalid_value"),
        ("dueDate", "invalid_value"),
        ("metadata", "invalid_value"),
        ("order", "invalid_value"),
        ("priority", "invalid_value"),
        ("title", "decrypt_failed"),
    ]


def test_task_to_wire_does_not_share_the_stored_metadata() -> None:
    metadata = {"labelIds": ["l1"]}
    task, _ = normalise_task(RID, {"metadata": metadata})
    task.to_wire()["metadata"]["x"] = 1
    assert metadata == {"labelIds": ["l1"]}


def test_task_sort_key_open_first_then_order_then_id() -> None:
    records = {
        "t1": {"isCompleted": True, "order": 0},
        "t2": {"order": 5},
        "t3": {"isCompleted": False, "order": 1},
        "t4": {"isCompleted": "yes", "order": 1.0},  # not a boolean: open, like the normaliser says
        "t5": {"order": None},
        "t0": {"isCompleted": True, "order": -1},
    }
    ordered = sorted(records, key=lambda rid: task_sort_key(rid, records[rid]))
    assert ordered == ["t5", "t3", "t4", "t2", "t0", "t1"]
    tasks = [normalise_task(rid, v)[0] for rid, v in records.items()]
    assert [t.id for t in sorted(tasks, key=lambda t: (t.is_completed, t.order, t.id))] == ordered


@given(
    st.dictionaries(
        st.sampled_from(["isCompleted", "order", "isArchived"]),
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=2),
    )
)
def test_cheap_keys_agree_with_the_normalised_records(values: dict[str, Any]) -> None:
    task, _ = normalise_task(RID, values)
    assert task_sort_key(RID, values) == (task.is_completed, task.order, RID)
    assert task_is_completed(values) is task.is_completed
    habit, _ = normalise_habit(RID, values)
    assert habit_sort_key(RID, values) == (habit.order, RID)
    assert habit_is_archived(values) is habit.is_archived
    note, _ = normalise_note(RID, values)
    assert note_is_archived(values) is note.is_archived


# --- notes -----------------------------------------------------------------------------------


def test_note_defaults_for_an_empty_record_are_silent() -> None:
    note, warnings = normalise_note(RID, {})
    assert note == Note(RID, None, None, None, False, False, None, None)
    assert warnings == []


def test_note_with_every_field() -> None:
    values = {
        "title": "Idea",
        "content": "# Heading",
        "color": "#ffaa00",
        "isPinned": True,
        "isArchived": False,
    }
    note, warnings = normalise_note(RID, values, created_at=T, updated_at=T)
    assert warnings == []
    assert note.to_wire() == {
        "id": RID,
        "title": "Idea",
        "content": "# Heading",
        "color": "#ffaa00",
        "isPinned": True,
        "isArchived": False,
        "createdAt": T,
        "updatedAt": T,
    }


@pytest.mark.parametrize(
    ("field", "stored", "expected", "warns"),
    [
        ("color", "yellow", "yellow", False),  # not #RRGGBB: kept as is
        ("color", "", "", False),
        ("color", None, None, False),
        ("color", 7, None, True),
        ("title", 7, None, True),
        ("content", ["x"], None, True),
        ("content", "", "", False),
        ("isPinned", "true", False, True),
        ("isPinned", None, False, True),
        ("isArchived", 0, False, True),
    ],
)
def test_note_fields(field: str, stored: object, expected: object, warns: bool) -> None:
    note, warnings = normalise_note(RID, {field: stored})
    assert note.to_wire()[field] == expected
    assert warnings == (invalid(field) if warns else [])


def test_unreadable_note_fields() -> None:
    note, warnings = normalise_note(RID, {"title": "x", "content": "y"}, unreadable=("content",))
    assert (note.title, note.content) == ("x", None)
    assert codes(warnings) == [("content", "decrypt_failed")]


def test_note_sort_key_newest_first_then_nulls_then_id() -> None:
    notes = {
        "n1": "2026-05-01T09:00:00.000Z",
        "n2": None,
        "n3": "2026-05-01T10:00:00.000Z",
        "n4": "2026-05-01T09:00:00.000Z",
        "n0": None,
        "n5": "2025-12-31T23:59:59.999Z",
    }
    ordered = sorted(notes, key=lambda rid: note_sort_key(rid, notes[rid]))
    assert ordered == ["n3", "n1", "n4", "n5", "n0", "n2"]


# --- journal entries -------------------------------------------------------------------------


def test_journal_entry_defaults() -> None:
    entry, warnings = normalise_journal_entry(RID, {})
    assert entry == JournalEntry(RID, None, "", "", None, (), 0, False, False, False, None, None)
    assert warnings == []


def test_journal_entry_with_every_field() -> None:
    values = {
        "title": None,
        "content": "Heute  war\tein guter Tag\n",
        "entryDate": "2026-04-23",
        "mood": "zufrieden",
        "tags": ["walk", "sun"],
        "wordCount": 5,
        "isPinned": False,
        "isFavorite": True,
        "isArchived": False,
    }
    entry, warnings = normalise_journal_entry(RID, values, created_at=T, updated_at=T)
    assert warnings == []
    assert entry.to_wire() == {
        "id": RID,
        "title": None,
        "content": "Heute  war\tein guter Tag\n",
        "entryDate": "2026-04-23",
        "mood": "zufrieden",
        "tags": ["walk", "sun"],
        "wordCount": 5,
        "isPinned": False,
        "isFavorite": True,
        "isArchived": False,
        "createdAt": T,
        "updatedAt": T,
    }


@pytest.mark.parametrize(
    ("values", "field", "expected", "warns"),
    [
        ({"mood": "happy"}, "mood", None, True),
        ({"mood": 3}, "mood", None, True),
        ({"mood": None}, "mood", None, False),
        ({"mood": "wütend"}, "mood", "wütend", False),
        ({"tags": "walk"}, "tags", [], True),
        ({"tags": None}, "tags", [], True),
        ({"tags": ["a", 1, "b", None]}, "tags", ["a", "b"], True),
        ({"content": "zwei Wörter"}, "wordCount", 2, False),  # absent: counted from the content
        ({"content": "zwei Wörter", "wordCount": -1}, "wordCount", 2, True),
        ({"content": "eins", "wordCount": "1"}, "wordCount", 1, True),
        ({"content": "eins", "wordCount": 9.0}, "wordCount", 9, False),
        ({"content": 5}, "content", "", True),
        ({"entryDate": 20260423}, "entryDate", "", True),
        ({"isFavorite": "yes"}, "isFavorite", False, True),
    ],
)
def test_journal_entry_fields(values: dict[str, Any], field: str, expected: object, warns: bool) -> None:
    entry, warnings = normalise_journal_entry(RID, values)
    assert entry.to_wire()[field] == expected
    assert warnings == (invalid(field) if warns else [])


def test_unreadable_journal_content_is_empty_with_decrypt_failed() -> None:
    entry, warnings = normalise_journal_entry(
        RID, {"content": "enc:1:x", "wordCount": 4}, unreadable={"content"}
    )
    assert entry.content == ""
    assert entry.word_count == 4
    assert codes(warnings) == [("content", "decrypt_failed")]
