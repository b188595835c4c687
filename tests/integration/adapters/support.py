"""Changes as the gateway writes them, and as other clients (browsers) write them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from mana.adapters.standins.fake_mana_sync import FakeManaSync
from mana.domain.changes import Actor, Change, FieldChange
from mana.domain.timestamps import format_instant

ACTOR = Actor("system", "system:mcp", "Test via MCP")
BROWSER_ACTOR = {"kind": "user", "principalId": "u_bob", "displayName": "Bob"}


def now_text() -> str:
    return format_instant(datetime.now(UTC))


def insert(
    record_id: str, title: str, *, space: str = "sp_family", author: str = "u_alice", at: str | None = None
) -> Change:
    data = {"id": record_id, "title": title, "spaceId": space, "authorId": author, "visibility": "space"}
    data["createdAt"] = at or now_text()
    return Change("habits", record_id, "insert", data=data, space_id=space, actor=ACTOR, origin="agent")


def update(record_id: str, *, space: str = "sp_family", at: str | None = None, **values: Any) -> Change:
    time = at or now_text()
    fields = {name: FieldChange(value, time, time) for name, value in values.items()}
    return Change("habits", record_id, "update", fields=fields, space_id=space, actor=ACTOR, origin="agent")


def browser_push(
    sync: FakeManaSync, user_id: str, changes: list[dict[str, Any]], *, app_id: str = "habits"
) -> None:
    """Another client's push, straight into the stand-in's log (its own client id, its own shape)."""
    body = {"clientId": "browser-1", "since": now_text(), "changes": changes}
    answer = sync.server.push(user_id, "browser-1", app_id, json.dumps(body).encode())
    assert answer.status == 200, answer.text


def browser_insert(
    record_id: str, title: str, *, space: str = "sp_family", author: str = "u_bob"
) -> dict[str, Any]:
    data = {"id": record_id, "title": title, "spaceId": space, "authorId": author, "visibility": "space"}
    return {
        "table": "habits",
        "id": record_id,
        "op": "insert",
        "spaceId": space,
        "data": data,
        "actor": BROWSER_ACTOR,
        "origin": "user",
    }


def browser_update(record_id: str, title: str, at: str, *, space: str = "sp_family") -> dict[str, Any]:
    return {
        "table": "habits",
        "id": record_id,
        "op": "update",
        "spaceId": space,
        "fields": {"title": {"value": title, "at": at}},
        "actor": BROWSER_ACTOR,
        "origin": "user",
    }


def titles(state: Any) -> dict[str, Any]:
    return {rid: rec.values.get("title") for rid, rec in state.records.items()}
