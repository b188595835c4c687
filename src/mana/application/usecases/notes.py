"""``notes.*`` (tools.md §2.9-§2.10): title and content are encrypted."""

from __future__ import annotations

import itertools

from mana.application.context import ToolContext
from mana.application.errors import DecryptFailed
from mana.application.inputs import NotesCreate, NotesSearch
from mana.application.outputs import NoteCreated, NotesFound
from mana.application.ports import ChangeLog, CollectionReader, FieldCipher, IdSource
from mana.application.usecases.records import Keys, first, live_records, project
from mana.application.usecases.writes import insert_change, push
from mana.domain.records import Note, normalise_note, note_is_active
from mana.domain.registry import NOTES
from mana.domain.replay import UNKNOWN_TIME, RecordState

_ENCRYPTED = tuple(sorted(NOTES.encrypted_fields))
_SEARCHED = ("title", "content")


class CreateNote:
    def __init__(self, change_log: ChangeLog, keys: Keys, ids: IdSource) -> None:
        self._log = change_log
        self._keys = keys
        self._ids = ids

    async def __call__(self, ctx: ToolContext, args: NotesCreate) -> NoteCreated:
        cipher = await self._keys.cipher(ctx)
        record_id = self._ids.new_id()
        domain = {
            # An empty content is encrypted too: it is the JSON text "" (tools.md §2.9).
            "title": cipher.encrypt(args.title),
            "content": cipher.encrypt(args.content),
            "color": args.color,
            "isPinned": args.is_pinned,
            "isArchived": False,
        }
        await push(self._log, ctx, NOTES, insert_change(ctx, NOTES, record_id, domain))
        now = ctx.now_text
        note = Note(
            id=record_id,
            title=args.title,
            content=args.content,
            color=args.color,
            is_pinned=args.is_pinned,
            is_archived=False,
            created_at=now,
            updated_at=now,
        )
        return NoteCreated(note)


def newest_first(record: RecordState) -> tuple[int, int, str]:
    """``updatedAt`` descending (null last), then id: the order of ``note_sort_key``, computed from
    the field times directly instead of formatting and re-parsing ``updatedAt`` per record.

    ``updatedAt`` is shown with millisecond precision, so times are compared at that precision too.
    """
    newest = record.newest_time
    if newest == UNKNOWN_TIME:
        return (1, 0, record.record_id)
    return (0, -(newest // 1000), record.record_id)


class SearchNotes:
    """An empty query needs no decryption to choose: sort and cut first, then decrypt what is shown.
    A real query must decrypt to match, so notes are tried newest first until ``limit`` match, and
    only the matches are normalised."""

    def __init__(self, reader: CollectionReader, keys: Keys) -> None:
        self._reader = reader
        self._keys = keys

    async def __call__(self, ctx: ToolContext, args: NotesSearch) -> NotesFound:
        cipher = await self._keys.cipher(ctx)
        records = await live_records(
            self._reader, ctx, NOTES, None if args.include_archived else note_is_active
        )
        query = args.query.strip().lower()
        if query:
            records.sort(key=newest_first)
            chosen = list(itertools.islice((r for r in records if _matches(r, query, cipher)), args.limit))
        else:
            chosen = first(records, args.limit, key=newest_first)
        notes, warnings = project(chosen, normalise_note, encrypted=NOTES.encrypted_fields, cipher=cipher)
        return NotesFound(notes, warnings)


def _matches(record: RecordState, query: str, cipher: FieldCipher) -> bool:
    """Case-insensitive substring (``str.lower``, not ``casefold``) in title or content.

    A field that is absent, unreadable or not a string is null in the result and never matches.
    """
    for name in _SEARCHED:
        try:
            value = cipher.decrypt(record.values.get(name))
        except DecryptFailed:
            continue
        if isinstance(value, str) and query in value.lower():
            return True
    return False
