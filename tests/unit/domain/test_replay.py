"""The replay of mana-sync.md §10: the worked example verbatim, then each rule of §10.2 and §10.3."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mana.domain.changes import Change, change_from_wire
from mana.domain.records import habit_is_archived, habit_sort_key, normalise_habit
from mana.domain.replay import UNKNOWN_TIME, CollectionState, replay
from mana.domain.timestamps import parse_instant

ALICE = "u_alice"
FAMILY = "sp_family"


def wire(rows: list[dict[str, Any]]) -> list[Change]:
    changes = []
    for row in rows:
        change = change_from_wire(row)
        assert isinstance(change, Change), change
        changes.append(change)
    return changes


def insert(
    record_id: str, event_id: str | None = None, space: str | None = FAMILY, **data: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "table": "habits",
        "id": record_id,
        "op": "insert",
        "data": {"id": record_id, **data},
    }
    if space is not None:
        row["spaceId"] = space
    if event_id is not None:
        row["eventId"] = event_id
    return row


def update(record_id: str, event_id: str | None = None, space: str = FAMILY, **fields: Any) -> dict[str, Any]:
    """``fields`` map a name to ``(value, at)`` or to a ready FieldChange dict."""
    wire_fields = {
        name: spec if isinstance(spec, dict) else {"value": spec[0], "at": spec[1]}
        for name, spec in fields.items()
    }
    row: dict[str, Any] = {
        "table": "habits",
        "id": record_id,
        "op": "update",
        "fields": wire_fields,
        "spaceId": space,
    }
    if event_id is not None:
        row["eventId"] = event_id
    return row


def delete(record_id: str, deleted_at: str | None = None, event_id: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"table": "habits", "id": record_id, "op": "delete", "spaceId": FAMILY}
    if deleted_at is not None:
        row["deletedAt"] = deleted_at
    if event_id is not None:
        row["eventId"] = event_id
    return row


def run(*rows: dict[str, Any]) -> CollectionState:
    return replay(wire(list(rows)))


def visible_ids(state: CollectionState, user: str = ALICE, space: str = FAMILY) -> set[str]:
    return {record.record_id for record in state.visible(user, space)}


# --- the worked example of §10.5 -------------------------------------------------------------

_HABIT_DEFAULTS = {"icon": "star", "color": "#6366f1", "targetPerDay": None, "defaultDuration": None}
_SPACE = {"visibility": "space"}

WORKED_EXAMPLE = [
    # 1
    insert("H1", "e1", title="Walk", order=0, isArchived=False, spaceId=FAMILY, authorId=ALICE,
           **_HABIT_DEFAULTS, **_SPACE),
    # 2
    insert("H2", "e2", title="Water", order=1, isArchived=False, spaceId=FAMILY, authorId=ALICE,
           createdAt="2026-05-01T08:00:00.000Z", **_HABIT_DEFAULTS, **_SPACE),
    # 3
    update("H1", "e3", title=("Evening walk", "2026-05-01T09:00:00.000Z")),
    # 4
    update("H1", "e4", title=("Morning walk", "2026-05-01T10:30:00+02:00")),
    # 5
    update("H2", "e5", isArchived=(True, "2026-05-01T09:15:00.000Z")),
    # 6: the older wire format's key only
    update("H2", "e6", isArchived={"value": False, "updatedAt": "2026-05-01T09:15:00.000Z"}),
    # 7
    insert("H3", "e7", title="Surprise party", spaceId=FAMILY, authorId="u_bob", **_HABIT_DEFAULTS,
           visibility="private"),
    # 8
    insert("H4", "e8", title="Old habit", order=3, spaceId=FAMILY, authorId=ALICE,
           createdAt="2026-04-01T07:00:00.000Z", **_HABIT_DEFAULTS, **_SPACE),
    # 9
    delete("H4", "2026-05-01T07:00:00.000Z", "e9"),
    # 10: no insert for H5 exists
    update("H5", "e10", title=("Ghost", "2026-05-01T09:20:00.000Z")),
    # 11: the same event as #3 again
    update("H1", "e3", title=("Evening walk", "2026-05-01T09:00:00.000Z")),
    # 12
    insert("H6", "e12", space="_personal:u_alice", title="Stretch", order=2, isArchived=False,
           spaceId="_personal:u_alice", authorId=ALICE, createdAt="2026-05-01T06:00:00.000Z",
           **_HABIT_DEFAULTS, **_SPACE),
    # 13
    insert("H7", "e13", space="sp_work", title="Standup", order=0, spaceId="sp_work", authorId=ALICE,
           createdAt="2026-05-01T06:30:00.000Z", **_HABIT_DEFAULTS, **_SPACE),
]  # fmt: skip

WORKED_RESULT = [
    # id, title, order, isArchived, createdAt, updatedAt (derived)
    ("H1", "Evening walk", 0, False, None, "2026-05-01T09:00:00.000Z"),
    ("H2", "Water", 1, False, "2026-05-01T08:00:00.000Z", "2026-05-01T09:15:00.000Z"),
    ("H6", "Stretch", 2, False, "2026-05-01T06:00:00.000Z", "2026-05-01T06:00:00.000Z"),
]


def test_worked_example_gives_the_expected_table() -> None:
    state = run(*WORKED_EXAMPLE)
    live = sorted(state.visible(ALICE, FAMILY), key=lambda r: habit_sort_key(r.record_id, r.values))
    table = [
        (
            r.record_id,
            r.values["title"],
            r.values["order"],
            r.values["isArchived"],
            r.created_at,
            r.updated_at,
        )
        for r in live
    ]
    assert table == WORKED_RESULT


def test_worked_example_as_habits_list_returns_it() -> None:
    state = run(*WORKED_EXAMPLE)
    live = [r for r in state.visible(ALICE, FAMILY) if not habit_is_archived(r.values)]
    live.sort(key=lambda r: habit_sort_key(r.record_id, r.values))
    habits = []
    for r in live:
        habit, warnings = normalise_habit(
            r.record_id, r.values, created_at=r.raw_created_at, updated_at=r.updated_at
        )
        assert warnings == []
        habits.append(habit.to_wire())
    assert habits == [
        {"id": "H1", "title": "Evening walk", "icon": "star", "color": "#6366f1", "targetPerDay": None,
         "defaultDuration": None, "order": 0, "isArchived": False, "createdAt": None,
         "updatedAt": "2026-05-01T09:00:00.000Z"},
        {"id": "H2", "title": "Water", "icon": "star", "color": "#6366f1", "targetPerDay": None,
         "defaultDuration": None, "order": 1, "isArchived": False, "createdAt": "2026-05-01T08:00:00.000Z",
         "updatedAt": "2026-05-01T09:15:00.000Z"},
        {"id": "H6", "title": "Stretch", "icon": "star", "color": "#6366f1", "targetPerDay": None,
         "defaultDuration": None, "order": 2, "isArchived": False, "createdAt": "2026-05-01T06:00:00.000Z",
         "updatedAt": "2026-05-01T06:00:00.000Z"},
    ]  # fmt: skip


def test_worked_example_intermediate_facts() -> None:
    state = run(*WORKED_EXAMPLE)
    # H1: every insert field has the unknown time, the title the time of #3.
    h1 = state.records["H1"]
    assert h1.times["order"] == UNKNOWN_TIME
    assert h1.times["title"] == parse_instant("2026-05-01T09:00:00.000Z")
    # H3 exists but is private to Bob; H4 exists but is soft-deleted; H7 lives in another space.
    assert state.records["H3"].visibility == "private"
    assert state.records["H4"].deleted
    assert state.records["H7"].space_id == "sp_work"
    assert visible_ids(state, ALICE, "sp_work") == {"H6", "H7"}  # the sentinel space shows everywhere
    assert visible_ids(state, "u_bob", FAMILY) == {"H1", "H2", "H3"}  # Bob sees his private one
    # H5 never came to exist: habits.update on it or on H4 is "not found" (D5).
    assert "H5" not in state.records
    assert {"H4", "H5"}.isdisjoint(visible_ids(state))
    # habits.create now gets order 3 (D14).
    assert len(visible_ids(state)) == 3
    # The duplicate of e3 was skipped: replaying without it gives the same state.
    without_duplicate = run(*(row for i, row in enumerate(WORKED_EXAMPLE) if i != 10))
    assert snapshot(without_duplicate) == snapshot(state)


def snapshot(state: CollectionState) -> dict[str, Any]:
    return {
        rid: (dict(r.values), dict(r.times), r.space_id, r.author_id, r.raw_created_at)
        for rid, r in state.records.items()
    }


# --- insert baseline times -------------------------------------------------------------------


def test_insert_time_is_data_updated_at_first() -> None:
    state = run(insert("a", title="x", updatedAt="2026-05-01T10:00:00Z", createdAt="2026-05-01T08:00:00Z"))
    assert state.records["a"].times["title"] == parse_instant("2026-05-01T10:00:00Z")
    assert state.records["a"].updated_at == "2026-05-01T10:00:00.000Z"
    assert state.records["a"].created_at == "2026-05-01T08:00:00.000Z"


@pytest.mark.parametrize("bad", ["", "soon", "2026-05-01", 5, None])
def test_insert_time_falls_back_to_created_at_when_updated_at_does_not_parse(bad: object) -> None:
    state = run(insert("a", title="x", updatedAt=bad, createdAt="2026-05-01T08:00:00+02:00"))
    assert state.records["a"].times["title"] == parse_instant("2026-05-01T06:00:00Z")


def test_insert_without_any_time_is_unknown_and_loses_to_every_timed_write() -> None:
    state = run(
        insert("a", title="baseline", order=1),
        update("a", title=("old but timed", "1970-01-01T00:00:00.000Z")),
        update("a", order=(5, "0001-01-01T00:00:00Z")),
    )
    record = state.records["a"]
    assert record.values["title"] == "old but timed"
    assert record.values["order"] == 5
    assert record.created_at is None


def test_insert_without_time_is_never_now() -> None:
    state = run(insert("a", title="baseline"))
    assert state.records["a"].times["title"] == UNKNOWN_TIME
    assert state.records["a"].updated_at is None


def test_an_untimed_update_overrides_an_untimed_insert_on_a_tie() -> None:
    state = run(insert("a", title="baseline"), update("a", title={"value": "later", "at": ""}))
    assert state.records["a"].values["title"] == "later"


def test_stored_updated_at_only_serves_as_the_insert_time() -> None:
    state = run(
        insert("a", title="x", updatedAt="2026-05-01T10:00:00.000Z"),
        update("a", title=("y", "2026-05-02T00:00:00Z")),
    )
    assert state.records["a"].updated_at == "2026-05-02T00:00:00.000Z"


# --- last write wins on parsed times ---------------------------------------------------------


def test_newer_value_wins_whatever_the_arrival_order() -> None:
    newer, older = ("new", "2026-05-01T09:00:01.000Z"), ("old", "2026-05-01T09:00:00.999Z")
    assert (
        run(insert("a"), update("a", title=newer), update("a", title=older)).records["a"].values["title"]
        == "new"
    )
    assert (
        run(insert("a"), update("a", title=older), update("a", title=newer)).records["a"].values["title"]
        == "new"
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("2026-05-01T09:00:00.000Z", "2026-05-01T09:00:00.000Z"),
        ("2026-05-01T09:00:00.000Z", "2026-05-01T11:00:00+02:00"),  # the same instant written differently
        ("2026-05-01T09:00Z", "2026-05-01t09:00:00.000000z"),
        ("2026-05-01T09:00:00.0001Z", "2026-05-01T09:00:00.000100999Z"),  # equal after truncation to µs
    ],
)
def test_equal_times_go_to_the_later_change(first: str, second: str) -> None:
    state = run(insert("a"), update("a", title=("first", first)), update("a", title=("second", second)))
    assert state.records["a"].values["title"] == "second"


def test_times_are_compared_as_instants_not_strings() -> None:
    # "10:30+02:00" sorts after "09:00Z" as text but is 08:30Z.
    state = run(
        insert("a"),
        update("a", title=("utc", "2026-05-01T09:00:00.000Z")),
        update("a", title=("offset", "2026-05-01T10:30:00+02:00")),
    )
    assert state.records["a"].values["title"] == "utc"


def test_updated_at_only_key_is_a_field_time() -> None:
    state = run(
        insert("a", createdAt="2026-05-01T08:00:00.000Z", title="x"),
        update("a", title={"value": "y", "updatedAt": "2026-05-01T09:00:00.000Z"}),
        update("a", title={"value": "z", "updatedAt": "2026-05-01T08:30:00.000Z"}),
    )
    assert state.records["a"].values["title"] == "y"
    assert state.records["a"].updated_at == "2026-05-01T09:00:00.000Z"


def test_at_is_preferred_over_updated_at() -> None:
    state = run(
        insert("a"),
        update("a", title={"value": "y", "at": "2026-05-01T09:00:00Z", "updatedAt": "2030-01-01T00:00:00Z"}),
        update("a", title={"value": "z", "at": "2026-05-01T08:00:00Z", "updatedAt": "2031-01-01T00:00:00Z"}),
    )
    assert state.records["a"].values["title"] == "y"


def test_an_unparseable_field_time_is_unknown() -> None:
    state = run(
        insert("a", createdAt="2026-05-01T08:00:00.000Z", title="x"),
        update("a", title=("y", "2026-05-01 09:00:00")),
    )
    assert state.records["a"].values["title"] == "x"


def test_updated_at_is_the_newest_known_field_time() -> None:
    state = run(
        insert("a", title="x", order=1),
        update("a", title=("y", "2026-05-01T09:00:00.123456Z")),
        update("a", order=(2, "2026-05-01T07:00:00Z")),
        update("a", icon=("leaf", "not a time")),
    )
    assert state.records["a"].updated_at == "2026-05-01T09:00:00.123Z"


def test_field_update_of_a_field_the_insert_lacked() -> None:
    state = run(
        insert("a", createdAt="2026-05-01T08:00:00.000Z"), update("a", icon=("leaf", "2020-01-01T00:00Z"))
    )
    assert state.records["a"].values["icon"] == "leaf"


# --- kept-aside fields and ghosts ------------------------------------------------------------


def test_fields_kept_aside_are_applied_when_the_insert_arrives() -> None:
    state = run(
        update("a", title=("newer than insert", "2026-05-01T10:00:00Z")),
        update("a", order=(9, "2026-05-01T07:00:00Z")),
        insert("a", title="from insert", order=1, createdAt="2026-05-01T08:00:00Z"),
    )
    record = state.records["a"]
    assert record.values["title"] == "newer than insert"
    assert record.values["order"] == 1  # the kept-aside order is older than the insert
    assert record.times["title"] == parse_instant("2026-05-01T10:00:00Z")


def test_kept_aside_fields_apply_in_arrival_order_and_beat_the_insert_on_ties() -> None:
    t = "2026-05-01T08:00:00.000Z"
    state = run(
        update("a", title=("first", t)),
        update("a", title=("second", t)),
        insert("a", title="from insert", createdAt=t),
    )
    assert state.records["a"].values["title"] == "second"


def test_kept_aside_fields_are_applied_once() -> None:
    state = run(
        update("a", title=("aside", "2026-05-01T10:00:00Z")),
        insert("a", title="insert", createdAt="2026-05-01T08:00:00Z"),
        update("a", title=("after", "2026-05-01T11:00:00Z")),
        insert("a", title="repeat", createdAt="2026-05-01T12:00:00Z"),
    )
    assert state.records["a"].values["title"] == "repeat"


def test_ghost_updates_create_nothing() -> None:
    state = run(
        update("ghost", title=("Ghost", "2026-05-01T09:20:00Z")), delete("ghost2", "2026-05-01T09:00:00Z")
    )
    assert state.records == {}
    assert len(state) == 0
    assert list(state.visible(ALICE, FAMILY)) == []


def test_a_kept_aside_soft_delete_deletes_the_record_on_insert() -> None:
    state = run(delete("a", "2026-05-01T09:00:00Z"), insert("a", title="x", createdAt="2026-05-01T08:00:00Z"))
    assert state.records["a"].deleted
    assert visible_ids(state) == set()


def test_insert_without_data_is_ignored() -> None:
    state = run({"table": "habits", "id": "a", "op": "insert", "spaceId": FAMILY})
    assert state.records == {}


def test_update_without_fields_changes_nothing() -> None:
    state = run(
        insert("a", title="x"), {"table": "habits", "id": "a", "op": "update", "data": {"title": "y"}}
    )
    assert state.records["a"].values["title"] == "x"


# --- deletes ---------------------------------------------------------------------------------


def test_soft_delete_hides_the_record_but_keeps_its_state() -> None:
    state = run(insert("a", title="x", createdAt="2026-05-01T08:00:00Z"), delete("a", "2026-05-01T09:00:00Z"))
    record = state.records["a"]
    assert record.deleted
    assert record.values["deletedAt"] == "2026-05-01T09:00:00Z"
    assert record.updated_at == "2026-05-01T09:00:00.000Z"
    assert visible_ids(state) == set()


def test_a_later_null_deleted_at_revives_the_record() -> None:
    state = run(
        insert("a", title="x", createdAt="2026-05-01T08:00:00Z"),
        delete("a", "2026-05-01T09:00:00Z"),
        update("a", deletedAt=(None, "2026-05-01T10:00:00Z")),
    )
    assert not state.records["a"].deleted
    assert visible_ids(state) == {"a"}


def test_an_older_null_deleted_at_does_not_revive() -> None:
    state = run(
        insert("a", title="x", createdAt="2026-05-01T08:00:00Z"),
        delete("a", "2026-05-01T09:00:00Z"),
        update("a", deletedAt=(None, "2026-05-01T08:30:00Z")),
    )
    assert state.records["a"].deleted


def test_an_empty_deleted_at_field_is_not_deleted() -> None:
    state = run(insert("a", title="x", deletedAt=""))
    assert not state.records["a"].deleted
    assert visible_ids(state) == {"a"}


def test_a_soft_delete_time_is_its_own_deleted_at() -> None:
    state = run(
        insert("a", createdAt="2026-05-01T08:00:00Z"),
        update("a", deletedAt=(None, "2026-05-01T10:00:00Z")),
        delete("a", "2026-05-01T09:00:00Z"),  # older than the revival: loses
    )
    assert not state.records["a"].deleted


def test_hard_delete_drops_the_record_and_a_later_insert_starts_afresh() -> None:
    state = run(
        insert("a", title="old", order=3, spaceId="sp_old", createdAt="2026-05-01T08:00:00Z"),
        update("a", icon=("leaf", "2026-05-01T09:00:00Z")),
        update("b", title=("aside for b", "2026-05-01T09:00:00Z")),
        delete("a"),
    )
    assert "a" not in state.records
    state.apply_all(wire([insert("a", title="new", createdAt="2026-05-01T07:00:00Z")]))
    record = state.records["a"]
    assert record.values == {"title": "new", "createdAt": "2026-05-01T07:00:00Z"}
    assert record.space_id == FAMILY
    assert record.created_at == "2026-05-01T07:00:00.000Z"


def test_hard_delete_forgets_kept_aside_fields() -> None:
    state = run(
        update("a", title=("aside", "2026-05-01T10:00:00Z")),
        delete("a"),
        insert("a", title="insert", createdAt="2026-05-01T08:00:00Z"),
    )
    assert state.records["a"].values["title"] == "insert"


# --- event ids -------------------------------------------------------------------------------


def test_a_repeated_event_id_is_skipped_even_with_other_content() -> None:
    state = run(
        insert("a", "e1", title="x", createdAt="2026-05-01T08:00:00Z"),
        update("a", "e2", title=("y", "2026-05-01T09:00:00Z")),
        update("a", "e2", title=("z", "2026-05-01T10:00:00Z")),
    )
    assert state.records["a"].values["title"] == "y"
    assert state.has_seen("e2")
    assert not state.has_seen("e3")


def test_changes_without_event_id_are_all_applied() -> None:
    state = run(
        insert("a", title="x", createdAt="2026-05-01T08:00:00Z"),
        update("a", title=("y", "2026-05-01T09:00:00Z")),
        update("a", title=("z", "2026-05-01T09:00:00Z")),
    )
    assert state.records["a"].values["title"] == "z"


def test_a_repeated_event_id_is_skipped_across_feeds() -> None:
    state = run(insert("a", "e1", title="x", createdAt="2026-05-01T08:00:00Z"))
    state.apply_all(wire([insert("a", "e1", title="changed", createdAt="2026-05-01T09:00:00Z")]))
    assert state.records["a"].values["title"] == "x"


# --- bookkeeping and immutable keys ----------------------------------------------------------


def test_bookkeeping_keys_are_ignored() -> None:
    state = run(
        insert(
            "a",
            title="x",
            __fieldMeta={"title": "t"},
            __fieldTimestamps={"title": "2030-01-01T00:00:00Z"},
            __lastActor={"kind": "user"},
            _updatedAtIndex=5,
            createdAt="2026-05-01T08:00:00Z",
        ),
        update(
            "a", __fieldActors=({"x": 1}, "2026-05-01T09:00:00Z"), _updatedAtIndex=(9, "2026-05-01T09:00:00Z")
        ),
        update("ghost", __fieldMeta=({}, "2026-05-01T09:00:00Z")),
        insert("ghost", title="g"),
    )
    assert state.records["a"].values == {"title": "x", "createdAt": "2026-05-01T08:00:00Z"}
    assert state.records["a"].updated_at == "2026-05-01T08:00:00.000Z"
    assert state.records["ghost"].values == {"title": "g"}


def test_the_id_key_is_not_a_field() -> None:
    state = run(insert("a", title="x"), update("a", id=("b", "2026-05-01T09:00:00Z")))
    assert "id" not in state.records["a"].values
    assert state.records["a"].record_id == "a"


def test_space_and_author_never_change_after_the_insert() -> None:
    state = run(
        insert("a", spaceId=FAMILY, authorId=ALICE, createdAt="2026-05-01T08:00:00Z"),
        update(
            "a", spaceId=("sp_other", "2026-05-01T09:00:00Z"), authorId=("u_mallory", "2026-05-01T09:00:00Z")
        ),
        insert(
            "a", spaceId="sp_other", authorId="u_mallory", title="repeat", createdAt="2026-05-01T10:00:00Z"
        ),
    )
    record = state.records["a"]
    assert (record.space_id, record.author_id) == (FAMILY, ALICE)
    assert (record.values["spaceId"], record.values["authorId"]) == (FAMILY, ALICE)
    assert record.values["title"] == "repeat"  # the repeated insert still applies its other keys
    assert record.created_at == "2026-05-01T08:00:00.000Z"  # createdAt is the first insert's


def test_a_kept_aside_space_change_is_ignored_too() -> None:
    state = run(update("a", spaceId=("sp_other", "2026-05-01T09:00:00Z")), insert("a", spaceId=FAMILY))
    assert state.records["a"].space_id == FAMILY


# --- spaces, authors and visibility ----------------------------------------------------------


@pytest.mark.parametrize(
    ("data_space", "top_level", "space"),
    [
        (FAMILY, "sp_other", FAMILY),  # data.spaceId wins
        ("", FAMILY, FAMILY),
        (None, FAMILY, FAMILY),
        (7, FAMILY, FAMILY),
        ("_absent", FAMILY, FAMILY),
        ("_absent", None, None),
    ],
)
def test_the_record_space(data_space: object, top_level: str | None, space: str | None) -> None:
    data = {} if data_space == "_absent" else {"spaceId": data_space}
    state = run(insert("a", space=top_level, **data))
    assert state.records["a"].space_id == space


def test_records_without_space_are_dropped() -> None:
    state = run(insert("a", space=None, title="x"))
    assert "a" in state.records
    assert visible_ids(state) == set()
    assert visible_ids(state, ALICE, "") == set()


def test_a_non_string_author_is_no_author() -> None:
    state = run(insert("a", authorId=42, visibility="private"))
    assert state.records["a"].author_id is None
    assert visible_ids(state) == set()


@pytest.mark.parametrize(
    ("author", "visibility", "visible_to_alice"),
    [
        ("u_bob", "private", False),
        (ALICE, "private", True),
        ("u_bob", "space", True),
        ("u_bob", "public", True),
        ("u_bob", "unlisted", True),
        ("u_bob", "PRIVATE", True),  # only exactly "private" hides
        ("u_bob", None, True),
        (None, "private", False),
    ],
)
def test_private_visibility(author: str | None, visibility: str | None, visible_to_alice: bool) -> None:
    state = run(insert("a", authorId=author, visibility=visibility, spaceId=FAMILY))
    assert (visible_ids(state) == {"a"}) is visible_to_alice


def test_visibility_can_change_later() -> None:
    state = run(
        insert("a", authorId="u_bob", visibility="space", createdAt="2026-05-01T08:00:00Z"),
        update("a", visibility=("private", "2026-05-01T09:00:00Z")),
    )
    assert visible_ids(state) == set()
    assert visible_ids(state, "u_bob") == {"a"}


def test_the_personal_sentinel_is_accepted_in_every_active_space_for_its_owner_only() -> None:
    state = run(
        insert("mine", space="_personal:u_alice", spaceId="_personal:u_alice", authorId=ALICE),
        insert("bobs", space="_personal:u_bob", spaceId="_personal:u_bob", authorId="u_bob"),
        insert("family", spaceId=FAMILY),
        insert("work", spaceId="sp_work"),
    )
    assert visible_ids(state, ALICE, FAMILY) == {"mine", "family"}
    assert visible_ids(state, ALICE, "sp_work") == {"mine", "work"}
    assert visible_ids(state, "u_bob", FAMILY) == {"bobs", "family"}
    assert visible_ids(state, ALICE, "_personal:u_bob") == {"bobs", "mine"}


# --- derived times ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("created_at", "expected"),
    [
        ("2026-05-01T10:00:00+02:00", "2026-05-01T08:00:00.000Z"),
        ("2026-05-01", "2026-05-01T00:00:00.000Z"),
        ("last week", None),
        (1_777_626_000_000, None),
    ],
)
def test_created_at_is_normalised(created_at: object, expected: str | None) -> None:
    state = run(insert("a", createdAt=created_at))
    assert state.records["a"].created_at == expected
    assert state.records["a"].raw_created_at == created_at


def test_an_untimed_record_has_no_updated_at() -> None:
    state = run(insert("a", title="x"), update("a", title={"value": "y"}))
    assert state.records["a"].updated_at is None


def test_a_repeated_insert_takes_fields_it_ties_with() -> None:
    # Why "replaying a change twice changes nothing" needs distinct times: the kept-aside title
    # beats the first insert on the tie, and the re-sent insert, coming later, beats it back.
    t = "2026-05-01T08:00:00.000Z"
    once = [update("a", title=("aside", t)), insert("a", title="insert", createdAt=t)]
    assert run(*once).records["a"].values["title"] == "aside"
    assert run(*once, once[1]).records["a"].values["title"] == "insert"


# --- the compact record state: one insert time, a dict only for fields timed otherwise --------


def test_a_kept_aside_field_older_than_the_insert_keeps_the_insert_time_newest() -> None:
    state = run(
        update("a", icon=("leaf", "2026-05-01T07:00:00Z")),
        insert("a", title="x", createdAt="2026-05-01T08:00:00Z"),
    )
    record = state.records["a"]
    assert record.times == {
        "title": parse_instant("2026-05-01T08:00:00Z"),
        "createdAt": parse_instant("2026-05-01T08:00:00Z"),
        "icon": parse_instant("2026-05-01T07:00:00Z"),
    }
    assert record.updated_at == "2026-05-01T08:00:00.000Z"


def test_when_every_insert_field_is_rewritten_the_newest_rewrite_is_the_newest_time() -> None:
    state = run(
        insert("a", title="x", updatedAt="2026-05-01T09:00:00Z"),  # updatedAt is a field, too
        update("a", title=("y", "2026-05-01T09:30:00Z"), updatedAt=("z", "2026-05-01T09:10:00Z")),
    )
    record = state.records["a"]
    assert record.newest_time == parse_instant("2026-05-01T09:30:00Z")
    assert record.newest_time == max(record.times.values())


def test_a_record_without_fields_has_no_newest_time_until_one_is_written() -> None:
    state = run(insert("a", createdAt="2026-05-01T08:00:00Z"))
    record = state.records["a"]
    record.values.clear()  # an insert whose data held only bookkeeping keys looks like this
    assert record.newest_time == UNKNOWN_TIME
    assert record.updated_at is None
    record.apply("title", "x", 5)
    assert (record.newest_time, record.times) == (5, {"title": 5})


def test_a_write_at_the_insert_time_of_a_rewritten_field_is_kept_at_that_time() -> None:
    t0, t1 = "2026-05-01T08:00:00.000Z", "2026-05-01T09:00:00.000Z"
    state = run(
        insert("a", title="x", createdAt=t0), update("a", title=("y", t1)), update("a", title=("z", t0))
    )
    assert state.records["a"].values["title"] == "y"  # t0 is older than t1
    assert state.records["a"].times["title"] == parse_instant(t1)


def test_short_strings_and_space_and_author_ids_are_held_once() -> None:
    space, author = "2f8c1c6e-0b5e-4d1e-9a55-9f5f2f6b7c10", "6f8698de-1111-4222-8333-944445555666"
    # Parsed apart, as pull pages are: equal strings, distinct objects.
    rows = [
        json.loads(json.dumps(insert(f"t{i}", priority="medium", spaceId=space, authorId=author,
                                     title="enc:1:" + "A" * 40, createdAt="2026-05-01T08:00:00.000Z")))
        for i in range(2)
    ]  # fmt: skip
    assert rows[0]["data"]["spaceId"] is not rows[1]["data"]["spaceId"]
    first, second = run(*rows).records.values()
    for key in ("priority", "spaceId", "authorId"):
        assert first.values[key] is second.values[key]
    assert first.space_id is first.values["spaceId"]
    assert first.author_id is first.values["authorId"]
    assert first.values["title"] is not second.values["title"]  # long strings are left alone


def test_a_state_that_applied_nothing_holds_no_seen_ids() -> None:
    state = CollectionState()
    state.apply_wire([])
    assert (state.seen_count, state.has_seen("e1"), len(state)) == (0, False, 0)
    state.apply_all(wire([insert("a", "e1", title="x")]))
    assert (state.seen_count, state.has_seen("e1")) == (1, True)
