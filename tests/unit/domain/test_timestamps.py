"""Times of the change log: tolerant parsing on read, one written form (mana-sync.md §7)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mana.domain.timestamps import (
    EPOCH_CURSOR,
    format_instant,
    format_micros,
    instant_to_datetime,
    normalise_timestamp,
    parse_instant,
    truncate_to_ms,
)

FIRST = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
LAST = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
NINE_AM = 1_777_626_000_000_000  # 2026-05-01T09:00:00Z in microseconds


def micros(dt: datetime) -> int:
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# An independent reading of §7's accepted forms, for the property tests below.
_REFERENCE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def reference_parse(value: str) -> int | None:
    m = _REFERENCE.fullmatch(value)
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    offset = 0
    if zone not in ("Z", "z"):
        oh, om = int(zone[1:3]), int(zone[4:6])
        if oh > 23 or om > 59:
            return None
        offset = (oh * 60 + om) * (1 if zone[0] == "+" else -1)
    try:
        local = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), tzinfo=UTC)
    except ValueError:
        return None
    result = micros(local) - offset * 60_000_000 + int((frac or "0")[:6].ljust(6, "0"))
    if not FIRST <= result <= LAST:
        return None
    return result


# --- parse_instant: accepted forms -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-01T09:00:00.000Z", NINE_AM),
        ("2026-05-01T09:00Z", NINE_AM),
        ("2026-05-01T09:00:00Z", NINE_AM),
        ("2026-05-01T09:00:00.5Z", NINE_AM + 500_000),
        ("2026-05-01T09:00:00.123456Z", NINE_AM + 123_456),
        ("2026-05-01T09:00:00.123456789Z", NINE_AM + 123_456),  # beyond microseconds: truncated
        ("2026-05-01T09:00:00.999999999Z", NINE_AM + 999_999),
        ("2026-05-01t09:00:00z", NINE_AM),
        ("2026-05-01T11:00:00+02:00", NINE_AM),
        ("2026-05-01T11:00+02:00", NINE_AM),
        ("2026-05-01T03:30:00.000-05:30", NINE_AM),
        ("2026-05-01T09:00:00-00:00", NINE_AM),
        ("2026-05-02T08:59:00+23:59", NINE_AM),
        ("2026-04-30T09:01:00-23:59", NINE_AM),
        ("1970-01-01T00:00:00.000Z", 0),
        ("1969-12-31T23:59:59.999Z", -1000),
        ("0001-01-01T00:00:00Z", FIRST),
        ("9999-12-31T23:59:59.999999Z", LAST),
        ("2024-02-29T12:00:00Z", micros(datetime(2024, 2, 29, 12, tzinfo=UTC))),
    ],
)
def test_parse_instant_accepts(text: str, expected: int) -> None:
    assert parse_instant(text) == expected


def test_the_plus_two_hours_example_is_older_than_nine_utc() -> None:
    # mana-sync.md §10.5 #4: as strings "10:30" sorts after "09:00"; as instants it is 08:30Z.
    later_as_string = "2026-05-01T10:30:00+02:00"
    nine = "2026-05-01T09:00:00.000Z"
    assert later_as_string > nine
    assert parse_instant(later_as_string) == NINE_AM - 30 * 60_000_000
    assert parse_instant(later_as_string) < parse_instant(nine)  # type: ignore[operator]


def test_epoch_cursor_is_the_epoch_and_the_bounds_are_right() -> None:
    assert parse_instant(EPOCH_CURSOR) == 0
    assert micros(datetime(1, 1, 1, tzinfo=UTC)) == FIRST
    assert micros(datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)) == LAST


# --- parse_instant: rejections ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        42,
        1.5,
        True,
        ["2026-05-01T09:00:00Z"],
        "2026-05-01",  # a bare date is no instant (normalise_timestamp accepts it, the replay does not)
        "2026-05-01T09:00:00",  # no zone
        "2026-05-01T09:00:00.000",
        "2026-05-01 09:00:00Z",  # space instead of T
        "2026-05-01T09Z",
        "2026-05-01T09:00:00.Z",
        "2026-05-01T09:00:00.1234567890Z",  # ten fraction digits
        "2026-05-01T09:00:00,5Z",
        "2026-05-01T09:00:00+0200",
        "2026-05-01T09:00:00+02",
        "2026-05-01T09:00:00 02:00",  # an unencoded + turned into a space
        "2026-05-01T09:00:00+24:00",
        "2026-05-01T09:00:00+02:60",
        "2026-05-01T24:00:00Z",
        "2026-05-01T24:00:00.000Z",
        "2026-05-01T09:60:00Z",
        "2026-05-01T09:00:60Z",
        "2026-05-01T09:00:60.000Z",
        "2026-02-30T09:00:00Z",
        "2026-02-30T09:00:00.000Z",
        "2026-13-01T09:00:00.000Z",
        "0000-01-01T00:00:00.000Z",
        "2026-05-01T09:00:00.000Z\n",
        " 2026-05-01T09:00:00.000Z",
        "2026-05-01T09:00:00.000ZZ",
        "٢٠٢٦-05-01T09:00:00Z",  # Arabic-Indic digits: \d would match them
        "٢٠٢٦-٠٥-٠١T٠٩:٠٠:٠٠.٠٠٠Z",
        "+2026-05-01T09:00:00Z",
        "9999-12-31T23:59:00-01:00",  # year 10000 in UTC
        "0001-01-01T00:30:00+01:00",  # year 0 in UTC
    ],
)
def test_parse_instant_rejects(value: object) -> None:
    assert parse_instant(value) is None


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
    st.sampled_from(["minutes", "seconds", "milliseconds", "microseconds"]),
    st.booleans(),
)
def test_every_accepted_rendering_of_an_instant_parses_to_it(
    local: datetime, offset_minutes: int, precision: str, lower: bool
) -> None:
    tz = timezone(timedelta(minutes=offset_minutes))
    aware = local.replace(tzinfo=tz)
    text = aware.isoformat(timespec=precision)
    if offset_minutes == 0 and lower:
        text = text[: -len("+00:00")] + "z"
    if lower:
        text = text.replace("T", "t")
    expected = micros(aware.astimezone(UTC))
    if precision == "minutes":
        expected -= aware.second * 1_000_000 + aware.microsecond
    elif precision == "seconds":
        expected -= aware.microsecond
    elif precision == "milliseconds":
        expected -= aware.microsecond % 1000
    assert parse_instant(text) == expected


_WRITTEN_FORM_ALPHABET = "0123456789-T:.Z+ tz٣"


@given(
    st.builds(
        lambda base, edits: _edit(base, edits),
        st.sampled_from(["2026-05-01T09:00:00.000Z", "1999-12-31T23:59:59.999Z", "2024-02-29T00:00:00.000Z"]),
        st.lists(st.tuples(st.integers(0, 23), st.sampled_from(_WRITTEN_FORM_ALPHABET)), max_size=3),
    )
)
def test_fast_path_agrees_with_the_general_reading(text: str) -> None:
    # 24-character strings shaped like the written form take the fast path; one character off
    # must make them exactly as (in)valid as the general rule says.
    assert parse_instant(text) == reference_parse(text)


def _edit(base: str, edits: list[tuple[int, str]]) -> str:
    chars = list(base)
    for index, ch in edits:
        chars[index] = ch
    return "".join(chars)


@given(st.text(alphabet=_WRITTEN_FORM_ALPHABET, max_size=32))
def test_parse_instant_agrees_with_the_reference_on_arbitrary_text(text: str) -> None:
    assert parse_instant(text) == reference_parse(text)


# --- the written form ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dt", "text"),
    [
        (datetime(2026, 5, 1, 9, tzinfo=UTC), "2026-05-01T09:00:00.000Z"),
        (datetime(2026, 4, 23, 10, 15, 42, 123_999, tzinfo=UTC), "2026-04-23T10:15:42.123Z"),
        (datetime(2026, 5, 1, 11, tzinfo=timezone(timedelta(hours=2))), "2026-05-01T09:00:00.000Z"),
        (datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), "2025-12-31T23:30:00.000Z"),
        (datetime(999, 1, 1, tzinfo=UTC), "0999-01-01T00:00:00.000Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000Z"),
    ],
)
def test_format_instant(dt: datetime, text: str) -> None:
    assert format_instant(dt) == text


def test_format_instant_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_instant(datetime(2026, 5, 1, 9))


@given(st.datetimes(timezones=st.just(UTC)))
def test_format_instant_is_the_fixed_24_character_form(dt: datetime) -> None:
    text = format_instant(dt)
    assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z", text)
    assert parse_instant(text) == micros(truncate_to_ms(dt))


def test_truncate_to_ms_never_rounds() -> None:
    dt = datetime(2026, 5, 1, 9, 0, 0, 999_999, tzinfo=UTC)
    assert truncate_to_ms(dt) == datetime(2026, 5, 1, 9, 0, 0, 999_000, tzinfo=UTC)


@given(st.integers(min_value=FIRST, max_value=LAST))
def test_format_micros_round_trips_to_milliseconds(instant: int) -> None:
    assert instant_to_datetime(instant) == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=instant)
    assert parse_instant(format_micros(instant)) == instant - instant % 1000


# --- normalise_timestamp: the output form of stored times ------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-05-01T09:00:00.000Z", "2026-05-01T09:00:00.000Z"),
        ("2026-05-01T11:00:00+02:00", "2026-05-01T09:00:00.000Z"),
        ("2026-05-01T09:00Z", "2026-05-01T09:00:00.000Z"),
        ("2026-05-01T09:00:00.123456789z", "2026-05-01T09:00:00.123Z"),
        ("2026-05-01", "2026-05-01T00:00:00.000Z"),
        ("0999-01-01", "0999-01-01T00:00:00.000Z"),
        ("2026-02-30", None),
        ("2026-5-1", None),
        ("2026-05-01T09:00:00", None),
        ("yesterday", None),
        ("", None),
        (None, None),
        (1_777_626_000_000, None),  # epoch milliseconds are not a stored form
    ],
)
def test_normalise_timestamp(value: object, expected: str | None) -> None:
    assert normalise_timestamp(value) == expected
