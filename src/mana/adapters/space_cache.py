"""The 5-minute per-user cache of the caller's spaces (D6, gateway-http.md §5).

Every ``/mcp`` request checks ``X-Mana-Space`` against it, and ``spaces.list`` reads it. A space
missing from an entry older than 30 s triggers one refetch, so a space created a moment ago works.
Listeners (the incremental pull cache) hear when a user's set of space ids changes, because a new
membership makes old rows of other users visible that a resumed read would never fetch.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence

import attrs

from mana.application.ports import Caller, Clock, SpaceDirectory
from mana.domain.spaces import Space

log = logging.getLogger(__name__)

TTL_S = 300.0
REFETCH_AFTER_S = 30.0
MAX_USERS = 10_000

MembershipListener = Callable[[str], None]


@attrs.frozen(slots=True)
class _Entry:
    spaces: tuple[Space, ...]
    ids: frozenset[str]
    fetched: float


class CachingSpaceDirectory:
    """:class:`~mana.application.ports.SpaceDirectory` with a per-user TTL cache and ``is_member``."""

    def __init__(
        self,
        inner: SpaceDirectory,
        clock: Clock,
        *,
        ttl_s: float = TTL_S,
        max_users: int = MAX_USERS,
        refetch_after_s: float = REFETCH_AFTER_S,
        on_change: MembershipListener | None = None,
    ) -> None:
        if max_users < 1:
            raise ValueError("max_users must be at least 1")
        self._inner = inner
        self._clock = clock
        self._ttl = ttl_s
        self._max_users = max_users
        self._refetch_after = refetch_after_s
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._known_ids: dict[str, frozenset[str]] = {}
        self._inflight: dict[str, asyncio.Task[_Entry]] = {}
        self._listeners: list[MembershipListener] = [on_change] if on_change is not None else []

    def add_listener(self, listener: MembershipListener) -> None:
        """``listener(user_id)`` is called when a fetch finds a set of space ids that differs from
        the last one seen for that user (or when there is no earlier one to compare with)."""
        self._listeners.append(listener)

    async def spaces(self, caller: Caller) -> Sequence[Space]:
        entry = self._fresh(caller.user_id)
        if entry is None:
            entry = await self._fetch(caller)
        return entry.spaces

    async def is_member(self, caller: Caller, space_id: str) -> bool:
        """Raises :class:`~mana.application.errors.SpacesUnavailable` only when no usable entry exists."""
        entry = self._fresh(caller.user_id)
        if entry is None:
            entry = await self._fetch(caller)
            return space_id in entry.ids
        if space_id in entry.ids:
            return True
        if self._clock.monotonic() - entry.fetched <= self._refetch_after:
            return False
        try:
            entry = await self._fetch(caller)
        except Exception:
            # The cached entry is still within its TTL: answer from it rather than fail the request.
            log.warning("space refetch failed; answering from the cached entry")
            return False
        return space_id in entry.ids

    def forget(self, user_id: str) -> None:
        self._entries.pop(user_id, None)

    def _fresh(self, user_id: str) -> _Entry | None:
        entry = self._entries.get(user_id)
        if entry is None:
            return None
        if self._clock.monotonic() - entry.fetched >= self._ttl:
            del self._entries[user_id]
            return None
        self._entries.move_to_end(user_id)
        return entry

    async def _fetch(self, caller: Caller) -> _Entry:
        task = self._inflight.get(caller.user_id)
        if task is None:
            task = asyncio.ensure_future(self._load(caller))
            task.add_done_callback(_retrieve)
            self._inflight[caller.user_id] = task
        return await asyncio.shield(task)

    async def _load(self, caller: Caller) -> _Entry:
        user_id = caller.user_id
        started = self._clock.monotonic()
        try:
            spaces = tuple(await self._inner.spaces(caller))
        finally:
            if self._inflight.get(user_id) is asyncio.current_task():
                del self._inflight[user_id]
        entry = _Entry(spaces, frozenset(s.id for s in spaces), started)
        self._entries[user_id] = entry
        self._entries.move_to_end(user_id)
        while len(self._entries) > self._max_users:
            evicted, _ = self._entries.popitem(last=False)
            self._known_ids.pop(evicted, None)
        if self._known_ids.get(user_id) != entry.ids:
            self._known_ids[user_id] = entry.ids
            for listener in self._listeners:
                listener(user_id)
        return entry


def _retrieve(task: asyncio.Task[_Entry]) -> None:
    if not task.cancelled():
        task.exception()
