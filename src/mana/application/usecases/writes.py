"""The changes the tools write, shaped exactly as the web app's (tools.md §3, D1-D3), one per push."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mana.application.context import ToolContext
from mana.application.ports import ChangeLog
from mana.domain.changes import Change, FieldChange
from mana.domain.registry import Collection
from mana.domain.replay import RecordState

ORIGIN = "agent"
"""Every change the gateway writes is the agent's (D2)."""
VISIBILITY = "space"
"""The web app's default visibility (D3)."""


def insert_change(
    ctx: ToolContext, collection: Collection, record_id: str, domain: Mapping[str, Any]
) -> Change:
    """An insert with the stamps of D3; ``domain`` holds the record's own keys, already encrypted.

    No ``updatedAt`` data field: readers derive it from the field times, as the web app does.
    """
    data: dict[str, Any] = {"id": record_id, **domain}
    data["spaceId"] = ctx.space_id
    data["authorId"] = ctx.user_id
    data["visibility"] = VISIBILITY
    data["createdAt"] = ctx.now_text
    return Change(
        table=collection.name,
        record_id=record_id,
        op="insert",
        data=data,
        space_id=ctx.space_id,
        actor=ctx.actor,
        origin=ORIGIN,
    )


def update_change(
    ctx: ToolContext, collection: Collection, record: RecordState, values: Mapping[str, Any]
) -> Change:
    """An update of exactly ``values``, each timed ``now`` under ``at`` and ``updatedAt`` (D1).

    The top-level ``spaceId`` is the record's own space (tools.md §3.2): for a record stamped
    ``_personal:<sub>`` the update stays as private as its insert.
    """
    if not values:
        raise ValueError("an update must change at least one field")
    now = ctx.now_text
    return Change(
        table=collection.name,
        record_id=record.record_id,
        op="update",
        fields={name: FieldChange(value, now, now) for name, value in values.items()},
        space_id=record.space_id,
        actor=ctx.actor,
        origin=ORIGIN,
    )


async def push(change_log: ChangeLog, ctx: ToolContext, collection: Collection, change: Change) -> None:
    """One change per push; ``since`` = now keeps the push delta nearly empty (tools.md §3.2)."""
    await change_log.push(ctx.caller, collection.app_id, change, ctx.now_text)
