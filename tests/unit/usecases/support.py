"""Assertions on tool results and builders for changes written the way the Mana web app writes them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator

from mana.application.invocation import ToolResult
from mana.entrypoints.harness import Harness

NOW = "2026-05-01T09:00:00.000Z"
"""The harness clock's start: the ``<now>`` of every call that does not move the clock."""

GATEWAY_ACTOR = {"kind": "system", "principalId": "system:mcp", "displayName": "Agent via MCP"}


def rid(n: int) -> str:
    """A record id as the web app makes them (lowercase UUID v4), distinct from the harness's ids."""
    return f"aaaaaaaa-0000-4000-8000-{n:012x}"


def ok(h: Harness, tool: str, result: ToolResult) -> dict[str, Any]:
    """A successful result: the text block is the compact JSON of structuredContent, which matches
    the published output schema."""
    assert not result.is_error, result.text
    assert result.error_code is None
    assert result.structured is not None
    structured = dict(result.structured)
    assert result.text == json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
    spec = h.catalog.by_canonical(tool)
    assert spec is not None
    validator = Draft202012Validator(spec.output_schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(structured), key=str)
    assert not errors, errors[0].message
    return structured


def failed(result: ToolResult, code: str, message: str) -> None:
    assert result.is_error
    assert result.structured is None
    assert (result.error_code, result.text) == (code, message)


def web_actor(user: str) -> dict[str, str]:
    return {"kind": "user", "principalId": user, "displayName": user.removeprefix("u_").title()}


def web_insert(
    table: str,
    record_id: str,
    data: Mapping[str, Any],
    *,
    space: str,
    author: str,
    visibility: str = "space",
) -> dict[str, Any]:
    """An insert as the web app pushes it: stamped ``spaceId``, ``authorId``, ``visibility``, and no
    ``createdAt`` or ``updatedAt`` (mana-sync.md §0)."""
    return {
        "table": table,
        "id": record_id,
        "op": "insert",
        "spaceId": space,
        "data": {"id": record_id, **data, "spaceId": space, "authorId": author, "visibility": visibility},
        "actor": web_actor(author),
        "origin": "user",
    }


def web_update(
    table: str,
    record_id: str,
    fields: Mapping[str, Any],
    *,
    at: str,
    space: str,
    author: str,
    time_key: str = "at",
) -> dict[str, Any]:
    """An update of ``fields`` (name -> value), all timed ``at``; the record's space at the top level."""
    return {
        "table": table,
        "id": record_id,
        "op": "update",
        "spaceId": space,
        "fields": {name: {"value": value, time_key: at} for name, value in fields.items()},
        "actor": web_actor(author),
        "origin": "user",
    }


def web_soft_delete(table: str, record_id: str, *, at: str, space: str, author: str) -> dict[str, Any]:
    return {
        "table": table,
        "id": record_id,
        "op": "delete",
        "spaceId": space,
        "deletedAt": at,
        "actor": web_actor(author),
        "origin": "user",
    }
