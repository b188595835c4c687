"""The mana-sync change log over HTTP against the stand-in: envelope, paging, echo, every fault."""

from __future__ import annotations

import json
import logging

import attrs
import httpx
import pytest

from mana.adapters.incremental_reader import IncrementalReader
from mana.adapters.memory import SystemClock
from mana.adapters.standins.fake_mana_auth import FakeManaAuth
from mana.adapters.standins.fake_mana_sync import FakeManaSync
from mana.adapters.standins.serve import serve
from mana.adapters.sync_http import HttpChangeLog
from mana.application.errors import SyncInactive, SyncReadFailed, SyncUnauthorized, SyncWriteFailed
from mana.application.ports import Caller
from mana.application.reading import FullReplayReader
from mana.domain.changes import change_to_wire
from mana.domain.timestamps import EPOCH_CURSOR

from .conftest import FAST_RETRIES, RecordingObserver
from .support import browser_insert, browser_push, insert, now_text, titles, update

pytestmark = pytest.mark.integration


@pytest.fixture
def alice(auth: FakeManaAuth) -> Caller:
    auth.add_space("sp_family", "Family", type="family", members=[("u_alice", "owner"), ("u_bob", "member")])
    return Caller("u_alice", auth.mint("u_alice"))


# --- push ------------------------------------------------------------------------------------------


async def test_a_push_sends_exactly_the_documented_envelope(change_log, sync, alice):
    change = insert("3f2c8a8e-6a4b-4b7e-9a51-2f0d5c1e7b90", "Walk")
    since = now_text()
    await change_log.push(alice, "habits", change, since)
    (request,) = sync.requests_of("push")
    assert (request.outcome, request.stored) == ("200", 1)
    assert request.headers["authorization"] == f"Bearer {alice.token}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-client-id"] == "mana-mcp"
    assert json.loads(request.body) == {
        "clientId": "mana-mcp",
        "since": since,
        "schemaVersion": 1,
        "changes": [change_to_wire(change)],
    }
    (row,) = sync.store.rows()
    assert (row.client_id, row.user_id, row.space_id, row.origin) == (
        "mana-mcp",
        "u_alice",
        "sp_family",
        "agent",
    )
    assert json.loads(row.actor) == {
        "kind": "system",
        "principalId": "system:mcp",
        "displayName": "Test via MCP",
    }


async def test_an_update_carries_the_same_time_under_at_and_updated_at(change_log, sync, alice):
    at = "2026-05-01T09:00:00.000Z"
    await change_log.push(alice, "habits", update("h1", title="Evening walk", targetPerDay=None, at=at), at)
    sent = json.loads(sync.requests_of("push")[0].body)["changes"][0]["fields"]
    assert sent == {
        "title": {"value": "Evening walk", "at": at, "updatedAt": at},
        "targetPerDay": {"value": None, "at": at, "updatedAt": at},
    }


# --- pull and paging -----------------------------------------------------------------------------


async def test_a_full_read_pages_through_2500_changes(change_log, sync, alice, observer):
    for start in range(0, 2500, 500):
        browser_push(
            sync, "u_bob", [browser_insert(f"h{i:04d}", f"habit {i}") for i in range(start, start + 500)]
        )
    state = await FullReplayReader(change_log).read(alice, "habits", "habits")
    assert len(state.records) == 2500
    assert titles(state)["h2499"] == "habit 2499"
    pulls = sync.requests_of("pull")
    assert len(pulls) == 3
    assert pulls[0].since == EPOCH_CURSOR
    # each later page starts at the previous page's syncedUntil, verbatim
    assert all(p.since != EPOCH_CURSOR for p in pulls[1:])
    assert observer.labels[("sync_pull", "200")] == 3


async def test_a_pull_sends_the_reader_id_and_url_encodes_the_cursor(change_log, sync, alice):
    await change_log.pull(alice, "habits", "habits", "2026-05-01T11:00:00.5+02:00")
    (request,) = sync.requests_of("pull")
    assert request.since == "2026-05-01T11:00:00.5+02:00"  # the + survived as a +
    assert request.collection == "habits"
    assert request.client_id == "mana-mcp-reader"


async def test_own_pushes_are_visible_to_the_next_read(change_log, sync, alice, raw_http, sync_url):
    reader = IncrementalReader(change_log, clock=SystemClock())
    assert titles(await reader.read(alice, "habits", "habits")) == {}
    await change_log.push(alice, "habits", insert("h1", "Walk"), now_text())
    assert titles(await reader.read(alice, "habits", "habits")) == {"h1": "Walk"}
    await change_log.push(alice, "habits", update("h1", title="Evening walk"), now_text())
    assert titles(await reader.read(alice, "habits", "habits")) == {"h1": "Evening walk"}
    # Why the reader id differs: a pull with the writer's id never sees the gateway's own rows.
    echo = await raw_http.get(
        f"{sync_url}/sync/habits/pull",
        params={"collection": "habits", "since": EPOCH_CURSOR},
        headers={"Authorization": f"Bearer {alice.token}", "X-Client-Id": "mana-mcp"},
    )
    assert echo.json()["serverChanges"] == []


async def test_the_older_wire_format_is_written_and_read(auth, alice, client):
    legacy = FakeManaSync(auth.jwks, auth.memberships, wire_format="legacy")
    async with serve(legacy.app) as url:
        log = HttpChangeLog(client, url, RecordingObserver(), **FAST_RETRIES)
        await log.push(alice, "habits", insert("h1", "Walk", at="2026-05-01T08:00:00.000Z"), now_text())
        await log.push(
            alice, "habits", update("h1", title="Evening walk", at="2026-05-01T09:00:00.000Z"), now_text()
        )
        await log.push(
            alice, "habits", update("h1", title="Stale", at="2026-05-01T08:30:00.000Z"), now_text()
        )
        page = await log.pull(alice, "habits", "habits", EPOCH_CURSOR)
        state = await FullReplayReader(log).read(alice, "habits", "habits")
    emitted = [c.fields["title"] for c in page.changes if c.fields]
    assert all(fc.at is None and fc.updated_at for fc in emitted)  # the server spoke updatedAt only
    assert titles(state) == {"h1": "Evening walk"}
    assert state.records["h1"].updated_at == "2026-05-01T09:00:00.000Z"


# --- faults ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "error"), [(401, SyncUnauthorized), (402, SyncInactive)])
async def test_401_and_402_map_to_their_own_errors_for_reads_and_writes(
    change_log, sync, alice, status, error
):
    sync.fail(status, times=2)
    with pytest.raises(error):
        await change_log.pull(alice, "habits", "habits", EPOCH_CURSOR)
    with pytest.raises(error):
        await change_log.push(alice, "habits", insert("h1", "Walk"), now_text())
    assert sync.rows_stored == 0
    assert len(sync.requests) == 2  # never retried


async def test_the_402_body_is_the_exact_one_of_mana_sync(raw_http, sync, sync_url, alice):
    sync.inactive_users.add("u_alice")
    answer = await raw_http.get(
        f"{sync_url}/sync/habits/pull",
        params={"collection": "habits", "since": EPOCH_CURSOR},
        headers={"Authorization": f"Bearer {alice.token}"},
    )
    assert answer.status_code == 402
    assert answer.json() == {
        "error": "sync_inactive",
        "message": "Cloud Sync ist nicht aktiv. Aktiviere Sync in den Einstellungen.",
    }


async def test_an_inactive_account_fails_with_sync_inactive_and_nothing_is_stored(change_log, sync, alice):
    sync.inactive_users.add("u_alice")
    with pytest.raises(SyncInactive):
        await change_log.push(alice, "habits", insert("h1", "Walk"), now_text())
    assert sync.rows_stored == 0


async def test_a_token_mana_sync_rejects_is_upstream_unauthorized(change_log, sync, auth):
    expired = Caller("u_alice", auth.mint("u_alice", variant="expired"))
    with pytest.raises(SyncUnauthorized):
        await change_log.pull(expired, "habits", "habits", EPOCH_CURSOR)
    assert sync.requests[0].outcome == "401"
    # mana-sync checks neither aud nor iss
    other_audience = Caller("u_alice", auth.mint("u_alice", variant="wrong_aud"))
    await change_log.pull(other_audience, "habits", "habits", EPOCH_CURSOR)


async def test_a_400_is_logged_with_the_servers_message_and_reported_as_not_written(
    change_log, sync, alice, caplog
):
    caplog.set_level(logging.ERROR, logger="mana.adapters.sync_http")
    broken = attrs.evolve(insert("h1", "Walk"), table="")  # a gateway bug the server refuses
    with pytest.raises(SyncWriteFailed) as raised:
        await change_log.push(alice, "habits", broken, now_text())
    assert (raised.value.reason, raised.value.maybe_written) == ("HTTP 400", False)
    assert sync.rows_stored == 0
    assert len(sync.requests_of("push")) == 1  # never retried
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "HTTP 400" in record.getMessage()
    assert "missing table or id in change 0" in record.getMessage()
    assert alice.token not in caplog.text
    assert "Walk" not in caplog.text  # never the request body


async def test_a_400_on_pull_is_a_read_failure(change_log, sync, alice):
    with pytest.raises(SyncReadFailed) as raised:
        await change_log.pull(alice, "habits", "", EPOCH_CURSOR)
    assert raised.value.reason == "HTTP 400"


async def test_a_500_on_push_is_not_retried_and_nothing_is_written(change_log, sync, alice):
    sync.fail(500)
    with pytest.raises(SyncWriteFailed) as raised:
        await change_log.push(alice, "habits", insert("h1", "Walk"), now_text())
    assert (raised.value.reason, raised.value.maybe_written) == ("HTTP 500", False)
    assert len(sync.requests_of("push")) == 1
    assert sync.rows_stored == 0


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_a_gateway_error_on_push_is_retried_once_byte_identical(change_log, sync, alice, status):
    sync.fail(status)
    await change_log.push(alice, "habits", insert("h1", "Walk"), now_text())
    first, second = sync.requests_of("push")
    assert (first.outcome, second.outcome) == (str(status), "200")
    assert first.body == second.body
    assert sync.rows_stored == 1


async def test_a_push_failing_twice_reports_the_status_and_nothing_written(change_log, sync, alice, observer):
    sync.fail(503, times=2)
    with pytest.raises(SyncWriteFailed) as raised:
        await change_log.push(alice, "habits", insert("h1", "Walk"), now_text())
    assert (raised.value.reason, raised.value.maybe_written) == ("HTTP 503", False)
    assert [r.stored for r in sync.requests_of("push")] == [0, 0]
    assert observer.labels[("sync_push", "503")] == 2


async def test_a_connection_dropped_before_storing_is_retried(change_log, sync, alice, observer):
    sync.fail("drop", op="push")
    await change_log.push(alice, "habits", insert("h1", "Walk"), now_text())
    assert [r.outcome for r in sync.requests_of("push")] == ["dropped", "200"]
    assert sync.rows_stored == 1
    assert observer.labels[("sync_push", "error")] == 1


async def test_a_change_stored_but_unconfirmed_then_retried_is_stored_twice_harmlessly(
    change_log, sync, alice
):
    sync.fail("drop_after_store", op="push")
    await change_log.push(alice, "habits", insert("h1", "Walk"), now_text())
    assert [r.stored for r in sync.requests_of("push")] == [1, 1]
    state = await FullReplayReader(change_log).read(alice, "habits", "habits")
    assert titles(state) == {"h1": "Walk"}


async def test_unconfirmed_twice_may_have_been_written_and_says_so(change_log, sync, alice):
    sync.fail("drop_after_store", op="push", times=2)
    with pytest.raises(SyncWriteFailed) as raised:
        await change_log.push(alice, "habits", insert("h1", "Walk"), now_text())
    assert (raised.value.reason, raised.value.maybe_written) == ("connection failed", True)
    assert sync.rows_stored == 2  # it was written: claiming "nothing written" would have been a lie


async def test_an_unconfirmed_attempt_followed_by_a_refusal_still_may_have_been_written(
    change_log, sync, alice
):
    sync.fail("drop_after_store", op="push")
    sync.fail(503, op="push")
    with pytest.raises(SyncWriteFailed) as raised:
        await change_log.push(alice, "habits", insert("h1", "Walk"), now_text())
    assert raised.value.maybe_written is True
    assert sync.rows_stored == 1


async def test_a_null_field_change_kills_the_request_without_an_http_response(
    raw_http, sync_url, sync, alice
):
    body = {"changes": [{"table": "habits", "id": "h1", "op": "update", "fields": {"title": None}}]}
    with pytest.raises(httpx.RemoteProtocolError):
        await raw_http.post(
            f"{sync_url}/sync/habits",
            json=body,
            headers={"Authorization": f"Bearer {alice.token}", "X-Client-Id": "mana-mcp"},
        )
    assert sync.requests_of("push")[0].outcome == "dropped"


async def test_a_push_timing_out_after_sending_may_have_been_written(client, sync, sync_url, alice, observer):
    log = HttpChangeLog(client, sync_url, observer, total_timeout_s=0.3, **FAST_RETRIES)
    sync.set_latency(0.6, op="push", after_store=True)
    with pytest.raises(SyncWriteFailed) as raised:
        await log.push(alice, "habits", insert("h1", "Walk"), now_text())
    assert (raised.value.reason, raised.value.maybe_written) == ("timeout", True)
    assert observer.labels[("sync_push", "timeout")] == 2
    assert sync.rows_stored == 2  # stored, but the answers came too late: "nothing written" would be a lie


async def test_a_push_timing_out_before_storing_is_still_reported_as_maybe_written(
    client, sync, sync_url, alice, observer
):
    log = HttpChangeLog(client, sync_url, observer, total_timeout_s=0.2, **FAST_RETRIES)
    sync.set_latency(0.5, op="push")
    with pytest.raises(SyncWriteFailed) as raised:
        await log.push(alice, "habits", insert("h1", "Walk"), now_text())
    # The gateway cannot tell this case from the one above: the request was sent.
    assert raised.value.maybe_written is True


async def test_a_refused_connection_means_nothing_was_written(client, closed_url, alice, observer):
    log = HttpChangeLog(client, closed_url, observer, **FAST_RETRIES)
    with pytest.raises(SyncWriteFailed) as raised:
        await log.push(alice, "habits", insert("h1", "Walk"), now_text())
    assert (raised.value.reason, raised.value.maybe_written) == ("connection failed", False)
    with pytest.raises(SyncReadFailed) as read:
        await log.pull(alice, "habits", "habits", EPOCH_CURSOR)
    assert read.value.reason == "connection failed"
    assert observer.labels[("sync_push", "error")] == 2
    assert observer.labels[("sync_pull", "error")] == 3


@pytest.mark.parametrize("fault", [502, 503, 504, "drop"])
async def test_a_pull_is_retried_up_to_twice(change_log, sync, alice, fault):
    browser_push(sync, "u_bob", [browser_insert("h1", "Walk")])
    sync.fail(fault, op="pull", times=2)
    page = await change_log.pull(alice, "habits", "habits", EPOCH_CURSOR)
    assert [c.record_id for c in page.changes] == ["h1"]
    assert len(sync.requests_of("pull")) == 3


async def test_a_pull_failing_three_times_reports_the_last_reason(change_log, sync, alice):
    sync.fail(503, op="pull", times=3)
    with pytest.raises(SyncReadFailed) as raised:
        await change_log.pull(alice, "habits", "habits", EPOCH_CURSOR)
    assert raised.value.reason == "HTTP 503"
    assert raised.value.collection == "habits"


async def test_a_500_or_404_on_pull_is_not_retried(change_log, client, sync_url, sync, alice):
    sync.fail(500, op="pull")
    with pytest.raises(SyncReadFailed) as raised:
        await change_log.pull(alice, "habits", "habits", EPOCH_CURSOR)
    assert raised.value.reason == "HTTP 500"
    assert len(sync.requests_of("pull")) == 1
    misconfigured = HttpChangeLog(client, sync_url + "/wrong-prefix", RecordingObserver(), **FAST_RETRIES)
    with pytest.raises(SyncReadFailed) as wrong:
        await misconfigured.pull(alice, "habits", "habits", EPOCH_CURSOR)
    assert wrong.value.reason == "HTTP 404"


async def test_a_pull_timing_out_is_retried_and_then_fails_with_timeout(
    client, sync, sync_url, alice, observer
):
    log = HttpChangeLog(client, sync_url, observer, total_timeout_s=0.2, **FAST_RETRIES)
    sync.set_latency(0.5, op="pull")
    with pytest.raises(SyncReadFailed) as raised:
        await log.pull(alice, "habits", "habits", EPOCH_CURSOR)
    assert raised.value.reason == "timeout"
    assert observer.labels[("sync_pull", "timeout")] == 3


@pytest.mark.parametrize("fault", ["invalid_json", "wrong_shape"])
async def test_an_answer_that_is_not_a_pull_page_is_an_invalid_response(change_log, sync, alice, fault):
    sync.fail(fault, op="pull")
    with pytest.raises(SyncReadFailed) as raised:
        await change_log.pull(alice, "habits", "habits", EPOCH_CURSOR)
    assert raised.value.reason == "invalid response"


async def test_invalid_changes_are_counted_and_skipped(change_log, sync, alice):
    browser_push(sync, "u_bob", [browser_insert("h1", "Walk")])
    answer = sync.server.push(
        "u_bob",
        "browser-1",
        "habits",
        json.dumps(
            {
                "changes": [
                    {"table": "habits", "id": "h2", "op": "insert", "spaceId": "sp_family", "actor": None}
                ]
            }
        ).encode(),
    )
    assert answer.status == 200
    page = await change_log.pull(alice, "habits", "habits", EPOCH_CURSOR)
    assert [c.record_id for c in page.changes] == ["h1"]
    assert len(page.invalid_event_ids) == 1


async def test_the_drop_switch_closes_the_socket_without_any_response(raw_http, sync_url, sync, alice):
    sync.fail("drop", op="pull")
    with pytest.raises(httpx.RemoteProtocolError):
        await raw_http.get(
            f"{sync_url}/sync/habits/pull",
            params={"collection": "habits", "since": EPOCH_CURSOR},
            headers={"Authorization": f"Bearer {alice.token}"},
        )
    # the server keeps serving afterwards
    answer = await raw_http.get(f"{sync_url}/health")
    assert answer.json()["service"] == "mana-sync"
