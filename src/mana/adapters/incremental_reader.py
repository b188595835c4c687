"""The incremental pull cache: a list over a long history costs O(new changes), not O(history).

Per (user, appId, collection) it keeps the replay state (ciphertext only: it never sees a key) and
the last cursor, and resumes from the cursor minus an overlap; the replay skips event ids it has
already applied, so the result equals a cold full replay (mana-sync.md §10.4). Our own pushes show
up on the next read because reads pull with a client id that differs from the writer's (D4).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import UTC
from operator import itemgetter
from typing import cast

import attrs

from mana.application.ports import Caller, ChangeLog, Clock, PullPage
from mana.application.reading import pull_into
from mana.domain.replay import CollectionState
from mana.domain.timestamps import EPOCH_CURSOR, instant_to_datetime, parse_instant

_NEWEST = 2**63
OVERLAP_S = 10.0
MAX_AGE_S = 600.0
MAX_USERS = 10_000
LARGE_READ_PAGES = 20


def resume_cursor(cursor: str, overlap_s: float) -> str:
    """``cursor`` minus the overlap, as RFC 3339 UTC with microseconds (the server's precision).

    An unparseable cursor, or one closer to the epoch than the overlap, resumes from the epoch:
    still exact, since the replay skips event ids it has seen (an entry that has forgotten some
    is dropped instead, see :meth:`IncrementalReader._resumes_before_forgotten`).
    """
    instant = parse_instant(cursor)
    if instant is None:
        return EPOCH_CURSOR
    resumed = instant - int(overlap_s * 1_000_000)
    if resumed <= 0:
        return EPOCH_CURSOR
    dt = instant_to_datetime(resumed).astimezone(UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond:06d}Z"


@attrs.define(eq=False)
class _Entry:
    created: float
    state: CollectionState = attrs.Factory(CollectionState)
    cursor: str | None = None
    live: bool = True
    lock: asyncio.Lock = attrs.Factory(asyncio.Lock)
    recent: deque[tuple[int, frozenset[str]]] = attrs.Factory(deque)
    """(page cursor as an instant, event ids of that page) for the pages a resumed read may still
    send again, in the order they were read; ids of older pages are forgotten (see
    :meth:`IncrementalReader._forget`)."""
    last_seen: dict[str, int] = attrs.Factory(dict)
    """Each remembered event id → the newest cursor of a recorded page that held it."""
    forgotten_before: int = -_NEWEST
    """The latest instant ids were forgotten against: a change stored before it may have been
    forgotten, so a read that resumes before it could replay that change a second time."""


def _event_ids(page: PullPage) -> frozenset[str]:
    """The event ids of a page's valid changes, taken in one pass at C speed."""
    ids: frozenset[str | None] = frozenset(map(itemgetter(0), page.wire_changes))
    return cast(frozenset[str], ids - _NO_ID if None in ids else ids)


_NO_ID: frozenset[str | None] = frozenset((None,))


class _PageNotes:
    """What a read keeps of each page as it is applied (not the page: its changes go): how many
    pages there were, and the cursor and event ids of each page that had any."""

    __slots__ = ("count", "pages")

    def __init__(self) -> None:
        self.count = 0
        self.pages: list[tuple[int, frozenset[str]]] = []

    def __call__(self, page: PullPage) -> None:
        self.count += 1
        ids = _event_ids(page)
        if not ids:
            return  # nothing to forget later (an empty page: most reads of a warm entry)
        instant = parse_instant(page.synced_until)
        # An unparseable cursor counts as the newest: its ids are never forgotten early.
        self.pages.append((_NEWEST if instant is None else instant, ids))


class IncrementalReader:
    """:class:`~mana.application.ports.CollectionReader` that resumes from a per-entry cursor.

    Reads of one entry are serialised by a per-entry lock; each caller still pulls after taking
    the lock, so a caller always sees every change committed before its read began (its own
    pushes included). The returned state is shared: it may advance on later reads, so callers
    must not keep iterating it across an ``await``.
    """

    def __init__(
        self,
        change_log: ChangeLog,
        *,
        max_users: int = MAX_USERS,
        max_age_s: float = MAX_AGE_S,
        overlap_s: float = OVERLAP_S,
        clock: Clock,
        on_large_read: Callable[[], object] | None = None,
        large_read_pages: int = LARGE_READ_PAGES,
    ) -> None:
        """``on_large_read`` runs after a read of at least ``large_read_pages`` pages (the container
        passes :func:`~mana.adapters.heap.release_free_memory`)."""
        if max_users < 1:
            raise ValueError("max_users must be at least 1")
        self._log = change_log
        self._max_users = max_users
        self._max_age = max_age_s
        self._overlap = overlap_s
        self._clock = clock
        self._on_large_read = on_large_read
        self._large_read_pages = large_read_pages
        self._users: OrderedDict[str, dict[tuple[str, str], _Entry]] = OrderedDict()

    async def read(self, caller: Caller, app_id: str, collection: str) -> CollectionState:
        key = (app_id, collection)
        while True:
            entry = self._entry(caller.user_id, key)
            async with entry.lock:
                if not entry.live:
                    continue  # dropped while we waited (error, age, membership change): start over
                since = EPOCH_CURSOR if entry.cursor is None else resume_cursor(entry.cursor, self._overlap)
                notes = _PageNotes()
                try:
                    entry.cursor = await pull_into(
                        self._log, caller, app_id, collection, entry.state, since, notes
                    )
                except BaseException:
                    # A partly applied read must not be resumed from (mana-sync.md §10.4).
                    self._drop(caller.user_id, key, entry)
                    raise
                self._forget(entry, notes.pages)
                if self._resumes_before_forgotten(entry):
                    # The cursor went back past what was forgotten (a server clock stepped back,
                    # an unparseable cursor): this read is still exact, the next one from scratch.
                    self._drop(caller.user_id, key, entry)
                if self._on_large_read is not None and notes.count >= self._large_read_pages:
                    self._on_large_read()
                return entry.state

    def _forget(self, entry: _Entry, pages: list[tuple[int, frozenset[str]]]) -> None:
        """Keep the event ids only of pages a later resumed read could send again.

        The next read asks for changes stored after ``cursor - overlap``. Every change of a page
        was stored at or before that page's cursor, so a page whose cursor is older than the next
        read's start (less one more overlap, for a database clock running ahead of the server's)
        is never sent again, and an id none of whose pages is that recent can go: a 100,000-change
        history keeps about 1,000.

        The work is O(the pages that come and go): an agent listing ten times a second right
        after a write gets the same overlap page each time, and a pass over every page kept, or
        over every id kept, on each read grew with the reads of the last 20 seconds. Pages are
        kept in read order and popped from the front while they are old; a page newer than one
        in front of it (a cursor that went back) waits behind it, which keeps ids longer, never
        shorter.
        """
        recent, last_seen = entry.recent, entry.last_seen
        if not pages and not recent:
            return
        start = parse_instant(resume_cursor(entry.cursor or EPOCH_CURSOR, 2 * self._overlap))
        if start is None:
            start = -_NEWEST  # unparseable: forget nothing
        entry.forgotten_before = max(entry.forgotten_before, start)
        born_old: list[frozenset[str]] = []  # pages of this read already too old to keep
        for instant, ids in pages:
            if instant < start:
                born_old.append(ids)
                continue
            recent.append((instant, ids))
            for event_id in ids:
                if last_seen.get(event_id, -_NEWEST) < instant:
                    last_seen[event_id] = instant
        gone: list[str] = []
        while recent and recent[0][0] < start:
            for event_id in recent.popleft()[1]:
                if event_id in last_seen and last_seen[event_id] < start:
                    del last_seen[event_id]
                    gone.append(event_id)
        if not born_old:
            if gone:
                entry.state.forget_event_ids(gone)
            return
        if sum(map(len, born_old)) > len(last_seen):
            # Most ids go (a cold read's pages): keep the few that stay, by name.
            entry.state.forget_event_ids_except(last_seen)
            return
        gone.extend(event_id for ids in born_old for event_id in ids if event_id not in last_seen)
        entry.state.forget_event_ids(gone)

    def _resumes_before_forgotten(self, entry: _Entry) -> bool:
        """Whether the next read would start before the instant ids were forgotten against."""
        since = parse_instant(resume_cursor(entry.cursor or EPOCH_CURSOR, self._overlap))
        return since is None or since < entry.forgotten_before

    def memberships_changed(self, user_id: str) -> None:
        """Forget the user's entries: a new membership makes old rows of other users visible."""
        entries = self._users.pop(user_id, None)
        for entry in (entries or {}).values():
            entry.live = False

    def clear(self) -> None:
        for user_id in list(self._users):
            self.memberships_changed(user_id)

    @property
    def user_count(self) -> int:
        return len(self._users)

    def _entry(self, user_id: str, key: tuple[str, str]) -> _Entry:
        now = self._clock.monotonic()
        entries = self._users.get(user_id)
        if entries is None:
            entries = {}
            self._users[user_id] = entries
            while len(self._users) > self._max_users:
                _, evicted = self._users.popitem(last=False)
                for old in evicted.values():
                    old.live = False
        else:
            self._users.move_to_end(user_id)
        entry = entries.get(key)
        if entry is not None and now - entry.created > self._max_age:
            entry.live = False
            entry = None
        if entry is None:
            entry = _Entry(created=now)
            entries[key] = entry
        return entry

    def _drop(self, user_id: str, key: tuple[str, str], entry: _Entry) -> None:
        entry.live = False
        entries = self._users.get(user_id)
        if entries is not None and entries.get(key) is entry:
            del entries[key]
            if not entries:
                del self._users[user_id]
