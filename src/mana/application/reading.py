"""Reading one collection: page through the log until ``hasMore`` is false, then replay (D4).

This is the correct-by-construction read: always from the epoch. The incremental pull cache (an
adapter behind the same :class:`~mana.application.ports.CollectionReader` port) resumes instead,
and reuses :func:`pull_into` so both paths page and de-duplicate the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mana.application.errors import SyncReadFailed
from mana.application.ports import Caller, ChangeLog, PullPage
from mana.domain.replay import CollectionState
from mana.domain.timestamps import EPOCH_CURSOR

MAX_PAGES = 200
"""At most 200 pages (200,000 changes) per read (mana-sync.md §5.4)."""

log = logging.getLogger(__name__)


async def pull_into(
    log_port: ChangeLog,
    caller: Caller,
    app_id: str,
    collection: str,
    state: CollectionState,
    since: str = EPOCH_CURSOR,
    on_page: Callable[[PullPage], None] | None = None,
) -> str:
    """Pull every page after ``since`` into ``state``; returns the final cursor.

    Event ids already in ``state`` are skipped by the replay itself, so a resumed read with an
    overlap stays exact. A page that claims more without progress is a protocol fault.
    ``on_page`` sees every page once it is applied.
    """
    try:
        return await _pull_pages(log_port, caller, app_id, collection, state, since, on_page)
    except SyncReadFailed as failure:
        if failure.collection is None:
            failure.collection = collection
        raise


async def _pull_pages(
    log_port: ChangeLog,
    caller: Caller,
    app_id: str,
    collection: str,
    state: CollectionState,
    since: str,
    on_page: Callable[[PullPage], None] | None,
) -> str:
    cursor = since
    for _ in range(MAX_PAGES):
        page = await log_port.pull(caller, app_id, collection, cursor)
        if page.invalid_event_ids:
            state.invalid += len(page.invalid_event_ids)
            log.warning(
                "skipped invalid changes",
                extra={"collection": collection, "event_ids": list(page.invalid_event_ids)[:20]},
            )
        state.apply_wire(page.wire_changes)
        if on_page is not None:
            on_page(page)
        if not page.has_more:
            return page.synced_until
        if not page.wire_changes or page.synced_until == cursor:
            raise SyncReadFailed("invalid response")
        cursor = page.synced_until
    raise SyncReadFailed("change log too large")


class FullReplayReader:
    """The plain :class:`~mana.application.ports.CollectionReader`: a full read on every call."""

    def __init__(self, change_log: ChangeLog) -> None:
        self._log = change_log

    async def read(self, caller: Caller, app_id: str, collection: str) -> CollectionState:
        state = CollectionState()
        await pull_into(self._log, caller, app_id, collection, state)
        return state
