"""The :class:`~mana.application.ports.ChangeLog` port served in process by the sync core.

Local mode and the test harness talk to :class:`~mana.adapters.sync_core.SyncServer` without
HTTP, but through the very same envelope, client ids and status mapping as the HTTP adapter, so
everything above the port behaves identically in both modes (gateway-http.md §2).
"""

from __future__ import annotations

from typing import Any

from mana.adapters.sync_core import ConnectionDropped, SyncResponse, SyncServer
from mana.application.errors import SyncInactive, SyncReadFailed, SyncUnauthorized, SyncWriteFailed
from mana.application.ports import Caller, PullPage
from mana.domain.changes import (
    READER_CLIENT_ID,
    WIRE_CLIENT_ID,
    Change,
    change_to_wire,
    read_changes,
)


def _raise_for_status(response: SyncResponse, failure: type[SyncReadFailed] | type[SyncWriteFailed]) -> None:
    status = response.status
    if 200 <= status < 300:
        return
    if status == 401:
        raise SyncUnauthorized()
    if status == 402:
        raise SyncInactive()
    raise failure(f"HTTP {status}")


class InProcessChangeLog:
    """Pushes as ``mana-mcp`` with the tools.md §3.2 envelope; pulls as ``mana-mcp-reader`` (D2, D4)."""

    def __init__(self, server: SyncServer) -> None:
        self._server = server

    async def push(self, caller: Caller, app_id: str, change: Change, since: str) -> None:
        body = {
            "clientId": WIRE_CLIENT_ID,
            "since": since,
            "schemaVersion": 1,
            "changes": [change_to_wire(change)],
        }
        try:
            response = self._server.push(caller.user_id, WIRE_CLIENT_ID, app_id, body)
        except ConnectionDropped:
            raise SyncWriteFailed("connection failed", maybe_written=True) from None
        _raise_for_status(response, SyncWriteFailed)

    async def pull(self, caller: Caller, app_id: str, collection: str, since: str) -> PullPage:
        try:
            response = self._server.pull(caller.user_id, READER_CLIENT_ID, app_id, collection, since)
        except ConnectionDropped:
            raise SyncReadFailed("connection failed") from None
        _raise_for_status(response, SyncReadFailed)
        return _page(response.json)


def _page(body: Any) -> PullPage:
    if not isinstance(body, dict):
        raise SyncReadFailed("invalid response")
    raw_changes = body.get("serverChanges")
    synced_until = body.get("syncedUntil")
    if not isinstance(raw_changes, list) or not isinstance(synced_until, str):
        raise SyncReadFailed("invalid response")
    changes, invalid = read_changes(raw_changes)
    return PullPage(changes, synced_until, body.get("hasMore") is True, [c.event_id for c in invalid])
