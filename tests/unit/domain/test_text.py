"""Text rules: JavaScript's \\s word count, client names, due dates and calendar dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mana.domain.text import (
    actor_display_name,
    clean_client_name,
    parse_due_date,
    valid_calendar_date,
    word_count,
)

# ECMA-262 WhiteSpace and LineTerminator code points, written out from the standard (tools.md §2.11).
JS_WHITESPACE = frozenset(
    [chr(c) for c in range(0x09, 0x0E)]
    + [" ", "\u00a0", "\u1680"]
    + [chr(c) for c in range(0x2000, 0x200B)]
    + ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff"]
)


def reference_word_count(text: str) -> int:
    count, in_word = 0, False
    for ch in text:
        if ch in JS_WHITESPACE:
            in_word = False
        elif not in_word:
            count, in_word = count + 1, True
    return count


# --- word_count ------------------------------------------------------------------------------


def test_word_count_spec_example() -> None:
    assert word_count("Heute  war\tein guter Tag\n") == 5


@pytest.mark.parametrize(("text", "expected"), [("", 0), ("   \n\t", 0), ("eins", 1), (" a b ", 2)])
def test_word_count_edges(text: str, expected: int) -> None:
    assert word_count(text) == expected


@pytest.mark.parametrize("ch", sorted(JS_WHITESPACE))
def test_every_javascript_whitespace_character_separates_words(ch: str) -> None:
    assert word_count(f"a{ch}b") == 2


@pytest.mark.parametrize("ch", ["\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u200b", "\u180e"])
def test_characters_outside_javascript_whitespace_do_not_separate(ch: str) -> None:
    # Python's str.split() splits on U+001C-U+001F and U+0085; JavaScript's \s does not.
    assert word_count(f"a{ch}b") == 1


def test_byte_order_mark_separates_unlike_python_split() -> None:
    assert word_count("a\ufeffb") == 2
    assert "\ufeff".isspace() is False  # so str.split() would see one word


@given(st.text(alphabet=st.sampled_from([*sorted(JS_WHITESPACE), "a", "ß", "\x1c", "\x85", "😀"])))
def test_word_count_matches_a_character_by_character_count(text: str) -> None:
    assert word_count(text) == reference_word_count(text)


# --- client names and the actor --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Claude Code", "Claude Code"),
        ("  claude-code  ", "claude-code"),
        ("Claude\t\tCode\n", "Claude Code"),
        ("Cursor\u00a0\u2003IDE", "Cursor IDE"),
        ("Evil\x00Bot\x07\x1b[31m", "EvilBot[31m"),
        ("a\u0085b", "a b"),  # NEL is whitespace: it separates rather than joins
        ("x\ud800y", "xy"),  # a lone surrogate cannot be encoded into the push body
        ("del\x7fete\x9b", "delete"),
        ("", None),
        ("   \t\n", None),
        ("\x00\x01\x02", None),
        (None, None),
        (42, None),
    ],
)
def test_clean_client_name(raw: object, expected: str | None) -> None:
    assert clean_client_name(raw) == expected


def test_clean_client_name_cuts_to_60_characters_and_trims_the_cut() -> None:
    assert clean_client_name("x" * 100) == "x" * 60
    assert clean_client_name("y" * 59 + " tail") == "y" * 59
    assert clean_client_name("é" * 61) == "é" * 60  # code points, not bytes
    assert clean_client_name("  " + "z" * 60 + "  ") == "z" * 60


@given(st.text())
def test_clean_client_name_output_is_clean_and_stable(raw: str) -> None:
    cleaned = clean_client_name(raw)
    if cleaned is None:
        return
    assert 0 < len(cleaned) <= 60
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned
    assert all(ch == " " or not ch.isspace() for ch in cleaned)
    assert all(ord(ch) >= 0x20 and not 0x7F <= ord(ch) <= 0x9F for ch in cleaned)
    cleaned.encode("utf-8")
    assert clean_client_name(cleaned) == cleaned


@pytest.mark.parametrize(
    ("client_name", "display"),
    [
        ("Claude Code", "Claude Code via MCP"),
        ("  claude-code\n", "claude-code via MCP"),
        (None, "Agent via MCP"),
        ("", "Agent via MCP"),
        ("\x00\t ", "Agent via MCP"),
    ],
)
def test_actor_display_name(client_name: str | None, display: str) -> None:
    assert actor_display_name(client_name) == display


# --- due dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("2026-05-01", "2026-05-01T00:00:00.000Z"),
        ("2024-02-29", "2024-02-29T00:00:00.000Z"),
        ("2026-05-01T09:00:00.000Z", "2026-05-01T09:00:00.000Z"),
        ("2026-05-01T09:00Z", "2026-05-01T09:00:00.000Z"),
        ("2026-05-01T10:30:00+02:00", "2026-05-01T08:30:00.000Z"),
        ("2026-05-01T10:30+02:00", "2026-05-01T08:30:00.000Z"),
        ("2026-05-01T01:00:00-05:30", "2026-05-01T06:30:00.000Z"),
        ("2026-05-01T00:30:00+01:00", "2026-04-30T23:30:00.000Z"),
        ("2026-12-31T23:30:00-01:00", "2027-01-01T00:30:00.000Z"),
        ("2026-05-01T09:00:00.5Z", "2026-05-01T09:00:00.500Z"),
        ("2026-05-01T09:00:00.123456789Z", "2026-05-01T09:00:00.123Z"),
        ("2026-05-01T09:00:00.9999Z", "2026-05-01T09:00:00.999Z"),  # truncated, never rounded
        ("2026-05-01T09:00:00-00:00", "2026-05-01T09:00:00.000Z"),
        ("2026-05-01T23:59:59.999+23:59", "2026-05-01T00:00:59.999Z"),
    ],
)
def test_parse_due_date(text: str, stored: str) -> None:
    assert parse_due_date(text) == stored


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-30",
        "2026-02-29",
        "2026-13-01",
        "2026-00-10",
        "0000-01-01",
        "2026-05-01T25:00Z",
        "2026-05-01T24:00Z",
        "2026-05-01T12:60Z",
        "2026-05-01T12:00:60Z",
        "2026-02-30T10:00Z",
        "2026-05-01T10:00+24:00",
        "2026-05-01T10:00+02:60",
        "2026-05-01T10:00",  # no zone
        "2026-05-01 10:00Z",
        "2026-05-01t10:00Z",
        "2026-05-01T10:00z",
        "2026-05-01T10:00+0200",
        "2026-05-01T10:00:00.1234567890Z",
        "2026-05-01\n",  # Python's $ would accept the newline; a date must not
        "٢٠٢٦-05-01",  # other scripts' digits match \d and int() accepts them
        "2026-05-01T10:00:00.000Z\n",
        "9999-12-31T23:00:00-05:00",  # year 10000 in UTC
        "0001-01-01T00:00:00+01:00",  # year 0 in UTC
        "",
        "tomorrow",
    ],
)
def test_parse_due_date_rejects(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is not part of the contract
        parse_due_date(text)


@given(
    st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9998, 12, 30)),
    st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
    st.sampled_from(["minutes", "seconds", "milliseconds", "microseconds"]),
)
def test_parse_due_date_converts_any_offset_to_utc_milliseconds(
    local: datetime, offset_minutes: int, precision: str
) -> None:
    if precision == "minutes":
        local = local.replace(second=0, microsecond=0)
    elif precision == "seconds":
        local = local.replace(microsecond=0)
    tz = timezone(timedelta(minutes=offset_minutes))
    aware = local.replace(tzinfo=tz)
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text = aware.replace(tzinfo=None).isoformat(timespec=precision) + f"{sign}{hours:02d}:{minutes:02d}"
    utc = aware.astimezone(UTC)
    expected = utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{utc.microsecond // 1000:03d}Z"
    assert parse_due_date(text) == expected


# --- calendar dates --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("2026-04-23", True),
        ("2024-02-29", True),
        ("2000-02-29", True),
        ("1900-02-29", False),
        ("2026-02-29", False),
        ("2026-04-31", False),
        ("2026-4-23", False),
        ("2026-04-23T00:00Z", False),
        ("2026-04-23\n", False),
        ("٢٠٢٦-04-23", False),
        ("", False),
    ],
)
def test_valid_calendar_date(text: str, valid: bool) -> None:
    assert valid_calendar_date(text) is valid


@given(st.dates())
def test_every_real_date_is_valid_and_stored_at_midnight(day: date) -> None:
    text = f"{day.year:04d}-{day.month:02d}-{day.day:02d}"
    assert valid_calendar_date(text)
    assert parse_due_date(text) == f"{text}T00:00:00.000Z"
