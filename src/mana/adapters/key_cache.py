"""The per-process master-key cache of D12.

Every vault request writes an audit row at mana-auth and costs a round trip before any encrypted
tool can start, so keys are kept 5 minutes (counted from the start of the fetch, so a slow answer
does not extend a key's life), concurrent callers of one user share one request, and a
zero-knowledge answer is remembered for a minute. Other failures are not cached.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

import attrs

from mana.application.errors import ZeroKnowledge
from mana.application.ports import Caller, Clock, KeyCacheObserver, KeyVault, MasterKey

KEY_TTL_S = 300.0
ZERO_KNOWLEDGE_TTL_S = 60.0
MAX_USERS = 10_000


@attrs.frozen(slots=True)
class _Cached:
    key: MasterKey | None
    """None: a remembered zero-knowledge answer."""
    expires: float


class CachingKeyVault:
    """:class:`~mana.application.ports.KeyVault` in front of another one (mana-auth's vault)."""

    def __init__(
        self,
        inner: KeyVault,
        clock: Clock,
        observer: KeyCacheObserver,
        *,
        ttl_s: float = KEY_TTL_S,
        max_users: int = MAX_USERS,
        zero_knowledge_ttl_s: float = ZERO_KNOWLEDGE_TTL_S,
    ) -> None:
        if max_users < 1:
            raise ValueError("max_users must be at least 1")
        self._inner = inner
        self._clock = clock
        self._observer = observer
        self._ttl = ttl_s
        self._zk_ttl = zero_knowledge_ttl_s
        self._max_users = max_users
        self._entries: OrderedDict[str, _Cached] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[MasterKey]] = {}

    async def master_key(self, caller: Caller) -> MasterKey:
        user_id = caller.user_id
        cached = self._entries.get(user_id)
        if cached is not None:
            if self._clock.monotonic() < cached.expires:
                self._entries.move_to_end(user_id)
                if cached.key is None:
                    self._observer.key_lookup("zero_knowledge_hit")
                    raise ZeroKnowledge()
                self._observer.key_lookup("hit")
                return cached.key
            del self._entries[user_id]
        task = self._inflight.get(user_id)
        if task is not None:
            self._observer.key_lookup("shared")
            # shield: one waiter giving up must not cancel the fetch the others share.
            return await asyncio.shield(task)
        task = asyncio.ensure_future(self._fetch(caller))
        task.add_done_callback(_retrieve)
        self._inflight[user_id] = task
        try:
            key = await asyncio.shield(task)
        except ZeroKnowledge:
            self._observer.key_lookup("miss")
            raise
        except BaseException:
            if task.done() and not task.cancelled():
                self._observer.key_lookup("error")
            raise
        self._observer.key_lookup("miss")
        return key

    async def _fetch(self, caller: Caller) -> MasterKey:
        user_id = caller.user_id
        started = self._clock.monotonic()
        try:
            key = await self._inner.master_key(caller)
        except ZeroKnowledge:
            self._store(user_id, _Cached(None, started + self._zk_ttl))
            raise
        else:
            self._store(user_id, _Cached(key, started + self._ttl))
            return key
        finally:
            if self._inflight.get(user_id) is asyncio.current_task():
                del self._inflight[user_id]

    def _store(self, user_id: str, entry: _Cached) -> None:
        self._entries[user_id] = entry
        self._entries.move_to_end(user_id)
        while len(self._entries) > self._max_users:
            self._entries.popitem(last=False)

    def forget(self, user_id: str) -> None:
        """Drop the user's cached key (e.g. after mana-sync reports the key no longer decrypts)."""
        self._entries.pop(user_id, None)

    def __len__(self) -> int:
        return len(self._entries)


def _retrieve(task: asyncio.Task[MasterKey]) -> None:
    """Mark a fetch's failure as seen even when every waiter gave up before it ended."""
    if not task.cancelled():
        task.exception()
