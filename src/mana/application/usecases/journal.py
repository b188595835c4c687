"""``journal.add`` (tools.md §2.11): title and content encrypted; date, mood and tags stay plaintext
so the web app's statistics can read them."""

from __future__ import annotations

from typing import cast

from mana.application.context import ToolContext
from mana.application.inputs import JournalAdd
from mana.application.outputs import JournalEntryAdded
from mana.application.ports import ChangeLog, IdSource
from mana.application.schema import UNSET
from mana.application.usecases.records import Keys
from mana.application.usecases.writes import insert_change, push
from mana.domain.records import JournalEntry, Mood
from mana.domain.registry import JOURNAL_ENTRIES
from mana.domain.text import word_count


class AddJournalEntry:
    def __init__(self, change_log: ChangeLog, keys: Keys, ids: IdSource) -> None:
        self._log = change_log
        self._keys = keys
        self._ids = ids

    async def __call__(self, ctx: ToolContext, args: JournalAdd) -> JournalEntryAdded:
        cipher = await self._keys.cipher(ctx)
        record_id = self._ids.new_id()
        now = ctx.now_text
        # "Today" is the UTC date, as in the web app; now_text is UTC.
        entry_date = now[:10] if args.entry_date is UNSET else args.entry_date
        tags = tuple(args.tags)
        words = word_count(args.content)
        domain = {
            "title": None if args.title is None else cipher.encrypt(args.title),
            "content": cipher.encrypt(args.content),
            "entryDate": entry_date,
            "mood": args.mood,
            "tags": list(tags),
            "wordCount": words,
            "isPinned": False,
            "isFavorite": False,
            "isArchived": False,
        }
        change = insert_change(ctx, JOURNAL_ENTRIES, record_id, domain)
        await push(self._log, ctx, JOURNAL_ENTRIES, change)
        entry = JournalEntry(
            id=record_id,
            title=args.title,
            content=args.content,
            entry_date=entry_date,
            mood=cast("Mood | None", args.mood),
            tags=tags,
            word_count=words,
            is_pinned=False,
            is_favorite=False,
            is_archived=False,
            created_at=now,
            updated_at=now,
        )
        return JournalEntryAdded(entry)
