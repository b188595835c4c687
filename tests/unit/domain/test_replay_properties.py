"""Properties of the replay (mana-sync.md §10.2), checked on generated logs.

What exactly is order-independent: for a log with **at most one insert per record, no hard
deletes, no repeated event ids, and pairwise distinct times among the updates and soft deletes**,
every permutation of the log replays to the same records (values, field times, space, author,
createdAt). Inserts may sit anywhere, even after their updates (those are kept aside and applied
with their own times), and an insert's baseline may tie with an update (the update wins in either
order, because kept-aside fields are applied after the insert). What is *not* order-independent,
by design: two writes of one field with equal times (ties go to the later change), repeated
inserts (the first one fixes space, author and createdAt), and hard deletes.

Besides the named properties, every generated log is checked against a reference model written
from the text of §10.2 in a different shape: per record and per field, the winner is the write
with the greatest (time, rank), where the record's creating insert ranks below every other change
after the last hard delete and the other changes rank by position.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mana.domain.changes import Change, FieldChange
from mana.domain.replay import UNKNOWN_TIME, CollectionState, replay
from mana.domain.timestamps import format_micros, parse_instant

USERS = ("u1", "u2")
SPACES = ("sp_a", "sp_b", "_personal:u1", "_personal:u2")
RECORD_IDS = ("r1", "r2")
# Weighted towards a few names so that changes of one record often touch the same field.
FIELDS = ("title", "title", "title", "order", "visibility", "deletedAt", "__fieldMeta", "_updatedAtIndex",
          "spaceId", "authorId", "id")  # fmt: skip
BASE = parse_instant("2026-05-01T09:00:00.000Z")
assert BASE is not None

# --- time strategies ---------------------------------------------------------------------------


def render(instant: int, style: int) -> str:
    """One instant in one of the accepted written forms."""
    text = format_micros(instant)
    if style == 0:
        return text
    if style == 1:  # an offset of +02:00
        shifted = format_micros(instant + 2 * 3_600_000_000)
        return shifted[:-1] + "+02:00"
    if style == 2:  # lower-case t and z
        return text.replace("T", "t").replace("Z", "z")
    return text[:-1] + "000000Z"  # nine fraction digits


# Few distinct instants, so that equal times (ties) are frequent, each rendered in several forms.
instants = st.integers(min_value=0, max_value=3).map(lambda s: BASE + s * 1_000_000)
unknown_times = st.sampled_from(["", "soon", "2026-05-01", "2026-05-01T09:00:00"])


@st.composite
def times(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 4)) == 0:
        return draw(unknown_times)
    return render(draw(instants), draw(st.integers(0, 3)))


values = st.one_of(st.none(), st.integers(-2, 2), st.sampled_from(["a", "b", "private", "space"]))


# --- log strategies ----------------------------------------------------------------------------


@st.composite
def any_change(draw: st.DrawFn) -> Change:
    record_id = draw(st.sampled_from(RECORD_IDS))
    op = draw(st.sampled_from(["insert", "insert", "update", "update", "update", "delete"]))
    top_space = draw(st.none() | st.sampled_from(SPACES))
    if op == "insert":
        data: dict[str, Any] = {"id": record_id}
        for name in dict.fromkeys(draw(st.lists(st.sampled_from(FIELDS), max_size=4))):
            data[name] = draw(st.sampled_from(SPACES) if name == "spaceId" else values)
        if draw(st.booleans()):
            data["createdAt"] = draw(times())
        if draw(st.integers(0, 3)) == 0:
            data["updatedAt"] = draw(times())
        if draw(st.booleans()):
            data["authorId"] = draw(st.sampled_from(USERS))
        return Change("habits", record_id, "insert", data=data if draw(st.integers(0, 9)) else None,
                      space_id=top_space)  # fmt: skip
    if op == "update":
        names = dict.fromkeys(draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3)))
        fields = {}
        for name in names:
            time = draw(times())
            fields[name] = FieldChange(draw(values), *((time, None) if draw(st.booleans()) else (None, time)))
        return Change("habits", record_id, "update", fields=fields, space_id=top_space)
    deleted_at = draw(st.none() | times())
    return Change("habits", record_id, "delete", deleted_at=deleted_at or None, space_id=top_space)


@st.composite
def logs(draw: st.DrawFn, max_size: int = 16) -> list[Change]:
    """Arbitrary logs; every change gets an event id, some of them repeated."""
    changes = draw(st.lists(any_change(), min_size=max_size // 4, max_size=max_size))
    out = []
    for i, change in enumerate(changes):
        event_id = f"e{draw(st.integers(0, i))}" if draw(st.integers(0, 5)) == 0 else f"e{i}"
        out.append(_with_event_id(change, event_id))
    return out


def _with_event_id(change: Change, event_id: str | None) -> Change:
    return Change(
        change.table, change.record_id, change.op, change.data, change.fields, change.deleted_at,
        change.space_id, event_id,
    )  # fmt: skip


@st.composite
def distinct_time_logs(draw: st.DrawFn, insert_ties: bool = False) -> list[Change]:
    """Logs within the conditions of the order-independence property (module docstring).

    Every update and soft delete has its own time. Each insert's baseline is a further distinct
    time, or unknown, or with ``insert_ties`` possibly the time of one of the updates.
    """
    inserted = draw(st.lists(st.sampled_from(RECORD_IDS), unique=True))
    n_updates = draw(st.integers(0, 10))
    n_slots = n_updates + len(inserted)
    slots = draw(st.lists(st.integers(0, 4000), min_size=n_slots, max_size=n_slots, unique=True))
    update_slots, insert_slots = slots[:n_updates], slots[n_updates:]
    changes: list[Change] = []
    for slot in update_slots:
        record_id = draw(st.sampled_from(RECORD_IDS))
        time = render(BASE + slot * 1000, draw(st.integers(0, 3)))
        if draw(st.integers(0, 4)) == 0:
            changes.append(Change("habits", record_id, "delete", deleted_at=time))
            continue
        names = dict.fromkeys(draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3)))
        fields = {name: FieldChange(draw(values), time) for name in names}
        changes.append(Change("habits", record_id, "update", fields=fields))
    for record_id, slot in zip(inserted, insert_slots, strict=True):
        data: dict[str, Any] = {"id": record_id, "spaceId": draw(st.sampled_from(SPACES))}
        data["authorId"] = draw(st.sampled_from(USERS))
        for name in draw(st.lists(st.sampled_from(("title", "order", "visibility")), unique=True)):
            data[name] = draw(values)
        if draw(st.booleans()):
            if insert_ties and update_slots and draw(st.booleans()):
                slot = draw(st.sampled_from(update_slots))
            data["createdAt"] = render(BASE + slot * 1000, draw(st.integers(0, 3)))
        changes.insert(draw(st.integers(0, len(changes))), Change("habits", record_id, "insert", data=data))
    return [_with_event_id(change, f"e{i}") for i, change in enumerate(changes)]


# --- the reference model -----------------------------------------------------------------------


def _t(value: object) -> int:
    instant = parse_instant(value)
    return UNKNOWN_TIME if instant is None else instant


def _bookkeeping(name: str) -> bool:
    return name.startswith("__") or name == "_updatedAtIndex"


def _write(winners: dict[str, tuple[int, int, Any]], name: str, value: Any, time: int, rank: int) -> None:
    """The greatest (time, rank) wins: a later rank takes equal times."""
    if _bookkeeping(name):
        return
    current = winners.get(name)
    if current is None or (time, rank) >= current[:2]:
        winners[name] = (time, rank, value)


def reference(changes: Sequence[Change]) -> dict[str, Any]:
    seen: set[str] = set()
    log: list[Change] = []
    for change in changes:
        if change.event_id is not None:
            if change.event_id in seen:
                continue
            seen.add(change.event_id)
        log.append(change)
    result: dict[str, Any] = {}
    for record_id in {c.record_id for c in log}:
        mine = [(pos, c) for pos, c in enumerate(log) if c.record_id == record_id]
        last_hard_delete = max((pos for pos, c in mine if c.op == "delete" and not c.deleted_at), default=-1)
        segment = [(pos, c) for pos, c in mine if pos > last_hard_delete]
        inserts = [(pos, c) for pos, c in segment if c.op == "insert" and c.data is not None]
        if not inserts:
            continue
        first_pos, first = inserts[0]
        assert first.data is not None
        winners: dict[str, tuple[int, int, Any]] = {}

        for pos, c in segment:
            if c.op == "insert" and c.data is not None:
                time = _t(c.data.get("updatedAt"))
                if time == UNKNOWN_TIME:
                    time = _t(c.data.get("createdAt"))
                for name, value in c.data.items():
                    if name == "id" or (pos != first_pos and name in ("spaceId", "authorId")):
                        continue
                    _write(winners, name, value, time, -1 if pos == first_pos else pos)
            elif c.op == "update" and c.fields:
                for name, fc in c.fields.items():
                    if name not in ("id", "spaceId", "authorId"):
                        _write(winners, name, fc.value, _t(fc.time), pos)
            elif c.op == "delete" and c.deleted_at:
                _write(winners, "deletedAt", c.deleted_at, _t(c.deleted_at), pos)
        space = first.data.get("spaceId")
        if not (isinstance(space, str) and space):
            space = first.space_id
        author = first.data.get("authorId")
        result[record_id] = (
            {name: w[2] for name, w in winners.items()},
            {name: w[0] for name, w in winners.items()},
            space,
            author if isinstance(author, str) else None,
            first.data.get("createdAt"),
        )
    return result


def reference_visible(model: dict[str, Any], user: str, space: str) -> set[str]:
    out = set()
    for record_id, (vals, _times, record_space, author, _created) in model.items():
        deleted_at = vals.get("deletedAt")
        if isinstance(deleted_at, str) and deleted_at:
            continue
        if record_space not in (space, f"_personal:{user}"):
            continue
        if vals.get("visibility") == "private" and author != user:
            continue
        out.add(record_id)
    return out


def snapshot(state: CollectionState) -> dict[str, Any]:
    return {
        rid: (dict(r.values), dict(r.times), r.space_id, r.author_id, r.raw_created_at)
        for rid, r in state.records.items()
    }


def visible(state: CollectionState, user: str, space: str) -> set[str]:
    return {r.record_id for r in state.visible(user, space)}


# --- properties --------------------------------------------------------------------------------


@given(logs(), st.sampled_from(USERS), st.sampled_from(SPACES))
def test_replay_matches_the_reference_model(log: list[Change], user: str, space: str) -> None:
    state = replay(log)
    model = reference(log)
    assert snapshot(state) == model
    assert visible(state, user, space) == reference_visible(model, user, space)


@given(st.data())
def test_replay_does_not_depend_on_the_order_of_changes_under_distinct_times(data: st.DataObject) -> None:
    log = data.draw(distinct_time_logs(insert_ties=True))
    shuffled = data.draw(st.permutations(log))
    assert snapshot(replay(shuffled)) == snapshot(replay(log))


@given(st.data())
def test_replaying_a_change_again_right_after_it_changes_nothing_under_distinct_times(
    data: st.DataObject,
) -> None:
    log = data.draw(distinct_time_logs())
    if not log:
        return
    index = data.draw(st.integers(0, len(log) - 1))
    again = _with_event_id(log[index], None)  # a re-sent push: stored again under a new event id
    doubled = [*log[: index + 1], again, *log[index + 1 :]]
    assert snapshot(replay(doubled)) == snapshot(replay(log))


@given(st.data())
def test_a_retried_change_at_the_end_of_the_log_changes_nothing_under_distinct_times(
    data: st.DataObject,
) -> None:
    log = data.draw(distinct_time_logs())
    if not log:
        return
    retried = _with_event_id(data.draw(st.sampled_from(log)), None)
    assert snapshot(replay([*log, retried])) == snapshot(replay(log))


@given(logs(), st.data())
def test_a_repeated_event_id_anywhere_changes_nothing(log: list[Change], data: st.DataObject) -> None:
    if not log:
        return
    original = data.draw(st.sampled_from(log))
    position = data.draw(st.integers(log.index(original) + 1, len(log)))
    assert snapshot(replay([*log[:position], original, *log[position:]])) == snapshot(replay(log))


@given(
    logs(max_size=6),
    st.sampled_from(["title", "order", "visibility"]),
    st.lists(st.integers(0, 4000), min_size=2, max_size=2, unique=True),
    st.tuples(st.integers(0, 3), st.integers(0, 3)),
    st.booleans(),
)
def test_a_newer_field_value_wins_and_an_older_one_loses(
    prefix: list[Change], name: str, slots: list[int], styles: tuple[int, int], newer_first: bool
) -> None:
    older, newer = sorted(slots)
    insert = Change("habits", "x", "insert", data={"id": "x", name: "baseline"}, space_id="sp_a")
    old_change = Change(
        "habits", "x", "update", fields={name: FieldChange("old", render(BASE + older * 1000, styles[0]))}
    )
    new_change = Change(
        "habits", "x", "update", fields={name: FieldChange("new", render(BASE + newer * 1000, styles[1]))}
    )
    pair = [new_change, old_change] if newer_first else [old_change, new_change]
    record = replay([*prefix, insert, *pair]).records["x"]
    assert record.values[name] == "new"
    assert record.times[name] == BASE + newer * 1000


@given(logs(), st.sampled_from(RECORD_IDS), st.sampled_from(USERS), st.sampled_from(SPACES))
def test_a_soft_deleted_record_never_appears_among_visible_records(
    log: list[Change], record_id: str, user: str, space: str
) -> None:
    latest = max((_t(t) for t in _all_times(log)), default=BASE)
    deleted_at = format_micros(max(latest, BASE) + 1000)
    state = replay([*log, Change("habits", record_id, "delete", deleted_at=deleted_at)])
    assert record_id not in visible(state, user, space)
    for record in state.visible(user, space):
        assert not record.deleted


def _all_times(log: list[Change]) -> list[object]:
    found: list[object] = []
    for change in log:
        if change.data:
            found += [change.data.get("createdAt"), change.data.get("updatedAt")]
        if change.fields:
            found += [fc.time for fc in change.fields.values()]
        found.append(change.deleted_at)
    return found


@given(logs(), st.data())
def test_incremental_feeding_equals_one_replay(log: list[Change], data: st.DataObject) -> None:
    split = data.draw(st.integers(0, len(log)))
    overlap = data.draw(st.integers(0, split))  # a resumed read re-reads a few changes (§10.4)
    state = CollectionState()
    state.apply_all(log[:split])
    state.apply_all(log[split - overlap :])
    assert snapshot(state) == snapshot(replay(log))
    for user in USERS:
        for space in SPACES:
            assert visible(state, user, space) == visible(replay(log), user, space)


@given(logs())
def test_feeding_one_change_at_a_time_equals_one_replay(log: list[Change]) -> None:
    state = CollectionState()
    for change in log:
        state.apply(change)
    assert snapshot(state) == snapshot(replay(log))
