"""Which mana-sync app and collection each module writes, and which fields are encrypted there.

The encrypted-field registry must agree with the web app's (crypto.md §6).
"""

from __future__ import annotations

import attrs


@attrs.frozen(slots=True)
class Collection:
    app_id: str
    name: str
    encrypted_fields: frozenset[str] = frozenset()


HABITS = Collection("habits", "habits")
TASKS = Collection("todo", "tasks", frozenset(("title", "description", "subtasks", "metadata")))
NOTES = Collection("notes", "notes", frozenset(("title", "content")))
JOURNAL_ENTRIES = Collection("journal", "journalEntries", frozenset(("title", "content")))
MOOD_ENTRIES = Collection("mood", "moodEntries", frozenset(("withWhom", "notes")))

COLLECTIONS: tuple[Collection, ...] = (HABITS, TASKS, NOTES, JOURNAL_ENTRIES, MOOD_ENTRIES)

ENCRYPTED_FIELDS: dict[str, frozenset[str]] = {c.name: c.encrypted_fields for c in COLLECTIONS}
