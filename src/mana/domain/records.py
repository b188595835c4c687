"""The records the tools return, and how a replayed record becomes one (tools.md §1.7 steps 8-10).

The entities are the read and write models of the tools: field names and type hints are the
output schemas (``mana.application.schema`` derives them), so field order is the schema's order
and a listed record's types are the list schema's (a listed task's ``title`` may be None).

Normalisation is tolerant by design: the log holds whatever older clients wrote. An absent field
takes the default silently, a stored value of the wrong JSON type takes the default with an
``invalid_value`` warning, and a field that failed to decrypt is None with a ``decrypt_failed``
warning. A JSON ``null`` in a field whose schema does not allow null counts as a wrong type. The
sort keys and predicates apply exactly the normalisers' defaults to the raw values, so callers can
filter, sort and cut before decrypting and still agree with the normalised records.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any, Literal

import attrs

from mana.domain.text import word_count
from mana.domain.timestamps import normalise_timestamp, parse_instant

WarningCode = Literal["decrypt_failed", "invalid_value"]
Priority = Literal["low", "medium", "high", "urgent"]
Mood = Literal[
    "dankbar", "glücklich", "zufrieden", "neutral", "nachdenklich", "traurig", "gestresst", "wütend"
]

PRIORITIES: tuple[Priority, ...] = ("low", "medium", "high", "urgent")
MOODS: tuple[Mood, ...] = (
    "dankbar",
    "glücklich",
    "zufrieden",
    "neutral",
    "nachdenklich",
    "traurig",
    "gestresst",
    "wütend",
)

DECRYPT_FAILED_MESSAGE = "The stored value could not be decrypted and is returned as null."
INVALID_VALUE_MESSAGE = "The stored value has an unexpected type and was replaced by a default."

DEFAULT_HABIT_ICON = "star"
DEFAULT_HABIT_COLOR = "#6366f1"
DEFAULT_PRIORITY: Priority = "medium"


# --- entities --------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class RecordWarning:
    """One entry of a list result's ``warnings``: which field of which record, and why."""

    id: str
    field: str
    code: WarningCode
    message: str

    @classmethod
    def decrypt_failed(cls, record_id: str, field: str) -> RecordWarning:
        return cls(record_id, field, "decrypt_failed", DECRYPT_FAILED_MESSAGE)

    @classmethod
    def invalid_value(cls, record_id: str, field: str) -> RecordWarning:
        return cls(record_id, field, "invalid_value", INVALID_VALUE_MESSAGE)

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "field": self.field, "code": self.code, "message": self.message}


@attrs.frozen(slots=True)
class Habit:
    id: str
    title: str
    icon: str
    color: str
    target_per_day: int | None
    default_duration: int | None
    order: int
    is_archived: bool
    created_at: str | None
    updated_at: str | None

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "icon": self.icon,
            "color": self.color,
            "targetPerDay": self.target_per_day,
            "defaultDuration": self.default_duration,
            "order": self.order,
            "isArchived": self.is_archived,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


@attrs.frozen(slots=True)
class Subtask:
    id: str
    title: str
    is_completed: bool
    completed_at: str | None
    order: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "isCompleted": self.is_completed,
            "completedAt": self.completed_at,
            "order": self.order,
        }


@attrs.frozen(slots=True)
class Task:
    id: str
    title: str | None
    description: str | None
    priority: Priority
    is_completed: bool
    completed_at: str | None
    due_date: str | None
    order: int
    subtasks: tuple[Subtask, ...] | None
    metadata: Mapping[str, Any] | None
    created_at: str | None
    updated_at: str | None

    def to_wire(self) -> dict[str, Any]:
        subtasks = self.subtasks
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "priority": self.priority,
            "isCompleted": self.is_completed,
            "completedAt": self.completed_at,
            "dueDate": self.due_date,
            "order": self.order,
            "subtasks": None if subtasks is None else [s.to_wire() for s in subtasks],
            "metadata": None if self.metadata is None else dict(self.metadata),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


@attrs.frozen(slots=True)
class Note:
    id: str
    title: str | None
    content: str | None
    color: str | None
    is_pinned: bool
    is_archived: bool
    created_at: str | None
    updated_at: str | None

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "content": self.content,
            "color": self.color,
            "isPinned": self.is_pinned,
            "isArchived": self.is_archived,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


@attrs.frozen(slots=True)
class JournalEntry:
    """Shaped by ``journal.add``'s output schema (no tool lists entries), so ``content`` is a string."""

    id: str
    title: str | None
    content: str
    entry_date: str
    mood: Mood | None
    tags: tuple[str, ...]
    word_count: int
    is_pinned: bool
    is_favorite: bool
    is_archived: bool
    created_at: str | None
    updated_at: str | None

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "content": self.content,
            "entryDate": self.entry_date,
            "mood": self.mood,
            "tags": list(self.tags),
            "wordCount": self.word_count,
            "isPinned": self.is_pinned,
            "isFavorite": self.is_favorite,
            "isArchived": self.is_archived,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


# --- value rules -----------------------------------------------------------------------------


def as_integer(value: object) -> int | None:
    """``value`` as a JSON integer: ints and zero-fraction floats (3.0) count, booleans do not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def _order_value(value: object) -> int:
    if value.__class__ is int:  # nearly every stored order: no further checks (a bool is not int)
        return value
    number = as_integer(value)
    return 0 if number is None else number


def habit_is_archived(values: Mapping[str, Any]) -> bool:
    """The normalised ``isArchived`` of a habit (anything but ``true`` is not archived)."""
    return values.get("isArchived") is True


def note_is_archived(values: Mapping[str, Any]) -> bool:
    return values.get("isArchived") is True


def task_is_completed(values: Mapping[str, Any]) -> bool:
    """The normalised ``isCompleted`` of a task; ``todo.complete`` skips the write when True (D14)."""
    return values.get("isCompleted") is True


def habit_is_active(values: Mapping[str, Any]) -> bool:
    """Not archived: what ``habits.list`` shows by default (a live-view filter)."""
    return values.get("isArchived") is not True


def note_is_active(values: Mapping[str, Any]) -> bool:
    """Not archived: what ``notes.search`` looks through by default (a live-view filter)."""
    return values.get("isArchived") is not True


def task_is_open(values: Mapping[str, Any]) -> bool:
    """Not completed: what ``todo.list`` shows by default (a live-view filter)."""
    return values.get("isCompleted") is not True


def habit_sort_key(record_id: str, values: Mapping[str, Any]) -> tuple[int, str]:
    """``habits.list`` order: ``order`` ascending (default 0), then id (tools.md §2.2)."""
    return (_order_value(values.get("order")), record_id)


def task_sort_key(record_id: str, values: Mapping[str, Any]) -> tuple[bool, int, str]:
    """``todo.list`` order: open tasks first, then ``order``, then id (D13)."""
    return (values.get("isCompleted") is True, _order_value(values.get("order")), record_id)


def note_sort_key(record_id: str, updated_at: str | None) -> tuple[int, int, str]:
    """``notes.search`` order: newest ``updatedAt`` first, records without one last, then id (D13)."""
    instant = parse_instant(updated_at)
    if instant is None:
        return (1, 0, record_id)
    return (0, -instant, record_id)


# --- normalisation ---------------------------------------------------------------------------

_ABSENT: Any = object()


class _Fields:
    """One record's raw values, and the warnings collected while reading them."""

    __slots__ = ("_unreadable", "_values", "record_id", "warnings")

    def __init__(self, record_id: str, values: Mapping[str, Any], unreadable: Collection[str]) -> None:
        self.record_id = record_id
        self._values = values
        self._unreadable = unreadable
        self.warnings = [RecordWarning.decrypt_failed(record_id, name) for name in unreadable]

    def raw(self, name: str) -> Any:
        """The stored value, or ``_ABSENT`` when absent or unreadable (which takes the default)."""
        if name in self._unreadable:
            return _ABSENT
        return self._values.get(name, _ABSENT)

    def invalid(self, name: str) -> None:
        self.warnings.append(RecordWarning.invalid_value(self.record_id, name))

    def sorted_warnings(self) -> list[RecordWarning]:
        self.warnings.sort(key=lambda w: w.field)
        return self.warnings

    def string(self, name: str, default: str) -> str:
        value = self.raw(name)
        if isinstance(value, str):
            return value
        if value is not _ABSENT:
            self.invalid(name)
        return default

    def optional_string(self, name: str) -> str | None:
        value = self.raw(name)
        if value is None or isinstance(value, str):
            return value
        if value is not _ABSENT:
            self.invalid(name)
        return None

    def boolean(self, name: str) -> bool:
        value = self.raw(name)
        if isinstance(value, bool):
            return value
        if value is not _ABSENT:
            self.invalid(name)
        return False

    def integer(self, name: str, default: int) -> int:
        value = self.raw(name)
        number = as_integer(value)
        if number is not None:
            return number
        if value is not _ABSENT:
            self.invalid(name)
        return default

    def positive_integer(self, name: str) -> int | None:
        """A count or duration: a non-positive integer means "none" and becomes None silently."""
        value = self.raw(name)
        if value is None or value is _ABSENT:
            return None
        number = as_integer(value)
        if number is None:
            self.invalid(name)
            return None
        return number if number > 0 else None

    def timestamp(self, name: str, value: Any = _ABSENT) -> str | None:
        if value is _ABSENT:
            value = self.raw(name)
        if value is None or value is _ABSENT:
            return None
        normalised = normalise_timestamp(value)
        if normalised is None:
            self.invalid(name)
        return normalised

    def choice(self, name: str, allowed: tuple[str, ...], default: Any) -> Any:
        value = self.raw(name)
        if value is _ABSENT:
            return default
        if isinstance(value, str) and value in allowed:
            return value
        if value is not None or default is not None:
            self.invalid(name)
        return default


def normalise_habit(
    record_id: str,
    values: Mapping[str, Any],
    *,
    created_at: object = None,
    updated_at: str | None = None,
    unreadable: Collection[str] = (),
) -> tuple[Habit, list[RecordWarning]]:
    """A replayed habit as ``habits.list`` returns it (tools.md §2.2).

    ``created_at`` is the insert's raw ``data.createdAt`` (``RecordState.raw_created_at``); an
    already normalised value works too, but then an unparseable one cannot be warned about.
    ``updated_at`` is the derived ``RecordState.updated_at``. ``unreadable`` names fields that failed
    to decrypt: they take their default and get a ``decrypt_failed`` warning here.
    """
    f = _Fields(record_id, values, unreadable)
    habit = Habit(
        id=record_id,
        title=f.string("title", ""),
        icon=f.string("icon", DEFAULT_HABIT_ICON),
        color=f.string("color", DEFAULT_HABIT_COLOR),
        target_per_day=f.positive_integer("targetPerDay"),
        default_duration=f.positive_integer("defaultDuration"),
        order=f.integer("order", 0),
        is_archived=f.boolean("isArchived"),
        created_at=f.timestamp("createdAt", created_at),
        updated_at=updated_at,
    )
    return habit, f.sorted_warnings()


def normalise_task(
    record_id: str,
    values: Mapping[str, Any],
    *,
    created_at: object = None,
    updated_at: str | None = None,
    unreadable: Collection[str] = (),
) -> tuple[Task, list[RecordWarning]]:
    """A replayed, decrypted task as ``todo.list`` returns it (tools.md §2.7); see :func:`normalise_habit`."""
    f = _Fields(record_id, values, unreadable)
    task = Task(
        id=record_id,
        title=f.optional_string("title"),
        description=f.optional_string("description"),
        priority=f.choice("priority", PRIORITIES, DEFAULT_PRIORITY),
        is_completed=f.boolean("isCompleted"),
        completed_at=f.timestamp("completedAt"),
        due_date=f.timestamp("dueDate"),
        order=f.integer("order", 0),
        subtasks=_subtasks(f),
        metadata=_metadata(f),
        created_at=f.timestamp("createdAt", created_at),
        updated_at=updated_at,
    )
    return task, f.sorted_warnings()


def _subtasks(f: _Fields) -> tuple[Subtask, ...] | None:
    """Each element projected onto the schema; one malformed element voids the whole field.

    Wrong-typed ``isCompleted``, ``completedAt`` or ``order`` inside an element take their defaults
    and give one ``invalid_value`` warning for the field ``subtasks``.
    """
    value = f.raw("subtasks")
    if value is None or value is _ABSENT:
        return None
    if not isinstance(value, list):
        f.invalid("subtasks")
        return None
    subtasks: list[Subtask] = []
    defaulted = False
    for index, element in enumerate(value):
        if not isinstance(element, dict):
            f.invalid("subtasks")
            return None
        subtask_id = element.get("id")
        title = element.get("title")
        if not isinstance(subtask_id, str) or not isinstance(title, str):
            f.invalid("subtasks")
            return None
        is_completed = element.get("isCompleted", False)
        if not isinstance(is_completed, bool):
            is_completed, defaulted = False, True
        completed_at = element.get("completedAt")
        if completed_at is not None:
            completed_at = normalise_timestamp(completed_at)
            defaulted = defaulted or completed_at is None
        order = element.get("order", _ABSENT)
        number = index if order is _ABSENT else as_integer(order)
        if number is None:
            number, defaulted = index, True
        subtasks.append(Subtask(subtask_id, title, is_completed, completed_at, number))
    if defaulted:
        f.invalid("subtasks")
    return tuple(subtasks)


def _metadata(f: _Fields) -> Mapping[str, Any] | None:
    value = f.raw("metadata")
    if isinstance(value, dict):
        return value
    if value is not None and value is not _ABSENT:
        f.invalid("metadata")
    return None


def normalise_note(
    record_id: str,
    values: Mapping[str, Any],
    *,
    created_at: object = None,
    updated_at: str | None = None,
    unreadable: Collection[str] = (),
) -> tuple[Note, list[RecordWarning]]:
    """A replayed, decrypted note as ``notes.search`` returns it (tools.md §2.10).

    A ``color`` string that is not ``#RRGGBB`` is kept as is; see :func:`normalise_habit`.
    """
    f = _Fields(record_id, values, unreadable)
    note = Note(
        id=record_id,
        title=f.optional_string("title"),
        content=f.optional_string("content"),
        color=f.optional_string("color"),
        is_pinned=f.boolean("isPinned"),
        is_archived=f.boolean("isArchived"),
        created_at=f.timestamp("createdAt", created_at),
        updated_at=updated_at,
    )
    return note, f.sorted_warnings()


def normalise_journal_entry(
    record_id: str,
    values: Mapping[str, Any],
    *,
    created_at: object = None,
    updated_at: str | None = None,
    unreadable: Collection[str] = (),
) -> tuple[JournalEntry, list[RecordWarning]]:
    """A replayed, decrypted journal entry in ``journal.add``'s shape (no tool lists entries yet).

    ``content`` is a string in that schema, so an absent, wrong-typed or unreadable content is
    ``""``. A missing ``wordCount`` is counted from the content; tags that are not strings are
    dropped (with a warning).
    """
    f = _Fields(record_id, values, unreadable)
    content = f.string("content", "")
    entry = JournalEntry(
        id=record_id,
        title=f.optional_string("title"),
        content=content,
        entry_date=f.string("entryDate", ""),
        mood=f.choice("mood", MOODS, None),
        tags=_tags(f),
        word_count=_word_count(f, content),
        is_pinned=f.boolean("isPinned"),
        is_favorite=f.boolean("isFavorite"),
        is_archived=f.boolean("isArchived"),
        created_at=f.timestamp("createdAt", created_at),
        updated_at=updated_at,
    )
    return entry, f.sorted_warnings()


def _tags(f: _Fields) -> tuple[str, ...]:
    value = f.raw("tags")
    if value is _ABSENT:
        return ()
    if not isinstance(value, list):
        f.invalid("tags")
        return ()
    tags = tuple(tag for tag in value if isinstance(tag, str))
    if len(tags) != len(value):
        f.invalid("tags")
    return tags


def _word_count(f: _Fields, content: str) -> int:
    value = f.raw("wordCount")
    number = as_integer(value)
    if number is not None and number >= 0:
        return number
    if value is not _ABSENT:
        f.invalid("wordCount")
    return word_count(content)
