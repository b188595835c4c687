"""habits.create, habits.list, habits.update, habits.archive (tools.md §2.1-§2.4)."""

from __future__ import annotations

import pytest

from mana.entrypoints.harness import ALICE, ALICE_PERSONAL, BOB, FAMILY, WORK, Harness, build_harness

from .support import (
    GATEWAY_ACTOR,
    NOW,
    failed,
    ok,
    rid,
    web_insert,
    web_soft_delete,
    web_update,
)

NEW_ID = "00000000-0000-4000-8000-000000000001"


def plant_habit(
    h: Harness, n: int, *, space: str = ALICE_PERSONAL, author: str = ALICE, **data: object
) -> str:
    record_id = rid(n)
    values = {
        "title": f"Habit {n}",
        "icon": "star",
        "color": "#6366f1",
        "targetPerDay": None,
        "defaultDuration": None,
        "order": n,
        "isArchived": False,
        **data,
    }
    visibility = str(values.pop("visibility", "space"))
    h.plant(
        author,
        "habits",
        web_insert("habits", record_id, values, space=space, author=author, visibility=visibility),
    )
    return record_id


# --- habits.create -------------------------------------------------------------------------------


async def test_create_pushes_one_insert_shaped_like_the_web_apps(h: Harness) -> None:
    result = await h.call(
        "habits.create",
        {"title": "Coffee", "icon": "coffee", "color": "#112233", "targetPerDay": 3.0, "defaultDuration": 60},
        space=FAMILY,
        client_name="Claude Code",
    )
    assert ok(h, "habits.create", result) == {
        "habit": {
            "id": NEW_ID,
            "title": "Coffee",
            "icon": "coffee",
            "color": "#112233",
            "targetPerDay": 3,
            "defaultDuration": 60,
            "order": 0,
            "isArchived": False,
            "createdAt": NOW,
            "updatedAt": NOW,
        }
    }
    [push] = h.gateway_pushes()
    assert (push.user_id, push.client_id, push.app_id) == (ALICE, "mana-mcp", "habits")
    assert {k: v for k, v in push.body.items() if k != "changes"} == {
        "clientId": "mana-mcp",
        "since": NOW,
        "schemaVersion": 1,
    }
    assert push.body["changes"] == [
        {
            "table": "habits",
            "id": NEW_ID,
            "op": "insert",
            "spaceId": FAMILY,
            "data": {
                "id": NEW_ID,
                "title": "Coffee",
                "icon": "coffee",
                "color": "#112233",
                "targetPerDay": 3,
                "defaultDuration": 60,
                "order": 0,
                "isArchived": False,
                "spaceId": FAMILY,
                "authorId": ALICE,
                "visibility": "space",
                "createdAt": NOW,
            },
            "actor": {"kind": "system", "principalId": "system:mcp", "displayName": "Claude Code via MCP"},
            "origin": "agent",
        }
    ]
    # 3.0 is an integer and is stored as the integer 3 (tools.md §1.4).
    assert type(push.body["changes"][0]["data"]["targetPerDay"]) is int


async def test_create_applies_the_schema_defaults_and_reads_before_writing(h: Harness) -> None:
    result = await h.call("habits.create", {"title": "Walk"})
    habit = ok(h, "habits.create", result)["habit"]
    assert (habit["icon"], habit["color"], habit["targetPerDay"], habit["defaultDuration"]) == (
        "star",
        "#6366f1",
        None,
        None,
    )
    [pull] = h.server.pulls
    assert (pull.client_id, pull.app_id, pull.collection, pull.since) == (
        "mana-mcp-reader",
        "habits",
        "habits",
        "1970-01-01T00:00:00.000Z",
    )
    [change] = h.pushed("habits")
    assert change["spaceId"] == change["data"]["spaceId"] == ALICE_PERSONAL
    assert "updatedAt" not in change["data"]
    assert "fields" not in change


async def test_order_counts_the_live_habits_of_the_active_space(h: Harness) -> None:
    plant_habit(h, 1, space=FAMILY)
    plant_habit(h, 2, space=FAMILY, isArchived=True)  # archived habits count
    plant_habit(h, 3, space=f"_personal:{ALICE}")  # the web app's bootstrap sentinel counts
    deleted = plant_habit(h, 4, space=FAMILY)
    h.plant(
        ALICE,
        "habits",
        web_soft_delete("habits", deleted, at="2026-04-30T10:00:00.000Z", space=FAMILY, author=ALICE),
    )
    plant_habit(h, 5, space=WORK)  # another space
    plant_habit(h, 6, space=FAMILY, author=BOB, visibility="private")  # Bob's private habit
    plant_habit(h, 7, space=FAMILY, author=BOB)  # Bob's shared habit counts
    result = await h.call("habits.create", {"title": "Read"}, space=FAMILY)
    assert ok(h, "habits.create", result)["habit"]["order"] == 4
    assert h.pushed("habits")[0]["data"]["order"] == 4


async def test_create_never_fetches_a_key_and_works_for_zero_knowledge_accounts(h: Harness) -> None:
    h.vault.set_zero_knowledge(ALICE)
    ok(h, "habits.create", await h.call("habits.create", {"title": "Walk"}))
    ok(h, "habits.list", await h.call("habits.list"))
    assert h.vault.calls == 0


# --- habits.list ---------------------------------------------------------------------------------


async def test_list_sorts_by_order_then_id_and_leaves_archived_out(h: Harness) -> None:
    b = plant_habit(h, 20, order=1)
    a = plant_habit(h, 10, order=1)
    c = plant_habit(h, 30, order=0)
    archived = plant_habit(h, 40, order=-1, isArchived=True)
    listed = ok(h, "habits.list", await h.call("habits.list"))
    assert [x["id"] for x in listed["habits"]] == [c, a, b]
    assert listed["warnings"] == []
    everything = ok(h, "habits.list", await h.call("habits.list", {"includeArchived": True}))
    assert [x["id"] for x in everything["habits"]] == [archived, c, a, b]


async def test_list_returns_web_records_without_created_at_and_derives_updated_at(h: Harness) -> None:
    record_id = plant_habit(h, 1, title="Walk")
    h.plant(
        ALICE,
        "habits",
        web_update(
            "habits",
            record_id,
            {"title": "Evening walk"},
            at="2026-05-01T08:00:00.000Z",
            space=ALICE_PERSONAL,
            author=ALICE,
        ),
    )
    [habit] = ok(h, "habits.list", await h.call("habits.list"))["habits"]
    assert habit == {
        "id": record_id,
        "title": "Evening walk",
        "icon": "star",
        "color": "#6366f1",
        "targetPerDay": None,
        "defaultDuration": None,
        "order": 1,
        "isArchived": False,
        "createdAt": None,
        "updatedAt": "2026-05-01T08:00:00.000Z",
    }


async def test_list_replaces_wrong_typed_values_by_defaults_with_warnings(h: Harness) -> None:
    record_id = plant_habit(
        h, 1, title=7, icon=None, order="first", isArchived="no", targetPerDay=-2, defaultDuration="60"
    )
    listed = ok(h, "habits.list", await h.call("habits.list"))
    [habit] = listed["habits"]
    assert habit["title"] == ""
    assert habit["icon"] == "star"
    assert habit["order"] == 0
    assert habit["isArchived"] is False
    assert habit["targetPerDay"] is None  # a non-positive count means none, silently
    assert habit["defaultDuration"] is None
    assert [(w["id"], w["field"], w["code"]) for w in listed["warnings"]] == [
        (record_id, "defaultDuration", "invalid_value"),
        (record_id, "icon", "invalid_value"),
        (record_id, "isArchived", "invalid_value"),
        (record_id, "order", "invalid_value"),
        (record_id, "title", "invalid_value"),
    ]
    assert listed["warnings"][0]["message"] == (
        "The stored value has an unexpected type and was replaced by a default."
    )


async def test_list_shows_only_the_active_space_and_the_personal_sentinel(h: Harness) -> None:
    family = plant_habit(h, 1, space=FAMILY)
    sentinel = plant_habit(h, 2, space=f"_personal:{ALICE}")
    plant_habit(h, 3, space=WORK)
    bobs = plant_habit(h, 4, space=FAMILY, author=BOB)
    bobs_private = plant_habit(h, 5, space=FAMILY, author=BOB, visibility="private")
    own_private = plant_habit(h, 6, space=FAMILY, visibility="private")
    listed = ok(h, "habits.list", await h.call("habits.list", space=FAMILY))
    assert [x["id"] for x in listed["habits"]] == [family, sentinel, bobs, own_private]
    # Bob sees the shared ones and his own private one, but neither Alice's private one nor her
    # sentinel records (only their author's rows can carry ``_personal:<sub>``).
    for_bob = ok(h, "habits.list", await h.call("habits.list", user=BOB, space=FAMILY))
    assert [x["id"] for x in for_bob["habits"]] == [family, bobs, bobs_private]


async def test_the_worked_example_of_mana_sync_10_5(h: Harness) -> None:
    """Every row of the worked example, planted by the web app and read back by habits.list.

    Row 6 is written with ``at`` here: one server speaks one wire format (the older ``updatedAt``
    key is covered by the legacy-format test below)."""
    h1, h2, h3, h4, h5, h6, h7 = (rid(n) for n in range(1, 8))
    base = {"icon": "star", "color": "#6366f1", "targetPerDay": None, "defaultDuration": None}

    def insert(
        record_id: str, author: str = ALICE, space: str = FAMILY, visibility: str = "space", **data: object
    ) -> None:
        h.plant(
            author,
            "habits",
            web_insert(
                "habits", record_id, {**base, **data}, space=space, author=author, visibility=visibility
            ),
        )

    def update(record_id: str, field: str, value: object, at: str) -> None:
        h.plant(
            ALICE,
            "habits",
            web_update("habits", record_id, {field: value}, at=at, space=FAMILY, author=ALICE),
        )

    insert(h1, title="Walk", order=0, isArchived=False)
    insert(h2, title="Water", order=1, isArchived=False, createdAt="2026-05-01T08:00:00.000Z")
    update(h1, "title", "Evening walk", "2026-05-01T09:00:00.000Z")
    update(h1, "title", "Morning walk", "2026-05-01T10:30:00+02:00")  # 08:30Z: older, loses
    update(h2, "isArchived", True, "2026-05-01T09:15:00.000Z")
    update(h2, "isArchived", False, "2026-05-01T09:15:00.000Z")  # a tie: the later change wins
    insert(h3, author=BOB, visibility="private", title="Surprise party")
    insert(h4, title="Old habit", order=3, createdAt="2026-04-01T07:00:00.000Z")
    h.plant(
        ALICE,
        "habits",
        web_soft_delete("habits", h4, at="2026-05-01T07:00:00.000Z", space=FAMILY, author=ALICE),
    )
    update(h5, "title", "Ghost", "2026-05-01T09:20:00.000Z")  # no insert: never a record
    insert(
        h6,
        space=f"_personal:{ALICE}",
        title="Stretch",
        order=2,
        isArchived=False,
        createdAt="2026-05-01T06:00:00.000Z",
    )
    insert(h7, space=WORK, title="Standup", order=0, createdAt="2026-05-01T06:30:00.000Z")

    listed = ok(h, "habits.list", await h.call("habits.list", {"includeArchived": True}, space=FAMILY))
    assert [
        (x["id"], x["title"], x["order"], x["isArchived"], x["createdAt"], x["updatedAt"])
        for x in listed["habits"]
    ] == [
        (h1, "Evening walk", 0, False, None, "2026-05-01T09:00:00.000Z"),
        (h2, "Water", 1, False, "2026-05-01T08:00:00.000Z", "2026-05-01T09:15:00.000Z"),
        (h6, "Stretch", 2, False, "2026-05-01T06:00:00.000Z", "2026-05-01T06:00:00.000Z"),
    ]
    created = ok(h, "habits.create", await h.call("habits.create", {"title": "New"}, space=FAMILY))
    assert created["habit"]["order"] == 3
    for missing in (h5, h4, h3, h7):
        failed(
            await h.call("habits.update", {"id": missing, "title": "x"}, space=FAMILY),
            "not_found",
            f"Habit {missing} was not found in the active space.",
        )
    assert len(h.pushed("habits")) == 1


# --- habits.update -------------------------------------------------------------------------------


async def test_update_writes_exactly_the_fields_passed_with_both_time_keys(h: Harness) -> None:
    record_id = plant_habit(h, 1, targetPerDay=2)
    result = await h.call("habits.update", {"id": record_id, "title": "Tea", "targetPerDay": None})
    assert ok(h, "habits.update", result) == {"ok": True}
    assert h.pushed("habits") == [
        {
            "table": "habits",
            "id": record_id,
            "op": "update",
            "spaceId": ALICE_PERSONAL,
            "fields": {
                "title": {"value": "Tea", "at": NOW, "updatedAt": NOW},
                "targetPerDay": {"value": None, "at": NOW, "updatedAt": NOW},
            },
            "actor": GATEWAY_ACTOR,
            "origin": "agent",
        }
    ]
    [habit] = ok(h, "habits.list", await h.call("habits.list"))["habits"]
    assert (habit["title"], habit["targetPerDay"], habit["updatedAt"]) == ("Tea", None, NOW)


@pytest.mark.parametrize(
    ("args", "fields"),
    [
        ({"icon": "leaf"}, {"icon": "leaf"}),
        ({"color": "#ABCDEF"}, {"color": "#ABCDEF"}),
        ({"defaultDuration": 900}, {"defaultDuration": 900}),
        ({"targetPerDay": 4, "defaultDuration": None}, {"targetPerDay": 4, "defaultDuration": None}),
    ],
)
async def test_update_field_by_field(h: Harness, args: dict[str, object], fields: dict[str, object]) -> None:
    record_id = plant_habit(h, 1)
    ok(h, "habits.update", await h.call("habits.update", {"id": record_id, **args}))
    [change] = h.pushed("habits")
    assert change["fields"] == {name: {"value": v, "at": NOW, "updatedAt": NOW} for name, v in fields.items()}


async def test_update_with_only_an_id_is_nothing_to_update_without_any_upstream_call(h: Harness) -> None:
    result = await h.call("habits.update", {"id": rid(1)})
    failed(
        result,
        "nothing_to_update",
        "Nothing to update: pass at least one of title, icon, color, targetPerDay, defaultDuration.",
    )
    assert h.server.pulls == []
    assert h.server.pushes == []


async def test_update_lowercases_the_id(h: Harness) -> None:
    record_id = plant_habit(h, 0xABC)
    ok(h, "habits.update", await h.call("habits.update", {"id": record_id.upper(), "icon": "x"}))
    assert h.pushed("habits")[0]["id"] == record_id
    missing = "BBBBBBBB-0000-4000-8000-00000000000F"
    failed(
        await h.call("habits.update", {"id": missing, "icon": "x"}),
        "not_found",
        f"Habit {missing.lower()} was not found in the active space.",
    )


async def test_update_of_a_record_elsewhere_is_not_found_and_writes_nothing(h: Harness) -> None:
    in_work = plant_habit(h, 1, space=WORK)
    bobs_private = plant_habit(h, 2, space=FAMILY, author=BOB, visibility="private")
    deleted = plant_habit(h, 3, space=FAMILY)
    h.plant(
        ALICE,
        "habits",
        web_soft_delete("habits", deleted, at="2026-05-01T08:00:00.000Z", space=FAMILY, author=ALICE),
    )
    before = len(h.store)
    for record_id in (in_work, bobs_private, deleted):
        failed(
            await h.call("habits.update", {"id": record_id, "title": "x"}, space=FAMILY),
            "not_found",
            f"Habit {record_id} was not found in the active space.",
        )
        failed(
            await h.call("habits.archive", {"id": record_id}, space=FAMILY),
            "not_found",
            f"Habit {record_id} was not found in the active space.",
        )
    assert len(h.store) == before
    assert h.pushed() == []


async def test_update_of_a_sentinel_record_keeps_its_own_space(h: Harness) -> None:
    record_id = plant_habit(h, 1, space=f"_personal:{ALICE}")
    ok(h, "habits.update", await h.call("habits.update", {"id": record_id, "title": "Stretch"}, space=FAMILY))
    [change] = h.pushed("habits")
    assert change["spaceId"] == f"_personal:{ALICE}"
    assert "spaceId" not in change["fields"]


async def test_a_later_web_edit_wins_over_the_agents_and_an_older_one_loses(h: Harness) -> None:
    record_id = plant_habit(h, 1, title="Walk")
    ok(h, "habits.update", await h.call("habits.update", {"id": record_id, "title": "Agent title"}))
    h.plant(
        ALICE,
        "habits",
        web_update(
            "habits",
            record_id,
            {"title": "Stale"},
            at="2026-05-01T08:59:59.999Z",
            space=ALICE_PERSONAL,
            author=ALICE,
        ),
    )
    [habit] = ok(h, "habits.list", await h.call("habits.list"))["habits"]
    assert habit["title"] == "Agent title"
    h.plant(
        ALICE,
        "habits",
        web_update(
            "habits",
            record_id,
            {"title": "Web title"},
            at="2026-05-01T09:00:00.001Z",
            space=ALICE_PERSONAL,
            author=ALICE,
        ),
    )
    [habit] = ok(h, "habits.list", await h.call("habits.list"))["habits"]
    assert (habit["title"], habit["updatedAt"]) == ("Web title", "2026-05-01T09:00:00.001Z")


async def test_a_bob_can_update_a_shared_habit_alice_created_over_mcp(h: Harness) -> None:
    created = ok(h, "habits.create", await h.call("habits.create", {"title": "Walk"}, space=FAMILY))
    record_id = created["habit"]["id"]
    h.clock.advance(5)
    ok(
        h,
        "habits.update",
        await h.call("habits.update", {"id": record_id, "title": "Run"}, user=BOB, space=FAMILY),
    )
    [habit] = ok(h, "habits.list", await h.call("habits.list", space=FAMILY))["habits"]
    assert (habit["title"], habit["createdAt"], habit["updatedAt"]) == (
        "Run",
        NOW,
        "2026-05-01T09:00:05.000Z",
    )


# --- habits.archive ------------------------------------------------------------------------------


async def test_archive_and_unarchive(h: Harness) -> None:
    record_id = plant_habit(h, 1)
    ok(h, "habits.archive", await h.call("habits.archive", {"id": record_id}))
    assert ok(h, "habits.list", await h.call("habits.list"))["habits"] == []
    h.clock.advance(1)
    ok(h, "habits.archive", await h.call("habits.archive", {"id": record_id, "archived": False}))
    assert [x["id"] for x in ok(h, "habits.list", await h.call("habits.list"))["habits"]] == [record_id]
    first, second = h.pushed("habits")
    assert first == {
        "table": "habits",
        "id": record_id,
        "op": "update",
        "spaceId": ALICE_PERSONAL,
        "fields": {"isArchived": {"value": True, "at": NOW, "updatedAt": NOW}},
        "actor": GATEWAY_ACTOR,
        "origin": "agent",
    }
    t = "2026-05-01T09:00:01.000Z"
    assert second["fields"] == {"isArchived": {"value": False, "at": t, "updatedAt": t}}


async def test_archive_writes_even_when_already_archived(h: Harness) -> None:
    record_id = plant_habit(h, 1, isArchived=True)
    ok(h, "habits.archive", await h.call("habits.archive", {"id": record_id}))
    ok(h, "habits.archive", await h.call("habits.archive", {"id": record_id}))
    assert len(h.pushed("habits")) == 2


async def test_an_older_server_reads_and_emits_updated_at_only() -> None:
    """Against the older wire format the agent's updates still land (D1: both keys are written) and
    web updates timed only by ``updatedAt`` replay by that time."""
    h = build_harness(wire_format="legacy")
    record_id = plant_habit(h, 1, title="Walk")
    h.plant(
        ALICE,
        "habits",
        web_update(
            "habits",
            record_id,
            {"icon": "leaf"},
            at="2026-05-01T10:00:00.000Z",
            space=ALICE_PERSONAL,
            author=ALICE,
            time_key="updatedAt",
        ),
    )
    h.plant(
        ALICE,
        "habits",
        web_update(
            "habits",
            record_id,
            {"title": "Old"},
            at="2026-05-01T08:00:00.000Z",
            space=ALICE_PERSONAL,
            author=ALICE,
            time_key="updatedAt",
        ),
    )
    ok(h, "habits.update", await h.call("habits.update", {"id": record_id, "title": "Run", "icon": "shoe"}))
    [habit] = ok(h, "habits.list", await h.call("habits.list"))["habits"]
    # title: the agent's 09:00 beats the web's 08:00; icon: the web's 10:00 beats the agent's 09:00.
    assert (habit["title"], habit["icon"], habit["updatedAt"]) == ("Run", "leaf", "2026-05-01T10:00:00.000Z")
    agents_update = h.changes("habits")[-1]
    assert agents_update["fields"]["title"] == {"value": "Run", "updatedAt": NOW}
