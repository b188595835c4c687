"""notes.create, notes.search, journal.add, spaces.list (tools.md §2.5, §2.9-§2.11)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mana.application.ports import FieldCipher, MasterKey
from mana.domain.spaces import Space
from mana.entrypoints.harness import ALICE, ALICE_PERSONAL, BOB, FAMILY, WORK, Harness

from .support import GATEWAY_ACTOR, NOW, failed, ok, rid, web_insert, web_update

NEW_ID = "00000000-0000-4000-8000-000000000001"


def plant_note(h: Harness, n: int, *, at: str | None = None, space: str = ALICE_PERSONAL, **data: Any) -> str:
    """A note as the web app writes it; ``at`` adds a later web edit of ``isPinned`` (its updatedAt)."""
    record_id = rid(n)
    values: dict[str, Any] = {
        "title": f"Note {n}",
        "content": "",
        "color": None,
        "isPinned": False,
        "isArchived": False,
        **data,
    }
    for name in ("title", "content"):
        if isinstance(values[name], str) and not values[name].startswith("enc:"):
            values[name] = h.encrypt_as(ALICE, values[name])
    h.plant(ALICE, "notes", web_insert("notes", record_id, values, space=space, author=ALICE))
    if at is not None:
        h.plant(
            ALICE,
            "notes",
            web_update(
                "notes", record_id, {"isPinned": values["isPinned"]}, at=at, space=space, author=ALICE
            ),
        )
    return record_id


# --- notes.create --------------------------------------------------------------------------------


async def test_create_note_pushes_encrypted_title_and_content(h: Harness) -> None:
    result = await h.call(
        "notes.create",
        {"title": "Ideas", "content": "# Heading\n\n- *one*", "color": "#ff0000", "isPinned": True},
    )
    assert ok(h, "notes.create", result) == {
        "note": {
            "id": NEW_ID,
            "title": "Ideas",
            "content": "# Heading\n\n- *one*",
            "color": "#ff0000",
            "isPinned": True,
            "isArchived": False,
            "createdAt": NOW,
            "updatedAt": NOW,
        }
    }
    [change] = h.pushed("notes")
    data = change["data"]
    assert h.decrypt_as(ALICE, data["title"]) == "Ideas"
    assert h.decrypt_as(ALICE, data["content"]) == "# Heading\n\n- *one*"
    assert change == {
        "table": "notes",
        "id": NEW_ID,
        "op": "insert",
        "spaceId": ALICE_PERSONAL,
        "data": {
            "id": NEW_ID,
            "title": data["title"],
            "content": data["content"],
            "color": "#ff0000",
            "isPinned": True,
            "isArchived": False,
            "spaceId": ALICE_PERSONAL,
            "authorId": ALICE,
            "visibility": "space",
            "createdAt": NOW,
        },
        "actor": GATEWAY_ACTOR,
        "origin": "agent",
    }
    assert h.server.pulls == []  # no read at all


async def test_create_note_defaults_encrypt_the_empty_content(h: Harness) -> None:
    note = ok(h, "notes.create", await h.call("notes.create", {"title": "Empty"}))["note"]
    assert (note["content"], note["color"], note["isPinned"]) == ("", None, False)
    data = h.pushed("notes")[0]["data"]
    assert data["content"].startswith("enc:1:")
    assert h.decrypt_as(ALICE, data["content"]) == ""
    assert data["color"] is None


# --- notes.search --------------------------------------------------------------------------------


async def test_empty_query_returns_the_most_recently_changed_notes_first(h: Harness) -> None:
    old = plant_note(h, 1, at="2026-04-01T10:00:00.000Z")
    never = plant_note(h, 2)  # no known field time: last
    new = plant_note(h, 3, at="2026-04-30T10:00:00.000Z")
    mid_b = plant_note(h, 5, at="2026-04-15T10:00:00.000Z")
    mid_a = plant_note(h, 4, at="2026-04-15T10:00:00.000Z")
    plant_note(h, 6, at="2026-05-01T00:00:00.000Z", isArchived=True)
    found = ok(h, "notes.search", await h.call("notes.search"))
    assert [n["id"] for n in found["notes"]] == [new, mid_a, mid_b, old, never]
    assert found["notes"][0]["updatedAt"] == "2026-04-30T10:00:00.000Z"
    assert found["notes"][-1]["updatedAt"] is None
    limited = ok(h, "notes.search", await h.call("notes.search", {"query": "  ", "limit": 2}))
    assert [n["id"] for n in limited["notes"]] == [new, mid_a]


async def test_query_matches_title_or_content_case_insensitively(h: Harness) -> None:
    title_hit = plant_note(h, 1, at="2026-04-01T00:00:00.000Z", title="Groceries LIST")
    content_hit = plant_note(h, 2, at="2026-04-02T00:00:00.000Z", title="Misc", content="the list of things")
    plant_note(h, 3, at="2026-04-03T00:00:00.000Z", title="Other", content="nothing here")
    archived = plant_note(h, 4, at="2026-04-04T00:00:00.000Z", title="Archived list", isArchived=True)
    unreadable = plant_note(h, 5, at="2026-04-05T00:00:00.000Z", title="enc:1:broken", content="enc:2:x.y")
    found = ok(h, "notes.search", await h.call("notes.search", {"query": "  List "}))
    assert [n["id"] for n in found["notes"]] == [content_hit, title_hit]
    assert found["warnings"] == []  # the unreadable note did not match, so it brings no warning
    with_archived = ok(
        h, "notes.search", await h.call("notes.search", {"query": "list", "includeArchived": True})
    )
    assert [n["id"] for n in with_archived["notes"]] == [archived, content_hit, title_hit]
    one = ok(h, "notes.search", await h.call("notes.search", {"query": "list", "limit": 1}))
    assert [n["id"] for n in one["notes"]] == [content_hit]
    everything = ok(h, "notes.search", await h.call("notes.search"))
    assert everything["notes"][0]["id"] == unreadable
    assert [(w["id"], w["field"], w["code"]) for w in everything["warnings"]] == [
        (unreadable, "content", "decrypt_failed"),
        (unreadable, "title", "decrypt_failed"),
    ]


async def test_search_uses_str_lower_not_casefold(h: Harness) -> None:
    plant_note(h, 1, title="Straße")
    assert ok(h, "notes.search", await h.call("notes.search", {"query": "STRASSE"}))["notes"] == []
    assert len(ok(h, "notes.search", await h.call("notes.search", {"query": "STRAßE"}))["notes"]) == 1


async def test_search_reads_the_agents_notes_and_later_web_edits(h: Harness) -> None:
    created = ok(h, "notes.create", await h.call("notes.create", {"title": "Plan", "content": "draft"}))[
        "note"
    ]
    h.plant(
        ALICE,
        "notes",
        web_update(
            "notes",
            created["id"],
            {"content": h.encrypt_as(ALICE, "final words")},
            at="2026-05-01T09:30:00.000Z",
            space=ALICE_PERSONAL,
            author=ALICE,
        ),
    )
    [note] = ok(h, "notes.search", await h.call("notes.search", {"query": "final"}))["notes"]
    assert note == {
        "id": created["id"],
        "title": "Plan",
        "content": "final words",
        "color": None,
        "isPinned": False,
        "isArchived": False,
        "createdAt": NOW,
        "updatedAt": "2026-05-01T09:30:00.000Z",
    }


async def test_search_keeps_odd_colours_and_warns_on_wrong_types(h: Harness) -> None:
    record_id = plant_note(h, 1, color="teal", isPinned="yes", title=["not", "text"])
    found = ok(h, "notes.search", await h.call("notes.search"))
    [note] = found["notes"]
    assert (note["color"], note["isPinned"], note["title"]) == ("teal", False, None)
    assert [(w["field"], w["code"]) for w in found["warnings"]] == [
        ("isPinned", "invalid_value"),
        ("title", "invalid_value"),
    ]
    assert found["warnings"][0]["id"] == record_id


async def test_search_with_empty_query_decrypts_only_what_it_returns(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(1, 31):
        plant_note(h, n, at=f"2026-04-{n:02d}T00:00:00.000Z")
    decrypted: list[Any] = []
    real = h.ciphers.cipher

    class Counting:
        def __init__(self, inner: FieldCipher) -> None:
            self._inner = inner

        def encrypt(self, value: Any) -> Any:
            return self._inner.encrypt(value)

        def decrypt(self, value: Any) -> Any:
            decrypted.append(value)
            return self._inner.decrypt(value)

    def counting(key: MasterKey) -> Counting:
        return Counting(real(key))

    monkeypatch.setattr(h.ciphers, "cipher", counting)
    found = ok(h, "notes.search", await h.call("notes.search", {"limit": 4}))
    assert [n["title"] for n in found["notes"]] == ["Note 30", "Note 29", "Note 28", "Note 27"]
    assert len(decrypted) == 8


async def test_search_is_scoped_to_the_active_space(h: Harness) -> None:
    plant_note(h, 1, space=WORK, title="work list")
    family = plant_note(h, 2, space=FAMILY, title="family list")
    found = ok(h, "notes.search", await h.call("notes.search", {"query": "list"}, space=FAMILY))
    assert [n["id"] for n in found["notes"]] == [family]


@pytest.mark.parametrize("tool", ["notes.create", "notes.search"])
async def test_notes_need_the_key_first(h: Harness, tool: str) -> None:
    h.vault.set_zero_knowledge(ALICE)
    result = await h.call(tool, {"title": "x"} if tool == "notes.create" else {})
    writes = " Nothing was written." if tool == "notes.create" else ""
    failed(
        result,
        "zero_knowledge",
        "This account uses zero-knowledge encryption, so the gateway cannot read or write its encrypted "
        f"fields; use the Mana app for them.{writes}",
    )
    assert h.server.pulls == []
    assert h.server.pushes == []


# --- journal.add ---------------------------------------------------------------------------------


async def test_journal_add_pushes_the_web_apps_keys(h: Harness) -> None:
    content = "Heute  war\tein guter Tag\n"
    result = await h.call(
        "journal.add",
        {
            "title": "Sonntag",
            "content": content,
            "entryDate": "2026-04-23",
            "mood": "glücklich",
            "tags": ["walk", "family"],
        },
        space=FAMILY,
    )
    entry = ok(h, "journal.add", result)["entry"]
    assert entry == {
        "id": NEW_ID,
        "title": "Sonntag",
        "content": content,
        "entryDate": "2026-04-23",
        "mood": "glücklich",
        "tags": ["walk", "family"],
        "wordCount": 5,
        "isPinned": False,
        "isFavorite": False,
        "isArchived": False,
        "createdAt": NOW,
        "updatedAt": NOW,
    }
    assert "glücklich" in result.text  # UTF-8, no ASCII escaping
    [change] = h.pushed("journal")
    data = change["data"]
    assert h.decrypt_as(ALICE, data["title"]) == "Sonntag"
    assert h.decrypt_as(ALICE, data["content"]) == content
    assert change == {
        "table": "journalEntries",
        "id": NEW_ID,
        "op": "insert",
        "spaceId": FAMILY,
        "data": {
            "id": NEW_ID,
            "title": data["title"],
            "content": data["content"],
            "entryDate": "2026-04-23",
            "mood": "glücklich",
            "tags": ["walk", "family"],
            "wordCount": 5,
            "isPinned": False,
            "isFavorite": False,
            "isArchived": False,
            "spaceId": FAMILY,
            "authorId": ALICE,
            "visibility": "space",
            "createdAt": NOW,
        },
        "actor": GATEWAY_ACTOR,
        "origin": "agent",
    }
    assert h.server.pulls == []


async def test_journal_defaults_today_in_utc_and_a_null_title_stays_unencrypted(h: Harness) -> None:
    h.clock.set(datetime(2026, 5, 1, 23, 59, 59, 999_999, tzinfo=UTC))
    entry = ok(h, "journal.add", await h.call("journal.add", {"content": "late\u00a0night\ufeffthoughts"}))[
        "entry"
    ]
    assert (entry["entryDate"], entry["title"], entry["mood"], entry["tags"]) == (
        "2026-05-01",
        None,
        None,
        [],
    )
    assert entry["wordCount"] == 3  # U+00A0 and U+FEFF split like JavaScript's \s
    assert entry["createdAt"] == "2026-05-01T23:59:59.999Z"
    data = h.pushed("journal")[0]["data"]
    assert data["title"] is None
    assert (data["mood"], data["tags"], data["entryDate"]) == (None, [], "2026-05-01")


async def test_journal_needs_the_key(h: Harness) -> None:
    h.vault.set_not_initialised(ALICE)
    failed(
        await h.call("journal.add", {"content": "x"}),
        "vault_not_initialised",
        "The encryption vault of this account is not set up yet; open the Mana app once to set it up, "
        "then try again. Nothing was written.",
    )
    assert h.server.pushes == []


# --- spaces.list ---------------------------------------------------------------------------------


async def test_spaces_are_listed_personal_first_then_by_name(h: Harness) -> None:
    h.directory.set(
        ALICE,
        [
            Space("sp_z", "zoo", None, "club", "member"),
            Space(WORK, "Acme", "acme", "team", None),
            Space("sp_b", "acme", "acme-2", None, "admin"),
            Space(ALICE_PERSONAL, "Personal", None, "personal", "owner"),
        ],
    )
    h.vault.set_zero_knowledge(ALICE)  # plaintext only: works without a key
    listed = ok(h, "spaces.list", await h.call("spaces.list", space=WORK))
    assert listed == {
        "spaces": [
            {"id": ALICE_PERSONAL, "name": "Personal", "slug": None, "type": "personal", "role": "owner"},
            {
                "id": "sp_b",
                "name": "acme",
                "slug": "acme-2",
                "type": None,
                "role": "admin",
            },  # a name tie: by id
            {"id": WORK, "name": "Acme", "slug": "acme", "type": "team", "role": None},
            {"id": "sp_z", "name": "zoo", "slug": None, "type": "club", "role": "member"},
        ],
        "activeSpaceId": WORK,
    }
    assert h.vault.calls == 0
    assert h.server.pulls == []


async def test_spaces_of_another_user(h: Harness) -> None:
    listed = ok(h, "spaces.list", await h.call("spaces.list", user=BOB, space=FAMILY))
    assert [s["id"] for s in listed["spaces"]] == ["sp_bob", FAMILY]
    assert listed["activeSpaceId"] == FAMILY


async def test_spaces_unavailable(h: Harness) -> None:
    h.directory.set_failing("timeout")
    failed(
        await h.call("spaces.list"),
        "spaces_unavailable",
        "Could not list spaces from mana-auth (timeout); try again later.",
    )
