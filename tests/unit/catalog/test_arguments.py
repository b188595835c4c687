"""Argument validation: strict, defaults applied, messages name the field and rule, never the value."""

from __future__ import annotations

from typing import Any

import pytest

from mana.application.catalog import Catalog
from mana.application.schema import UNSET, ArgumentError

CATALOG = Catalog()


def parse(tool: str, arguments: Any) -> Any:
    spec = CATALOG.resolve(tool)
    assert spec is not None
    return spec.input_model.parse(arguments)


def details(tool: str, arguments: Any) -> str:
    with pytest.raises(ArgumentError) as caught:
        parse(tool, arguments)
    return str(caught.value)


def test_defaults_are_applied_and_missing_arguments_mean_an_empty_object() -> None:
    habit = parse("habits_create", {"title": "Coffee"})
    assert (habit.icon, habit.color, habit.target_per_day, habit.default_duration) == (
        "star",
        "#6366f1",
        None,
        None,
    )
    assert parse("todo_list", None).limit == 50
    assert parse("notes_search", {}).query == ""
    assert list(parse("journal_add", {"content": "x"}).tags) == []


def test_the_contract_example_lists_every_failing_location_sorted_by_pointer() -> None:
    assert details("todo_create", {"title": "x", "priority": "soon", "dueDate": "2026-02-30"}) == (
        "/dueDate: is not a valid date; /priority: must be one of: low, medium, high, urgent"
    )


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("habits_create", {}, "/title: is required"),
        ("habits_create", {"title": "A", "colour": "#ffffff"}, "/colour: is not allowed"),
        ("habits_create", {"title": "   "}, "/title: must contain a non-space character"),
        ("habits_create", {"title": "\ufeff\u3000\u2028"}, "/title: must contain a non-space character"),
        ("habits_create", {"title": ""}, "/title: must be at least 1 characters"),
        ("habits_create", {"title": "x" * 121}, "/title: must be at most 120 characters"),
        ("habits_create", {"title": 5}, "/title: must be a string"),
        ("habits_create", {"title": "A", "color": "red"}, "/color: must be a colour like #6366f1"),
        ("habits_create", {"title": "A", "targetPerDay": 0}, "/targetPerDay: must be > 0"),
        ("habits_create", {"title": "A", "targetPerDay": "2"}, "/targetPerDay: must be an integer or null"),
        ("habits_create", {"title": "A", "targetPerDay": 1.5}, "/targetPerDay: must be an integer or null"),
        ("habits_create", {"title": "A", "targetPerDay": True}, "/targetPerDay: must be an integer or null"),
        ("habits_create", {"title": "a\x00b"}, "/title: must not contain NUL characters"),
        ("habits_create", {"title": "a\ud800b"}, "/title: must be valid Unicode text"),
        ("habits_list", {"includeArchived": "true"}, "/includeArchived: must be a boolean"),
        ("habits_update", {"id": "not-a-uuid"}, "/id: must be a UUID"),
        ("todo_list", {"limit": 0}, "/limit: must be >= 1"),
        ("todo_list", {"limit": 501}, "/limit: must be <= 500"),
        (
            "todo_create",
            {"title": "x", "dueDate": "tomorrow"},
            "/dueDate: must be a date YYYY-MM-DD or an ISO 8601 date-time with offset",
        ),
        ("todo_create", {"title": "x", "dueDate": "2026-05-01T25:00Z"}, "/dueDate: is not a valid date"),
        ("todo_create", {"title": "x", "dueDate": 20260501}, "/dueDate: must be a string or null"),
        ("journal_add", {"content": "x", "entryDate": "01.05.2026"}, "/entryDate: must be a date YYYY-MM-DD"),
        ("journal_add", {"content": "x", "entryDate": "2026-13-01"}, "/entryDate: is not a valid date"),
        (
            "journal_add",
            {"content": "x", "mood": "happy"},
            "/mood: must be one of: dankbar, glücklich, zufrieden, neutral, nachdenklich, traurig, "
            "gestresst, wütend",
        ),
        ("journal_add", {"content": "x", "tags": ["a", 1]}, "/tags/1: must be a string"),
        ("journal_add", {"content": "x", "tags": "a"}, "/tags: must be an array"),
        (
            "journal_add",
            {"content": "x", "tags": ["ok", "a\x00"]},
            "/tags/1: must not contain NUL characters",
        ),
        ("notes_create", {"title": "t", "color": 3}, "/color: must be a string or null"),
        ("notes_create", {"title": "t", "color": "#ffffff\n"}, "/color: must be a colour like #6366f1"),
        ("todo_complete", {"id": "0f8fad5b-d9cb-469f-a165-70867728950e\n"}, "/id: must be a UUID"),
        (
            "todo_create",
            {"title": "x", "dueDate": "2026-05-01\n"},
            "/dueDate: must be a date YYYY-MM-DD or an ISO 8601 date-time with offset",
        ),
        ("spaces_list", [], "/: must be an object"),
    ],
)
def test_each_rule_has_its_message(tool: str, arguments: Any, expected: str) -> None:
    assert details(tool, arguments) == expected


def test_messages_never_echo_the_submitted_value() -> None:
    secret = "s3cr3t-value-that-must-not-leak"
    message = details("habits_create", {"title": secret * 10, "color": secret, secret: 1})
    assert secret not in message.replace(f"/{secret}", "")


def test_integers_with_a_zero_fraction_are_integers() -> None:
    assert parse("habits_create", {"title": "A", "targetPerDay": 3.0}).target_per_day == 3
    assert type(parse("todo_list", {"limit": 10.0}).limit) is int


def test_null_counts_as_present_and_absent_stays_unset() -> None:
    update = parse("habits_update", {"id": "0F8FAD5B-D9CB-469F-A165-70867728950E", "targetPerDay": None})
    assert update.target_per_day is None
    assert update.title is UNSET
    assert update.default_duration is UNSET


def test_ascii_digits_only_in_date_patterns() -> None:
    arabic_indic = "\u0662\u0660\u0662\u0666-\u0660\u0665-\u0660\u0661"
    assert "/entryDate" in details("journal_add", {"content": "x", "entryDate": arabic_indic})
