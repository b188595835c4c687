"""End to end in the local profile (D16): the embedded SQLite log, local users and dev tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import gateway, mcp_client


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_local_users_create_and_list_in_their_personal_space(tmp_path: Path, mode: str) -> None:
    async with gateway(tmp_path, profile="local") as gw:
        users = gw.container.adapters.database().users
        ana, ben = users.get_or_create("ana"), users.get_or_create("ben")
        issuer = gw.container.adapters.issuer()
        gw.tokens.update({ana.id: issuer.issue(ana.id, 5), ben.id: issuer.issue(ben.id, 5)})
        async with mcp_client(gw, ana.id, ana.space_id, mode=mode, client_name="Claude Code") as client:
            for tool, arguments in (
                ("habits_create", {"title": "Stretch"}),
                ("todo_create", {"title": "Book dentist", "dueDate": "2026-12-03T09:30:00+01:00"}),
                ("notes_create", {"title": "Idea", "content": "a garden"}),
                ("journal_add", {"content": "Quiet day."}),
            ):
                assert (await client.call_tool(tool, arguments)).is_error is False
            habits = (await client.call_tool("habits_list", {})).structured_content
            tasks = (await client.call_tool("todo_list", {})).structured_content
            notes = (await client.call_tool("notes_search", {"query": "garden"})).structured_content
            spaces = (await client.call_tool("spaces_list", {})).structured_content
        async with mcp_client(gw, ben.id, ben.space_id, mode=mode) as other:
            bens = (await other.call_tool("todo_list", {})).structured_content
        async with gw.http() as http:
            foreign = await http.post("/mcp", json={}, headers=gw.headers(ben.id, ana.space_id))
            ready = await http.get("/ready")
            health = await http.get("/health")
    assert habits is not None
    assert tasks is not None
    assert notes is not None
    assert [h["title"] for h in habits["habits"]] == ["Stretch"]
    assert [(t["title"], t["dueDate"]) for t in tasks["tasks"]] == [
        ("Book dentist", "2026-12-03T08:30:00.000Z")
    ]
    assert [n["content"] for n in notes["notes"]] == ["a garden"]
    assert spaces == {
        "spaces": [
            {"id": ana.space_id, "name": "Personal", "slug": None, "type": "personal", "role": "owner"}
        ],
        "activeSpaceId": ana.space_id,
    }
    assert bens == {"tasks": [], "warnings": []}
    assert foreign.status_code == 403
    assert ready.json() == {"status": "ready", "checks": {"jwks": {"status": "ok"}, "sync": {"status": "ok"}}}
    assert health.json()["mode"] == "local"
    assert (tmp_path / "data" / "mana-local.sqlite3").is_file()


async def test_local_data_survives_a_restart(tmp_path: Path) -> None:
    async with gateway(tmp_path, profile="local") as gw:
        user = gw.container.adapters.database().users.get_or_create("ana")
        gw.tokens[user.id] = gw.container.adapters.issuer().issue(user.id, 5)
        async with mcp_client(gw, user.id, user.space_id) as client:
            assert (await client.call_tool("notes_create", {"title": "kept"})).is_error is False
        token = gw.tokens[user.id]
    async with gateway(tmp_path, profile="local") as again:
        again.tokens[user.id] = token  # same signing key file: the old token still verifies
        async with mcp_client(again, user.id, user.space_id, mode="auto") as client:
            notes = (await client.call_tool("notes_search", {})).structured_content
    assert notes is not None
    assert [n["title"] for n in notes["notes"]] == ["kept"]


async def test_ready_reports_a_missing_signing_key_and_database(tmp_path: Path) -> None:
    async with gateway(tmp_path, profile="local") as gw, gw.http() as http:
        (tmp_path / "data" / "dev-signing-key.pem").unlink()
        (tmp_path / "data" / "mana-local.sqlite3").rename(tmp_path / "moved.sqlite3")
        ready = await http.get("/ready")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "not_ready",
        "checks": {
            "jwks": {"status": "fail", "error": "no usable key"},
            "sync": {"status": "fail", "error": "database error"},
        },
    }
