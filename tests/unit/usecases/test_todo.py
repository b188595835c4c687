"""todo.create, todo.list, todo.complete (tools.md §2.6-§2.8)."""

from __future__ import annotations

from typing import Any

import pytest

from mana.application.ports import FieldCipher, MasterKey
from mana.entrypoints.harness import ALICE, ALICE_PERSONAL, BOB, FAMILY, WORK, Harness

from .support import GATEWAY_ACTOR, NOW, failed, ok, rid, web_insert, web_update

NEW_ID = "00000000-0000-4000-8000-000000000001"


def plant_task(
    h: Harness,
    n: int,
    *,
    space: str = ALICE_PERSONAL,
    author: str = ALICE,
    encrypt_with: str | None = None,
    **data: Any,
) -> str:
    """A task as the web app's form writes it: registered fields encrypted with the author's key."""
    record_id = rid(n)
    values: dict[str, Any] = {
        "title": f"Task {n}",
        "priority": "medium",
        "isCompleted": False,
        "dueDate": None,
        "order": n,
        **data,
    }
    owner = encrypt_with or author
    for name in ("title", "description", "subtasks", "metadata"):
        if name in values and not _raw(values[name]):
            values[name] = h.encrypt_as(owner, values[name])
    for name, value in list(values.items()):
        if isinstance(value, Raw):
            values[name] = value.value
    h.plant(author, "todo", web_insert("tasks", record_id, values, space=space, author=author))
    return record_id


class Raw:
    """A value planted exactly as given (not encrypted), e.g. a broken blob."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _raw(value: Any) -> bool:
    return isinstance(value, Raw)


# --- todo.create ---------------------------------------------------------------------------------


async def test_create_pushes_an_insert_like_the_web_apps_task_form(h: Harness) -> None:
    result = await h.call(
        "todo.create",
        {"title": "Buy milk", "description": "2 litres", "priority": "high", "dueDate": "2026-05-03"},
        space=FAMILY,
    )
    assert ok(h, "todo.create", result) == {
        "task": {
            "id": NEW_ID,
            "title": "Buy milk",
            "description": "2 litres",
            "priority": "high",
            "isCompleted": False,
            "completedAt": None,
            "dueDate": "2026-05-03T00:00:00.000Z",
            "order": 0,
            "subtasks": None,
            "metadata": None,
            "createdAt": NOW,
            "updatedAt": NOW,
        }
    }
    [change] = h.pushed("todo")
    data = change["data"]
    assert data["title"].startswith("enc:1:")
    assert data["description"].startswith("enc:1:")
    assert h.decrypt_as(ALICE, data["title"]) == "Buy milk"
    assert h.decrypt_as(ALICE, data["description"]) == "2 litres"
    assert change == {
        "table": "tasks",
        "id": NEW_ID,
        "op": "insert",
        "spaceId": FAMILY,
        "data": {
            "id": NEW_ID,
            "title": data["title"],
            "description": data["description"],
            "priority": "high",
            "isCompleted": False,
            "dueDate": "2026-05-03T00:00:00.000Z",
            "scheduledBlockId": None,
            "estimatedDuration": None,
            "order": 0,
            "spaceId": FAMILY,
            "authorId": ALICE,
            "visibility": "space",
            "createdAt": NOW,
        },
        "actor": GATEWAY_ACTOR,
        "origin": "agent",
    }


async def test_create_without_optional_arguments_writes_no_description_key(h: Harness) -> None:
    task = ok(h, "todo.create", await h.call("todo.create", {"title": "Call mum"}))["task"]
    assert (task["description"], task["priority"], task["dueDate"]) == (None, "medium", None)
    [change] = h.pushed("todo")
    assert set(change["data"]) == {
        "id",
        "title",
        "priority",
        "isCompleted",
        "dueDate",
        "scheduledBlockId",
        "estimatedDuration",
        "order",
        "spaceId",
        "authorId",
        "visibility",
        "createdAt",
    }
    assert change["data"]["dueDate"] is None


async def test_an_empty_description_is_given_and_encrypted(h: Harness) -> None:
    task = ok(h, "todo.create", await h.call("todo.create", {"title": "x", "description": ""}))["task"]
    assert task["description"] == ""
    assert h.decrypt_as(ALICE, h.pushed("todo")[0]["data"]["description"]) == ""


@pytest.mark.parametrize(
    ("due", "stored"),
    [
        ("2026-05-01", "2026-05-01T00:00:00.000Z"),
        ("2026-05-01T10:30:00+02:00", "2026-05-01T08:30:00.000Z"),
        ("2026-05-01T23:30-01:30", "2026-05-02T01:00:00.000Z"),
        ("2026-05-01T08:00:00.123456789Z", "2026-05-01T08:00:00.123Z"),
    ],
)
async def test_due_dates_are_stored_in_utc_milliseconds(h: Harness, due: str, stored: str) -> None:
    task = ok(h, "todo.create", await h.call("todo.create", {"title": "x", "dueDate": due}))["task"]
    assert task["dueDate"] == stored
    assert h.pushed("todo")[0]["data"]["dueDate"] == stored


async def test_text_that_looks_encrypted_is_still_encrypted(h: Harness) -> None:
    text = "enc:1:AAECAwQFBgcICQoL.ZUCjYuWIq3fmY7kAFBOko15oHcmYxWgkYqw="
    ok(h, "todo.create", await h.call("todo.create", {"title": text}))
    stored = h.pushed("todo")[0]["data"]["title"]
    assert stored != text
    assert h.decrypt_as(ALICE, stored) == text
    [task] = ok(h, "todo.list", await h.call("todo.list"))["tasks"]
    assert task["title"] == text


async def test_order_counts_live_tasks_of_the_active_space_completed_included(h: Harness) -> None:
    plant_task(h, 1, space=FAMILY)
    plant_task(h, 2, space=FAMILY, isCompleted=True)
    plant_task(h, 3, space=WORK)
    plant_task(h, 4, space=FAMILY, author=BOB)
    task = ok(h, "todo.create", await h.call("todo.create", {"title": "x"}, space=FAMILY))["task"]
    assert task["order"] == 3


async def test_the_key_is_fetched_before_anything_is_read(h: Harness) -> None:
    ok(h, "todo.create", await h.call("todo.create", {"title": "x"}))
    assert h.vault.calls_by_user[ALICE] == 1
    assert len(h.server.pulls) == 1


@pytest.mark.parametrize("tool", ["todo.create", "todo.list"])
@pytest.mark.parametrize(
    ("setup", "code", "message"),
    [
        (
            "zero_knowledge",
            "zero_knowledge",
            "This account uses zero-knowledge encryption, so the gateway cannot read or write its encrypted "
            "fields; use the Mana app for them.",
        ),
        (
            "not_initialised",
            "vault_not_initialised",
            "The encryption vault of this account is not set up yet; open the Mana app once to set it up, "
            "then try again.",
        ),
        (
            "failing",
            "key_unavailable",
            "Could not get the encryption key from mana-auth (HTTP 500); try again later.",
        ),
    ],
)
async def test_key_problems_fail_before_any_read_or_write(
    h: Harness, tool: str, setup: str, code: str, message: str
) -> None:
    getattr(h.vault, f"set_{setup}")(ALICE)
    args = {"title": "x"} if tool == "todo.create" else {}
    writes = " Nothing was written." if tool == "todo.create" else ""
    failed(await h.call(tool, args), code, message + writes)
    assert h.server.pulls == []
    assert h.server.pushes == []


# --- todo.list -----------------------------------------------------------------------------------


async def test_list_decrypts_tasks_the_web_app_wrote(h: Harness) -> None:
    subtasks = [
        {
            "id": "s1",
            "title": "Find shop",
            "isCompleted": True,
            "completedAt": "2026-04-30T12:00:00Z",
            "order": 0,
        },
        {"id": "s2", "title": "Pay"},
    ]
    record_id = plant_task(
        h,
        1,
        title="Buy milk",
        description="2 litres",
        subtasks=subtasks,
        metadata={"labelIds": ["l1"]},
        dueDate="2026-05-03",
        priority="urgent",
    )
    listed = ok(h, "todo.list", await h.call("todo.list"))
    assert listed == {
        "tasks": [
            {
                "id": record_id,
                "title": "Buy milk",
                "description": "2 litres",
                "priority": "urgent",
                "isCompleted": False,
                "completedAt": None,
                "dueDate": "2026-05-03T00:00:00.000Z",
                "order": 1,
                "subtasks": [
                    {
                        "id": "s1",
                        "title": "Find shop",
                        "isCompleted": True,
                        "completedAt": "2026-04-30T12:00:00.000Z",
                        "order": 0,
                    },
                    {"id": "s2", "title": "Pay", "isCompleted": False, "completedAt": None, "order": 1},
                ],
                "metadata": {"labelIds": ["l1"]},
                "createdAt": None,
                "updatedAt": None,
            }
        ],
        "warnings": [],
    }


async def test_list_sorts_open_first_then_order_then_id_and_cuts_at_limit(h: Harness) -> None:
    done_first = plant_task(h, 1, order=0, isCompleted=True)
    b = plant_task(h, 3, order=5)
    a = plant_task(h, 2, order=5)
    c = plant_task(h, 4, order=-1)
    listed = ok(h, "todo.list", await h.call("todo.list"))
    assert [t["id"] for t in listed["tasks"]] == [c, a, b]
    everything = ok(h, "todo.list", await h.call("todo.list", {"includeCompleted": True}))
    assert [t["id"] for t in everything["tasks"]] == [c, a, b, done_first]
    cut = ok(h, "todo.list", await h.call("todo.list", {"includeCompleted": True, "limit": 2}))
    assert [t["id"] for t in cut["tasks"]] == [c, a]


async def test_an_unreadable_field_is_null_with_a_warning_and_the_list_still_succeeds(h: Harness) -> None:
    tampered = h.encrypt_as(ALICE, "Secret")
    tampered = tampered[:-6] + ("A" if tampered[-6] != "A" else "B") + tampered[-5:]
    broken = plant_task(h, 1, space=FAMILY, title=Raw("enc:1:not-base64!.AAAA"), description=Raw(tampered))
    future = plant_task(h, 2, space=FAMILY, title=Raw("enc:2:AAAA.BBBB"))
    other_key = plant_task(h, 3, space=FAMILY, author=BOB)  # Bob's key: Alice cannot read it
    fine = plant_task(h, 4, space=FAMILY, title="Readable")
    guest = plant_task(h, 5, space=FAMILY, title=Raw("plain text from guest mode"))
    listed = ok(h, "todo.list", await h.call("todo.list", space=FAMILY))
    by_id = {t["id"]: t for t in listed["tasks"]}
    assert by_id[broken]["title"] is None
    assert by_id[broken]["description"] is None
    assert by_id[future]["title"] is None
    assert by_id[other_key]["title"] is None
    assert by_id[fine]["title"] == "Readable"
    assert by_id[guest]["title"] == "plain text from guest mode"
    message = "The stored value could not be decrypted and is returned as null."
    assert listed["warnings"] == [
        {"id": broken, "field": "description", "code": "decrypt_failed", "message": message},
        {"id": broken, "field": "title", "code": "decrypt_failed", "message": message},
        {"id": future, "field": "title", "code": "decrypt_failed", "message": message},
        {"id": other_key, "field": "title", "code": "decrypt_failed", "message": message},
    ]
    # Nothing of the stored blobs reaches the result.
    result = await h.call("todo.list", space=FAMILY)
    assert "enc:" not in result.text


async def test_wrong_typed_values_take_defaults_with_invalid_value_warnings(h: Harness) -> None:
    record_id = plant_task(
        h,
        1,
        priority="asap",
        isCompleted="yes",
        order=1.5,
        dueDate="next week",
        completedAt=17,
        subtasks=[{"id": "s1"}],
        metadata=["not", "an", "object"],
    )
    listed = ok(h, "todo.list", await h.call("todo.list"))
    [task] = listed["tasks"]
    assert (task["priority"], task["isCompleted"], task["order"], task["dueDate"], task["completedAt"]) == (
        "medium",
        False,
        0,
        None,
        None,
    )
    assert (task["subtasks"], task["metadata"]) == (None, None)
    assert [(w["id"], w["field"], w["code"]) for w in listed["warnings"]] == [
        (record_id, name, "invalid_value")
        for name in ("completedAt", "dueDate", "isCompleted", "metadata", "order", "priority", "subtasks")
    ]


async def test_warnings_only_for_returned_tasks(h: Harness) -> None:
    first = plant_task(h, 1, order=0, title=Raw("enc:1:broken"))
    plant_task(h, 2, order=1, title=Raw("enc:1:broken"))
    listed = ok(h, "todo.list", await h.call("todo.list", {"limit": 1}))
    assert [t["id"] for t in listed["tasks"]] == [first]
    assert [w["id"] for w in listed["warnings"]] == [first]


async def test_only_the_returned_tasks_are_decrypted(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(1, 21):
        plant_task(h, n, description=f"details {n}")
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
    listed = ok(h, "todo.list", await h.call("todo.list", {"limit": 3}))
    assert [t["title"] for t in listed["tasks"]] == ["Task 1", "Task 2", "Task 3"]
    assert len(decrypted) == 6  # title and description of three tasks


async def test_later_web_updates_win_older_ones_lose_and_deletes_hide(h: Harness) -> None:
    created = ok(h, "todo.create", await h.call("todo.create", {"title": "Agent task"}))["task"]
    task_id = created["id"]
    web = plant_task(h, 1, title="Web task", order=9)

    def update(record_id: str, at: str, **fields: Any) -> None:
        h.plant(
            ALICE, "todo", web_update("tasks", record_id, fields, at=at, space=ALICE_PERSONAL, author=ALICE)
        )

    update(task_id, "2026-05-01T08:00:00.000Z", title=h.encrypt_as(ALICE, "Too old"))
    update(task_id, "2026-05-01T10:00:00.000Z", priority="low")
    update(web, "2026-05-01T07:00:00.000Z", title=h.encrypt_as(ALICE, "Renamed"))
    listed = ok(h, "todo.list", await h.call("todo.list"))
    assert [(t["title"], t["priority"], t["updatedAt"]) for t in listed["tasks"]] == [
        ("Agent task", "low", "2026-05-01T10:00:00.000Z"),
        ("Renamed", "medium", "2026-05-01T07:00:00.000Z"),
    ]
    h.plant(
        ALICE,
        "todo",
        {
            "table": "tasks",
            "id": web,
            "op": "delete",
            "spaceId": ALICE_PERSONAL,
            "deletedAt": "2026-05-01T07:30:00.000Z",
        },
    )
    assert [t["id"] for t in ok(h, "todo.list", await h.call("todo.list"))["tasks"]] == [task_id]


# --- todo.complete -------------------------------------------------------------------------------


async def test_complete_writes_the_two_fields_of_the_web_apps_action(h: Harness) -> None:
    record_id = plant_task(h, 1, space=f"_personal:{ALICE}")
    assert ok(h, "todo.complete", await h.call("todo.complete", {"id": record_id.upper()})) == {"ok": True}
    assert h.pushed("todo") == [
        {
            "table": "tasks",
            "id": record_id,
            "op": "update",
            "spaceId": f"_personal:{ALICE}",
            "fields": {
                "isCompleted": {"value": True, "at": NOW, "updatedAt": NOW},
                "completedAt": {"value": NOW, "at": NOW, "updatedAt": NOW},
            },
            "actor": GATEWAY_ACTOR,
            "origin": "agent",
        }
    ]
    listed = ok(h, "todo.list", await h.call("todo.list", {"includeCompleted": True}))
    [task] = listed["tasks"]
    assert (task["isCompleted"], task["completedAt"]) == (True, NOW)
    assert ok(h, "todo.list", await h.call("todo.list"))["tasks"] == []


async def test_completing_a_completed_task_writes_nothing(h: Harness) -> None:
    record_id = plant_task(h, 1, isCompleted=True, completedAt="2026-04-30T10:00:00.000Z")
    assert ok(h, "todo.complete", await h.call("todo.complete", {"id": record_id})) == {"ok": True}
    assert h.pushed() == []


async def test_complete_needs_no_key(h: Harness) -> None:
    record_id = plant_task(h, 1)
    h.vault.set_zero_knowledge(ALICE)
    ok(h, "todo.complete", await h.call("todo.complete", {"id": record_id}))
    assert h.vault.calls == 0
    assert len(h.pushed("todo")) == 1


async def test_complete_of_an_invisible_task_is_not_found(h: Harness) -> None:
    elsewhere = plant_task(h, 1, space=WORK)
    hard_deleted = plant_task(h, 2, space=FAMILY, author=BOB)
    h.plant(
        BOB, "todo", {"table": "tasks", "id": hard_deleted, "op": "delete", "spaceId": FAMILY}
    )  # hard delete
    for record_id in (elsewhere, hard_deleted, rid(99)):
        failed(
            await h.call("todo.complete", {"id": record_id}, space=FAMILY),
            "not_found",
            f"Task {record_id} was not found in the active space.",
        )
    assert h.pushed() == []
