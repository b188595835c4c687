"""mana-sync's server semantics (mana-sync.md §4-§9, §14) on both stores, parametrised."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mana.adapters.local_store import SqliteSyncStore
from mana.adapters.memory import FixedClock, MemorySyncStore
from mana.adapters.sync_core import (
    DELTA_LIMIT,
    PAGE_SIZE,
    SYNC_INACTIVE_BODY,
    ConnectionDropped,
    RowQuery,
    SyncResponse,
    SyncServer,
    SyncStore,
    format_cursor,
    parse_since,
)

EPOCH = "1970-01-01T00:00:00.000Z"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")
ACTOR = {"kind": "system", "principalId": "system:mcp", "displayName": "Agent via MCP"}


class Memberships:
    """A settable membership table; ``fail`` makes the lookup raise like an unreachable mana-auth."""

    def __init__(self) -> None:
        self.table: dict[str, set[str]] = {}
        self.fail = False

    def __call__(self, user_id: str) -> set[str]:
        if self.fail:
            raise RuntimeError("memberships unavailable")
        return self.table.get(user_id, set())


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SyncStore]:
    if request.param == "memory":
        yield MemorySyncStore()
        return
    sqlite = SqliteSyncStore(tmp_path / "log.sqlite3")
    yield sqlite
    sqlite.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def memberships() -> Memberships:
    return Memberships()


@pytest.fixture
def server(store: SyncStore, memberships: Memberships, clock: FixedClock) -> SyncServer:
    return SyncServer(store, memberships, clock=clock.now)


def insert(record_id: str, space: str | None = "sp_a", table: str = "habits", **data: Any) -> dict[str, Any]:
    change: dict[str, Any] = {
        "table": table,
        "id": record_id,
        "op": "insert",
        "data": {"id": record_id, **data},
        "actor": ACTOR,
        "origin": "agent",
    }
    if space is not None:
        change["spaceId"] = space
    return change


def update(
    record_id: str, fields: dict[str, Any], space: str = "sp_a", table: str = "habits"
) -> dict[str, Any]:
    return {
        "table": table,
        "id": record_id,
        "op": "update",
        "spaceId": space,
        "fields": fields,
        "actor": ACTOR,
    }


def body(
    *changes: dict[str, Any] | None, client_id: str = "", since: str = "", **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"changes": list(changes), **extra}
    if client_id:
        out["clientId"] = client_id
    if since:
        out["since"] = since
    return out


def ok(response: SyncResponse) -> dict[str, Any]:
    assert response.status == 200, response.text
    assert isinstance(response.json, dict)
    return response.json


def pull_all(
    server: SyncServer, user: str = "u1", client: str | None = "reader", **kw: Any
) -> dict[str, Any]:
    return ok(
        server.pull(
            user, client, kw.get("app", "habits"), kw.get("collection", "habits"), kw.get("since", EPOCH)
        )
    )


def ids(page: dict[str, Any]) -> list[str]:
    return [c["id"] for c in page["serverChanges"]]


# --- push and emission ----------------------------------------------------------------------------


def test_insert_is_emitted_in_the_server_shape(server: SyncServer, clock: FixedClock) -> None:
    pushed = ok(server.push("u1", "writer", "habits", body(insert("h1", title="Walk", order=0), since=EPOCH)))
    assert pushed == {"serverChanges": [], "conflicts": [], "syncedUntil": "2026-05-01T09:00:00Z"}
    clock.advance(1.25)
    page = pull_all(server)
    assert page["syncedUntil"] == "2026-05-01T09:00:01.25Z"
    assert "hasMore" not in page
    [change] = page["serverChanges"]
    assert UUID.match(change.pop("eventId"))
    assert change == {
        "schemaVersion": 1,
        "table": "habits",
        "id": "h1",
        "op": "insert",
        "data": {"id": "h1", "title": "Walk", "order": 0},
        "spaceId": "sp_a",
        "actor": ACTOR,
        "origin": "agent",
    }
    assert list(json.dumps(page["serverChanges"][0])) == list(json.dumps(change))  # key order as §6


def test_update_stores_fields_with_their_times_and_emits_at_only(server: SyncServer) -> None:
    fields = {
        "title": {
            "value": "Evening walk",
            "at": "2026-05-01T09:00:00.000Z",
            "updatedAt": "2026-05-01T09:00:00.000Z",
        },
        "targetPerDay": {"value": None, "at": "2026-05-01T09:00:00.000Z"},
        "color": {"value": "#fff", "updatedAt": "2026-05-01T09:00:00.000Z"},
    }
    ok(server.push("u1", "writer", "habits", body(update("h1", fields), data={"ignored": True})))
    [change] = pull_all(server)["serverChanges"]
    assert change["fields"] == {
        "title": {"value": "Evening walk", "at": "2026-05-01T09:00:00.000Z"},
        "targetPerDay": {"value": None, "at": "2026-05-01T09:00:00.000Z"},
        "color": {"value": "#fff", "at": ""},  # the current server reads only `at`
    }
    assert "data" not in change
    assert "origin" not in change  # empty optional keys are omitted


def test_update_without_fields_comes_back_empty(server: SyncServer) -> None:
    change = {"table": "habits", "id": "h1", "op": "update", "data": {"title": "x"}}
    ok(server.push("u1", "writer", "habits", body(change)))
    [emitted] = pull_all(server)["serverChanges"]
    assert set(emitted) == {"eventId", "schemaVersion", "table", "id", "op"}


def test_delete_keeps_deleted_at_and_discards_fields(server: SyncServer) -> None:
    soft = {
        "table": "habits",
        "id": "h1",
        "op": "delete",
        "spaceId": "sp_a",
        "deletedAt": "2026-05-01T07:00:00.000Z",
        "fields": {"title": None},  # a nil field change on a delete is never dereferenced
        "data": {"title": "gone"},
    }
    hard = {"table": "habits", "id": "h2", "op": "delete"}
    ok(server.push("u1", "writer", "habits", body(soft, hard)))
    first, second = pull_all(server)["serverChanges"]
    assert first["deletedAt"] == "2026-05-01T07:00:00.000Z"
    assert "fields" not in first
    assert "data" not in first
    assert set(second) == {"eventId", "schemaVersion", "table", "id", "op"}


def test_empty_optional_keys_are_omitted_and_a_null_actor_comes_back_null(server: SyncServer) -> None:
    bare = {"table": "habits", "id": "h1", "op": "insert"}
    empty = {"table": "habits", "id": "h2", "op": "insert", "data": {}, "spaceId": "", "origin": ""}
    null_actor = {"table": "habits", "id": "h3", "op": "insert", "data": {"a": 1}, "actor": None}
    ok(server.push("u1", "writer", "habits", body(bare, empty, null_actor)))
    a, b, c = pull_all(server)["serverChanges"]
    assert set(a) == set(b) == {"eventId", "schemaVersion", "table", "id", "op"}
    assert c["actor"] is None
    assert "actor" in c


def test_space_id_fallback_chain(server: SyncServer, memberships: Memberships) -> None:
    changes = [
        insert("top", space="sp_top", spaceId="sp_data"),
        insert("data", space=None, spaceId="sp_data"),
        {
            "table": "habits",
            "id": "fields",
            "op": "update",
            "fields": {"spaceId": {"value": "sp_field", "at": ""}},
        },
        insert("number", space=None, spaceId=7),
        insert("none", space=None),
    ]
    ok(server.push("u1", "writer", "habits", body(*changes)))
    spaces = {c["id"]: c.get("spaceId") for c in pull_all(server)["serverChanges"]}
    assert spaces == {"top": "sp_top", "data": "sp_data", "fields": "sp_field", "number": None, "none": None}
    # A co-member sees exactly the rows stored under the shared space.
    memberships.table["u2"] = {"sp_data"}
    assert ids(pull_all(server, user="u2")) == ["data"]


def test_schema_version_per_change_overrides_the_changeset(server: SyncServer) -> None:
    ok(
        server.push(
            "u1", "w", "habits", body(insert("a"), {**insert("b"), "schemaVersion": 7}, schemaVersion=0)
        )
    )
    versions = [c["schemaVersion"] for c in pull_all(server)["serverChanges"]]
    assert versions == [1, 7]


def test_bytes_body_is_read_like_a_go_decoder(server: SyncServer) -> None:
    raw = json.dumps(body(insert("h1", title="Grüße"))).encode() + b"  trailing bytes are never read"
    ok(server.push("u1", "w", "habits", raw))
    assert pull_all(server)["serverChanges"][0]["data"]["title"] == "Grüße"
    assert server.push("u1", "w", "habits", b"null").status == 200  # a null body is an empty changeset


# --- 400 answers, and nothing written -------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        pytest.param(
            body(insert("a"), schemaVersion=2), "unsupported schemaVersion 2 (max 1)\n", id="schema"
        ),
        pytest.param(
            body(insert("a"), {**insert("b"), "op": "upsert"}), 'invalid op "upsert" in change 1\n', id="op"
        ),
        pytest.param(
            body(insert("a"), {**insert("b"), "table": ""}), "missing table or id in change 1\n", id="table"
        ),
        pytest.param(body({"table": "habits", "op": "insert"}), "missing table or id in change 0\n", id="id"),
        pytest.param(body(None), 'invalid op "" in change 0\n', id="null-change"),
        pytest.param(b"", "invalid JSON: EOF\n", id="empty"),
    ],
)
def test_bad_changesets_get_the_exact_400_text_and_store_nothing(
    server: SyncServer, payload: Any, text: str
) -> None:
    response = server.push("u1", "w", "habits", payload)
    assert response == SyncResponse(400, text=text)
    assert pull_all(server)["serverChanges"] == []


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"{not json", id="syntax"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'{"changes": [], "since": 5}', id="since-number"),
        pytest.param(b'{"schemaVersion": 1.5}', id="schema-float"),
        pytest.param(b'{"schemaVersion": true}', id="schema-bool"),
        pytest.param(b'{"changes": {}}', id="changes-object"),
        pytest.param(
            b'{"changes": [{"table": "t", "id": "i", "op": "insert", "data": []}]}', id="data-array"
        ),
        pytest.param(
            b'{"changes": [{"table": "t", "id": "i", "op": "update", "fields": {"a": 1}}]}', id="fc"
        ),
        pytest.param(
            b'{"changes": [{"table": "t", "id": "i", "op": "update", "fields": {"a": {"at": 1}}}]}', id="at"
        ),
        pytest.param(
            b'{"changes": [{"table": "t", "id": "i", "op": "insert", "data": {"x": NaN}}]}', id="nan"
        ),
        pytest.param(b'{"changes": [{"table": 1, "id": "i", "op": "insert"}]}', id="table-number"),
        pytest.param(
            {"changes": [{"table": "t", "id": "i", "op": "insert", "data": {"x": float("inf")}}]}, id="inf"
        ),
    ],
)
def test_invalid_json_and_wrong_types_are_400_invalid_json(server: SyncServer, payload: Any) -> None:
    response = server.push("u1", "w", "habits", payload)
    assert response.status == 400
    assert response.text is not None
    assert response.text.startswith("invalid JSON: ")
    assert response.text.endswith("\n")
    assert pull_all(server, collection="t")["serverChanges"] == []


def test_a_body_over_10_mib_is_refused(server: SyncServer) -> None:
    big = body(insert("a", blob="x" * (10 * 1024 * 1024)))
    assert server.push("u1", "w", "habits", big) == SyncResponse(
        400, text="invalid JSON: http: request body too large\n"
    )


def test_pull_needs_both_parameters(server: SyncServer) -> None:
    missing = SyncResponse(400, text="missing collection or since parameter\n")
    assert server.pull("u1", "r", "habits", None, EPOCH) == missing
    assert server.pull("u1", "r", "habits", "habits", "") == missing
    assert server.pull("u1", "r", "habits", "", EPOCH) == missing
    assert server.pull("u1", "r", "habits", "habits", None) == missing


# --- faithful defects: no atomic batches, no idempotency, no membership check on writes --------------


def test_a_failing_change_leaves_the_earlier_ones_stored(server: SyncServer) -> None:
    batch = body(insert("a"), insert("b", title="bad\u0000text"), insert("c"))
    response = server.push("u1", "w", "habits", batch)
    assert response.status == 500
    assert response.text is not None
    assert response.text.startswith("failed to record change: ")
    assert "bad" not in response.text
    assert ids(pull_all(server)) == ["a"]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({**insert("b"), "data": {"key\u0000": 1}}, id="nul-in-key"),
        pytest.param({**insert("b"), "id": "b\u0000"}, id="nul-in-id"),
        pytest.param({**insert("b"), "actor": {"displayName": "\u0000"}}, id="nul-in-actor"),
        pytest.param(update("b", {"t": {"value": 1, "at": "2026\u0000"}}), id="nul-in-time"),
        pytest.param(insert("b", title="lone \ud800 surrogate"), id="lone-surrogate"),
    ],
)
def test_text_a_database_refuses_is_a_500(server: SyncServer, bad: dict[str, Any]) -> None:
    response = server.push("u1", "w", "habits", body(insert("a"), bad))
    assert response.status == 500
    assert ids(pull_all(server)) == ["a"]


def test_an_escaped_backslash_before_u0000_is_ordinary_text(server: SyncServer) -> None:
    ok(server.push("u1", "w", "habits", body(insert("a", title="C:\\u0000 is fine"))))
    assert pull_all(server)["serverChanges"][0]["data"]["title"] == "C:\\u0000 is fine"


def test_a_null_field_change_drops_the_connection_after_the_earlier_changes(server: SyncServer) -> None:
    batch = body(insert("a"), update("a", {"title": None}), insert("c"))
    with pytest.raises(ConnectionDropped):
        server.push("u1", "w", "habits", batch)
    assert ids(pull_all(server)) == ["a"]


def test_a_null_space_field_change_drops_the_connection_when_the_fallback_reaches_it(
    server: SyncServer,
) -> None:
    change = {"table": "habits", "id": "a", "op": "insert", "data": {}, "fields": {"spaceId": None}}
    with pytest.raises(ConnectionDropped):
        server.push("u1", "w", "habits", body(change))


def test_a_resent_batch_is_stored_twice(server: SyncServer) -> None:
    batch = body(insert("a", title="Walk"))
    ok(server.push("u1", "w", "habits", batch))
    ok(server.push("u1", "w", "habits", batch))
    changes = pull_all(server)["serverChanges"]
    assert [c["id"] for c in changes] == ["a", "a"]
    assert changes[0]["eventId"] != changes[1]["eventId"]


def test_writes_into_foreign_spaces_are_accepted_and_visible_to_their_members(
    server: SyncServer, memberships: Memberships
) -> None:
    ok(server.push("intruder", "w", "habits", body(insert("x", space="sp_family"))))
    memberships.table["alice"] = {"sp_family"}
    assert ids(pull_all(server, user="alice")) == ["x"]


# --- visibility and echo exclusion ----------------------------------------------------------------


def test_visibility_is_own_rows_plus_rows_in_member_spaces(
    server: SyncServer, memberships: Memberships
) -> None:
    ok(
        server.push(
            "alice", "w", "habits", body(insert("a-shared", "sp_family"), insert("a-work", "sp_work"))
        )
    )
    ok(server.push("alice", "w", "habits", body(insert("a-none", space=None))))
    ok(
        server.push(
            "bob", "w", "habits", body(insert("b-shared", "sp_family"), insert("b-private", "sp_bob"))
        )
    )
    memberships.table = {"alice": {"sp_family"}, "bob": {"sp_family", "sp_bob"}}
    assert ids(pull_all(server, user="alice")) == ["a-shared", "a-work", "a-none", "b-shared"]
    assert ids(pull_all(server, user="bob")) == ["a-shared", "b-shared", "b-private"]
    assert ids(pull_all(server, user="carol")) == []
    memberships.fail = True  # fail open for own rows, closed for shared ones
    assert ids(pull_all(server, user="bob")) == ["b-shared", "b-private"]


def test_pull_excludes_rows_of_its_own_client_id(server: SyncServer) -> None:
    ok(server.push("u1", "mana-mcp", "habits", body(insert("mine"))))
    ok(server.push("u1", "", "habits", body(insert("anonymous"))))
    ok(server.push("u1", "browser-1", "habits", body(insert("browser"))))
    assert ids(pull_all(server, client="mana-mcp")) == ["anonymous", "browser"]
    assert ids(pull_all(server, client="mana-mcp-reader")) == ["mine", "anonymous", "browser"]
    assert ids(pull_all(server, client=None)) == ["mine", "browser"]
    assert ids(pull_all(server, client="")) == ["mine", "browser"]


def test_the_header_client_id_wins_over_the_body(server: SyncServer) -> None:
    ok(server.push("u1", "from-header", "habits", body(insert("a"), client_id="from-body")))
    ok(server.push("u1", None, "habits", body(insert("b"), client_id="from-body")))
    ok(server.push("u1", "", "habits", body(insert("c"), client_id="from-body")))
    assert ids(pull_all(server, client="from-header")) == ["b", "c"]
    assert ids(pull_all(server, client="from-body")) == ["a"]


# --- the push delta -------------------------------------------------------------------------------


def test_push_delta_lists_other_clients_changes_of_every_table_of_the_app(
    server: SyncServer, clock: FixedClock
) -> None:
    ok(
        server.push(
            "u1", "browser", "todo", body(insert("t1", table="tasks"), insert("p1", table="projects"))
        )
    )
    ok(server.push("u1", "browser", "notes", body(insert("n1", table="notes"))))
    ok(server.push("u1", "mana-mcp", "todo", body(insert("mine", table="tasks"))))
    clock.advance(10)
    later = format_cursor(parse_since("2026-05-01T09:00:05Z"))
    ok(server.push("u1", "browser", "todo", body(insert("t2", table="tasks"))))
    delta = ok(server.push("u1", "mana-mcp", "todo", body(insert("again", table="tasks"), since=EPOCH)))
    assert ids(delta) == ["t1", "p1", "t2"]
    assert "hasMore" not in delta
    assert delta["conflicts"] == []
    assert delta["syncedUntil"] == "2026-05-01T09:00:10Z"
    assert ids(ok(server.push("u1", "mana-mcp", "todo", body(since=later)))) == ["t2"]
    assert ids(ok(server.push("u1", "mana-mcp", "todo", body(since="not a time")))) == ["t1", "p1", "t2"]


def test_push_delta_is_cut_at_5000_rows_without_has_more(server: SyncServer) -> None:
    ok(server.push("u1", "browser", "habits", body(*(insert(f"h{i}") for i in range(DELTA_LIMIT + 1)))))
    delta = ok(server.push("u1", "mana-mcp", "habits", body(since=EPOCH)))
    assert len(delta["serverChanges"]) == DELTA_LIMIT
    assert delta["serverChanges"][0]["id"] == "h0"
    assert delta["serverChanges"][-1]["id"] == f"h{DELTA_LIMIT - 1}"
    assert "hasMore" not in delta


# --- paging and cursors ---------------------------------------------------------------------------


def test_paging_over_2500_changes(server: SyncServer, clock: FixedClock) -> None:
    # The clock stands still: every created_at would tie without the microsecond step.
    ok(server.push("u1", "w", "habits", body(*(insert(f"h{i}") for i in range(2500)))))
    clock.advance(60)
    pages, since = [], EPOCH
    while True:
        page = pull_all(server, since=since)
        pages.append(page)
        if not page.get("hasMore"):
            break
        assert page["hasMore"] is True
        since = page["syncedUntil"]
    assert [len(p["serverChanges"]) for p in pages] == [PAGE_SIZE, PAGE_SIZE, 500]
    # The cursor of a full page is the created_at of its 1000th row: 09:00 + 999 µs.
    assert pages[0]["syncedUntil"] == "2026-05-01T09:00:00.000999Z"
    assert pages[1]["syncedUntil"] == "2026-05-01T09:00:00.001999Z"
    assert pages[2]["syncedUntil"] == "2026-05-01T09:01:00Z"
    all_ids = [i for p in pages for i in ids(p)]
    assert all_ids == [f"h{i}" for i in range(2500)]
    assert len({c["eventId"] for p in pages for c in p["serverChanges"]}) == 2500


def test_exactly_one_full_page_has_no_has_more(server: SyncServer) -> None:
    ok(server.push("u1", "w", "habits", body(*(insert(f"h{i}") for i in range(PAGE_SIZE)))))
    page = pull_all(server)
    assert len(page["serverChanges"]) == PAGE_SIZE
    assert "hasMore" not in page
    ok(server.push("u1", "w", "habits", body(insert("one-more"))))
    assert pull_all(server)["hasMore"] is True


def test_pull_reads_only_the_requested_app_and_collection(server: SyncServer) -> None:
    ok(server.push("u1", "w", "habits", body(insert("h"), insert("log", table="habitLogs"))))
    ok(server.push("u1", "w", "todo", body(insert("t", table="habits"))))
    assert ids(pull_all(server)) == ["h"]
    assert ids(pull_all(server, collection="habitLogs")) == ["log"]
    assert ids(pull_all(server, app="todo")) == ["t"]


def test_created_at_stays_strictly_increasing_when_the_clock_goes_back(
    server: SyncServer, clock: FixedClock
) -> None:
    ok(server.push("u1", "w", "habits", body(insert("a"))))
    clock.set(datetime(2020, 1, 1, tzinfo=UTC))
    ok(server.push("u1", "w", "habits", body(insert("b"))))
    after_a = "2026-05-01T09:00:00Z"  # a was stored at exactly 09:00; b one microsecond later
    assert ids(pull_all(server, since=after_a)) == ["b"]


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        pytest.param("2026-05-01T09:00:10Z", ["late"], id="z"),
        pytest.param("2026-05-01T11:00:10+02:00", ["late"], id="offset"),
        pytest.param("2026-05-01T11:00:10%2B02:00", ["early", "late"], id="still-encoded"),
        pytest.param("2026-05-01T11:00:10 02:00", ["early", "late"], id="plus-became-space"),
        pytest.param("2026-05-01T09:00:10", ["early", "late"], id="no-zone"),
        pytest.param("2026-05-01 09:00:10Z", ["early", "late"], id="space-for-t"),
        pytest.param("2026-05-01T09:00Z", ["early", "late"], id="no-seconds"),
        pytest.param("2026-02-30T09:00:10Z", ["early", "late"], id="no-such-day"),
        pytest.param("2026-05-01T09:00:19.999999999Z", ["late"], id="nine-digits"),
        pytest.param("2026-05-01T09:00:20.0000001Z", [], id="finer-than-micro"),
        pytest.param("yesterday", ["early", "late"], id="garbage"),
    ],
)
def test_since_parsing_and_the_plus_pitfall(
    server: SyncServer, clock: FixedClock, since: str, expected: list[str]
) -> None:
    ok(server.push("u1", "w", "habits", body(insert("early"))))
    clock.advance(20)
    ok(server.push("u1", "w", "habits", body(insert("late"))))
    assert ids(pull_all(server, since=since)) == expected


def test_format_cursor_trims_trailing_zeros() -> None:
    base = parse_since("2026-05-01T09:40:02Z")
    assert format_cursor(base) == "2026-05-01T09:40:02Z"
    assert format_cursor(base + 551_200) == "2026-05-01T09:40:02.5512Z"
    assert format_cursor(base + 1) == "2026-05-01T09:40:02.000001Z"
    assert parse_since(format_cursor(base + 123_456)) == base + 123_456
    assert parse_since("2026-05-01T09:40:02.9999999Z") == base + 999_999  # truncated, not rounded


# --- the older wire format ------------------------------------------------------------------------


def test_legacy_wire_format_reads_and_emits_updated_at(store: SyncStore, memberships: Memberships) -> None:
    legacy = SyncServer(store, memberships, clock=FixedClock().now, wire_format="legacy")
    fields = {
        "title": {"value": "Walk", "at": "2026-05-01T09:00:00.000Z", "updatedAt": "2026-05-01T09:00:00.000Z"},
        "color": {"value": "#fff", "at": "2026-05-01T09:00:00.000Z"},
    }
    ok(legacy.push("u1", "w", "habits", body(insert("h1"), {**update("h1", fields), "origin": "agent"})))
    first, second = pull_all(legacy)["serverChanges"]
    assert "origin" not in first
    assert "origin" not in second
    assert second["fields"] == {
        "title": {"value": "Walk", "updatedAt": "2026-05-01T09:00:00.000Z"},
        "color": {"value": "#fff", "updatedAt": ""},
    }
    assert (
        legacy.push(
            "u1",
            "w",
            "habits",
            b'{"changes":[{"table":"t","id":"i","op":"update","fields":{"a":{"at":5,"updatedAt":"x"}}}]}',
        ).status
        == 200
    )
    assert (
        legacy.push(
            "u1",
            "w",
            "habits",
            b'{"changes":[{"table":"t","id":"i","op":"update","fields":{"a":{"updatedAt":5}}}]}',
        ).status
        == 400
    )


# --- switches for tests ---------------------------------------------------------------------------


def test_fault_switches(server: SyncServer) -> None:
    server.fail("inactive")
    assert server.pull("u1", "r", "habits", "habits", EPOCH) == SyncResponse(
        402, json=dict(SYNC_INACTIVE_BODY)
    )
    assert server.push("u1", "w", "habits", body(insert("a"))).status == 402
    server.fail("unauthorized", times=1)
    response = server.pull("u1", "r", "habits", "habits", EPOCH)
    assert response.status == 401
    assert response.text is not None
    assert response.text.startswith("unauthorized: ")
    assert server.pull("u1", "r", "habits", "habits", EPOCH).status == 200  # switched itself off
    server.fail("error")
    assert server.push("u1", "w", "habits", body(insert("a"))) == SyncResponse(500, text="internal error\n")
    server.fail("drop")
    with pytest.raises(ConnectionDropped):
        server.pull("u1", "r", "habits", "habits", EPOCH)
    server.fail(None)
    assert pull_all(server)["serverChanges"] == []  # nothing was written while faulted


def test_responses_are_fresh_objects(server: SyncServer) -> None:
    ok(server.push("u1", "w", "habits", body(insert("a", tags=["x"]))))
    first = pull_all(server)
    first["serverChanges"][0]["data"]["tags"].append("mutated")
    assert pull_all(server)["serverChanges"][0]["data"]["tags"] == ["x"]


def test_sqlite_log_survives_a_reopen(tmp_path: Path, memberships: Memberships) -> None:
    path = tmp_path / "log.sqlite3"
    first = SqliteSyncStore(path)
    ok(SyncServer(first, memberships, clock=FixedClock().now).push("u1", "w", "habits", body(insert("a"))))
    first.close()
    second = SqliteSyncStore(path)
    # A clock behind the stored rows still yields a later created_at.
    server = SyncServer(second, memberships, clock=FixedClock(datetime(2020, 1, 1, tzinfo=UTC)).now)
    ok(server.push("u1", "w", "habits", body(insert("b"))))
    assert ids(pull_all(server)) == ["a", "b"]
    assert ids(pull_all(server, since="2026-05-01T09:00:00Z")) == ["b"]
    assert second.count() == 2
    second.close()


def test_memory_store_exposes_its_rows_for_inspection(memberships: Memberships) -> None:
    store = MemorySyncStore()
    server = SyncServer(store, memberships, clock=FixedClock().now)
    ok(server.push("u1", "w", "habits", body(insert("a"))))
    ok(server.push("u1", "w", "todo", body(insert("b", table="tasks"))))
    assert [r.record_id for r in store.rows()] == ["a", "b"]
    assert [r.record_id for r in store.rows("todo")] == ["b"]
    assert len(store) == 2
    assert store.rows()[0].created_at < store.rows()[1].created_at
    assert store.rows()[0].created_at == int(
        (datetime(2026, 5, 1, 9, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1)
    )


def test_concurrent_pushes_from_threads_all_land_in_strict_order(server: SyncServer) -> None:
    def writer(n: int) -> None:
        for i in range(25):
            ok(server.push(f"u{n % 2}", f"w{n}", "habits", body(insert(f"t{n}-{i}"))))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(writer, range(8)))
    stored = server.store.select(
        RowQuery("habits", "habits", -1, "nobody", "u0", frozenset(), limit=1000)
    ) + server.store.select(RowQuery("habits", "habits", -1, "nobody", "u1", frozenset(), limit=1000))
    assert len(stored) == 200
    times = sorted(row.created_at for row in stored)
    assert len(set(times)) == 200
