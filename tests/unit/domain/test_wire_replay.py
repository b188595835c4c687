"""The fused cold-read path equals the ``Change`` path on generated pull pages.

A read replays a page's changes as :func:`read_change` yields them (``apply_wire``), without a
``Change`` per change. The ``Change`` path (``change_from_wire`` then ``apply_all``) is the one the
replay's own tests and properties check against the reference model, so the two must end in the
same state: records, values, field times, space, author, createdAt, kept-aside fields, seen ids,
invalid counts and the journal the live views follow. The generated pages carry invalid changes,
repeated event ids, updates before inserts, re-inserts, hard and soft deletes, bookkeeping and
immutable keys, field times under ``at`` or ``updatedAt`` (empty, unparseable, not strings).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mana.adapters.in_process_sync import _page as in_process_page
from mana.adapters.sync_http import _parse_page
from mana.application.ports import Caller, PullPage
from mana.application.reading import pull_into
from mana.domain.changes import Change, InvalidChange, change_from_wire, read_change
from mana.domain.replay import UNKNOWN_TIME, CollectionState

RECORD_IDS = ("r1", "r2", "r3")
FIELDS = ("title", "title", "order", "visibility", "deletedAt", "__fieldMeta", "_updatedAtIndex", "_x",
          "spaceId", "authorId", "id", "createdAt", "updatedAt")  # fmt: skip
TIMES = ("2026-05-01T09:00:00.000Z", "2026-05-01T09:00:01.000Z", "2026-05-01T11:00:00+02:00",
         "2026-05-01t09:00:02z", "2026-05-01T09:00:00.000000001Z", "", "soon", "2026-05-01")  # fmt: skip
values = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from(["a", "b", "private", "space", "sp"])
)
times = st.sampled_from(TIMES)
not_strings = st.sampled_from([None, 5, 0, False, [], {}])


@st.composite
def field_entry(draw: st.DrawFn) -> Any:
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return draw(st.sampled_from([None, "x", [], {"at": TIMES[0]}]))  # invalid: no value
    entry: dict[str, Any] = {"value": draw(values)}
    if draw(st.integers(0, 3)):
        entry["at"] = draw(times)
    elif kind == 1:
        entry["at"] = draw(not_strings)  # invalid unless absent
    if draw(st.integers(0, 2)) == 0:
        entry["updatedAt"] = draw(times | not_strings)
    return entry


@st.composite
def wire_change(draw: st.DrawFn) -> Any:
    """A server-shape change object, valid most of the time."""
    record_id = draw(st.sampled_from(RECORD_IDS))
    op = draw(st.sampled_from(["insert", "insert", "update", "update", "update", "delete"]))
    raw: dict[str, Any] = {"table": "tasks", "id": record_id, "op": op, "schemaVersion": 1}
    if op == "insert" and draw(st.integers(0, 9)):
        data: dict[str, Any] = {"id": record_id}
        for name in draw(st.lists(st.sampled_from(FIELDS), max_size=5)):
            data[name] = draw(times if name in ("createdAt", "updatedAt", "deletedAt") else values)
        if draw(st.booleans()):
            data["spaceId"] = draw(st.sampled_from(["sp", "sp2", "", None]))
        if draw(st.booleans()):
            data["authorId"] = draw(st.sampled_from(["u1", "u2", None]))
        raw["data"] = data
    elif op == "update" and draw(st.integers(0, 9)):
        names = draw(st.lists(st.sampled_from(FIELDS), max_size=3))
        raw["fields"] = {name: draw(field_entry()) for name in names}
    elif op == "delete" and draw(st.booleans()):
        raw["deletedAt"] = draw(times)
    if draw(st.booleans()):
        raw["spaceId"] = draw(st.sampled_from(["sp", "sp2", ""]))
    if draw(st.integers(0, 3)) == 0:
        raw["actor"] = {"kind": "user", "principalId": "u1", "displayName": "A"}
    if draw(st.integers(0, 3)) == 0:
        raw["origin"] = "user"
    breakage = draw(st.integers(0, 24))
    if breakage == 1:
        raw["op"] = draw(st.sampled_from(["upsert", "", None, 3]))
    elif breakage == 2:
        raw[draw(st.sampled_from(["table", "id"]))] = draw(st.sampled_from(["", None, 7]))
    elif breakage == 3:
        raw[draw(st.sampled_from(["actor", "origin", "deletedAt", "schemaVersion", "data", "fields"]))] = (
            draw(st.sampled_from([None, [], "x", 1]))
        )
    elif breakage == 4:
        return draw(st.sampled_from([None, [], "change", 3]))
    return raw


@st.composite
def histories(draw: st.DrawFn) -> list[list[Any]]:
    """Pages of wire changes; event ids repeat (within and across pages) or are missing."""
    pages = []
    n = 0
    for _ in range(draw(st.integers(1, 3))):
        page = []
        for raw in draw(st.lists(wire_change(), max_size=12)):
            if isinstance(raw, dict):
                kind = draw(st.integers(0, 9))
                if kind == 0:
                    raw["eventId"] = f"e{draw(st.integers(0, max(n, 0)))}"  # maybe a repeat
                elif kind == 1:
                    raw["eventId"] = draw(st.sampled_from([None, 5]))  # invalid
                elif kind != 2:  # kind 2: no event id at all
                    raw["eventId"] = f"e{n}"
            n += 1
            page.append(raw)
        pages.append(page)
    return pages


def snapshot(state: CollectionState) -> dict[str, Any]:
    return {
        "records": {
            rid: (dict(r.values), dict(r.times), r.space_id, r.author_id, r.raw_created_at, r.updated_at)
            for rid, r in state.records.items()
        },
        "aside": {rid: list(fields) for rid, fields in state._aside.items()},
        "seen": sorted(state._seen),
        "invalid": state.invalid,
        "journal": list(state._journal),
        "visible": sorted(r.record_id for r in state.visible("u1", "sp")),
        "live": sorted(state.live("u1", "sp")),  # last: a view may compact the journal
    }


def change_path(pages: list[list[Any]]) -> CollectionState:
    """What a read did before the fused path: a ``Change`` per change, then ``apply_all``."""
    state = CollectionState()
    for page in pages:
        parsed = [change_from_wire(raw) for raw in page]
        state.invalid += sum(isinstance(p, InvalidChange) for p in parsed)
        state.apply_all([p for p in parsed if isinstance(p, Change)])
    return state


class PagesLog:
    """A change log serving the generated pages through a page parser of an adapter."""

    def __init__(self, pages: list[list[Any]], parse: str) -> None:
        self.pages = pages
        self.parse = parse

    async def push(self, caller: Caller, app_id: str, change: Change, since: str) -> None:
        raise AssertionError("read only")

    async def pull(self, caller: Caller, app_id: str, collection: str, since: str) -> PullPage:
        index = 0 if since == "1970-01-01T00:00:00.000Z" else int(since[-3:-1])
        body = {
            "serverChanges": self.pages[index],
            "syncedUntil": f"2026-05-02T00:00:00.0{index + 1:02d}Z",
            "hasMore": index + 1 < len(self.pages),
        }
        if self.parse == "http":
            return _parse_page(json.dumps(body).encode(), collection)
        return in_process_page(body)


def fused_path(pages: list[list[Any]], parse: str) -> CollectionState:
    state = CollectionState()
    asyncio.run(pull_into(PagesLog(pages, parse), Caller("u1", "t"), "todo", "tasks", state))
    return state


@settings(max_examples=200, deadline=None)
@given(pages=histories(), parse=st.sampled_from(["http", "in_process"]))
def test_the_fused_read_ends_where_the_change_path_does(pages: list[list[Any]], parse: str) -> None:
    # A page with more after it must hold a valid change (else the read fails: no progress).
    filler = {"table": "tasks", "id": "r9", "op": "delete"}
    pages = [
        page if any(isinstance(change_from_wire(r), Change) for r in page) else [*page, filler]
        for page in pages
    ]
    fused = fused_path(pages, parse)
    assert snapshot(fused) == snapshot(change_path(pages))
    for record in fused.records.values():  # the compact times answer as a dict of times would
        assert record.newest_time == max(record.times.values(), default=UNKNOWN_TIME)


@settings(max_examples=200, deadline=None)
@given(raw=wire_change())
def test_a_page_gives_the_changes_change_from_wire_gives(raw: Any) -> None:
    parsed = change_from_wire(raw)
    page = PullPage.of([parsed] if isinstance(parsed, Change) else [], "c", False)
    parts = read_change(raw)
    if isinstance(parsed, InvalidChange):
        assert parts == parsed
    else:
        assert PullPage([parts], "c", False).changes == [parsed] == page.changes


def test_a_repeated_event_id_is_skipped_across_pages_as_within_one() -> None:
    insert = {"eventId": "e1", "table": "tasks", "id": "r1", "op": "insert", "data": {"title": "a"}}
    again = {**insert, "data": {"title": "b"}}
    pages = [[insert, again], [again]]
    state = fused_path(pages, "http")
    assert state.records["r1"].values == {"title": "a"}
    assert snapshot(state) == snapshot(change_path(pages))
