"""The result types of the 11 tools. Their schemas are derived from the domain entities' type hints
(``mana.application.schema.output_schema``), with the per-tool refinements of tools.md §2."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from mana.application.schema import out
from mana.domain.records import Habit, JournalEntry, Note, RecordWarning, Task
from mana.domain.spaces import Space

_DATE_TIME: Mapping[str, Any] = {"type": ["string", "null"], "format": "date-time"}
_UUID: Mapping[str, Any] = {"type": "string", "format": "uuid"}
_STRING: Mapping[str, Any] = {"type": "string"}
_WARNING_CODE = {"code": {"type": "string", "enum": ["decrypt_failed", "invalid_value"]}}
_TIMES = {"created_at": _DATE_TIME, "updated_at": _DATE_TIME}
_TASK_TIMES = {**_TIMES, "completed_at": _DATE_TIME, "due_date": _DATE_TIME}


@attrs.frozen(slots=True)
class HabitCreated:
    habit: Habit = out(overrides={"id": _UUID, **_TIMES})


@attrs.frozen(slots=True)
class HabitsListed:
    habits: tuple[Habit, ...] = out(overrides=_TIMES)
    warnings: tuple[RecordWarning, ...] = out(overrides=_WARNING_CODE)


@attrs.frozen(slots=True)
class Ok:
    ok: Literal[True] = True


@attrs.frozen(slots=True)
class SpacesListed:
    spaces: tuple[Space, ...]
    active_space_id: str


@attrs.frozen(slots=True)
class TaskCreated:
    task: Task = out(overrides={"id": _UUID, "title": _STRING, **_TASK_TIMES})


@attrs.frozen(slots=True)
class TasksListed:
    tasks: tuple[Task, ...] = out(overrides=_TASK_TIMES)
    warnings: tuple[RecordWarning, ...] = out(overrides=_WARNING_CODE)


@attrs.frozen(slots=True)
class NoteCreated:
    note: Note = out(overrides={"id": _UUID, "title": _STRING, "content": _STRING, **_TIMES})


@attrs.frozen(slots=True)
class NotesFound:
    notes: tuple[Note, ...] = out(overrides=_TIMES)
    warnings: tuple[RecordWarning, ...] = out(overrides=_WARNING_CODE)


@attrs.frozen(slots=True)
class JournalEntryAdded:
    entry: JournalEntry = out(
        overrides={"id": _UUID, "word_count": {"type": "integer", "minimum": 0}, **_TIMES}
    )
