"""Pull pages parse with orjson, and exactly as the standard library does where orjson refuses."""

from __future__ import annotations

import json

from mana.adapters.sync_http import _parse_page


def page(*changes: str) -> bytes:
    return ('{"serverChanges":[' + ",".join(changes) + '],"syncedUntil":"2026-03-01T10:00:00Z"}').encode()


INSERT = (
    '{"eventId":"e1","table":"habits","id":"h1","op":"insert","schemaVersion":1,'
    '"data":{"id":"h1","title":"%s","createdAt":"2026-03-01T09:00:00.000Z"}}'
)


def test_a_plain_page_parses_to_the_changes_the_standard_library_sees() -> None:
    parsed = _parse_page(page(INSERT % "Walk"), "habits")
    assert [c.data for c in parsed.changes] == [json.loads(INSERT % "Walk")["data"]]
    assert (parsed.synced_until, parsed.has_more) == ("2026-03-01T10:00:00Z", False)


def test_what_orjson_refuses_is_still_read_as_before() -> None:
    lone_surrogate = INSERT % "\\ud800 half a pair"  # a web app bug, stored as written
    not_a_number = INSERT.replace('"schemaVersion":1', '"schemaVersion":NaN') % "x"
    huge = INSERT.replace('"schemaVersion":1', '"schemaVersion":1,"big":123456789012345678901234567890') % "y"
    parsed = _parse_page(
        page(lone_surrogate, not_a_number.replace("e1", "e2"), huge.replace("e1", "e3")), "habits"
    )
    assert parsed.changes[0].data is not None
    assert parsed.changes[0].data["title"] == "\ud800 half a pair"
    assert parsed.changes[1].schema_version is None  # NaN is a number for the web app, but no version
    assert len(parsed.changes) == 3
