"""The 11 use cases, one small class per tool verb, bound to the catalog by canonical name."""

from __future__ import annotations

from mana.application.ports import (
    ChangeLog,
    CipherFactory,
    CollectionReader,
    IdSource,
    KeyVault,
    SpaceDirectory,
)
from mana.application.service import UseCase
from mana.application.usecases.habits import ArchiveHabit, CreateHabit, ListHabits, UpdateHabit
from mana.application.usecases.journal import AddJournalEntry
from mana.application.usecases.notes import CreateNote, SearchNotes
from mana.application.usecases.records import Keys
from mana.application.usecases.spaces import ListSpaces
from mana.application.usecases.todo import CompleteTask, CreateTask, ListTasks

__all__ = ["Keys", "build_use_cases"]


def build_use_cases(
    *,
    reader: CollectionReader,
    change_log: ChangeLog,
    key_vault: KeyVault,
    ciphers: CipherFactory,
    spaces: SpaceDirectory,
    ids: IdSource,
) -> dict[str, UseCase]:
    """Every tool's use case keyed by canonical name, ready for ``CatalogToolService``."""
    keys = Keys(key_vault, ciphers)
    return {
        "habits.create": CreateHabit(reader, change_log, ids),
        "habits.list": ListHabits(reader),
        "habits.update": UpdateHabit(reader, change_log),
        "habits.archive": ArchiveHabit(reader, change_log),
        "journal.add": AddJournalEntry(change_log, keys, ids),
        "notes.create": CreateNote(change_log, keys, ids),
        "notes.search": SearchNotes(reader, keys),
        "spaces.list": ListSpaces(spaces),
        "todo.create": CreateTask(reader, change_log, keys, ids),
        "todo.list": ListTasks(reader, keys),
        "todo.complete": CompleteTask(reader, change_log),
    }
