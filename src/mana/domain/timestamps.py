"""Time values of the change log: one written form, tolerant parsing on read.

Everything the gateway writes is UTC ``YYYY-MM-DDTHH:MM:SS.mmmZ`` because the web app compares
these strings lexicographically. Everything it reads is parsed into an instant, because older
writers used other precisions and offsets (mana-sync.md §7).

Instants are integers: microseconds since the Unix epoch, UTC. ``None`` is the "unknown" time,
earlier than every real time.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, timedelta

EPOCH_CURSOR = "1970-01-01T00:00:00.000Z"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# YYYY-MM-DDTHH:MM, optional :SS, optional fraction of 1-9 digits, then Z/z or ±HH:MM; T may be lowercase.
# [0-9], never \d: Python's \d also matches the digits of other scripts, and int() accepts them.
_READ_FORM = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))\Z"
)
_DATE_ONLY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")

Instant = int
"""Microseconds since 1970-01-01T00:00:00Z."""


def format_instant(dt: datetime) -> str:
    """The one written form: UTC, exactly three fraction digits, capital Z."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: every written time must be timezone-aware")
    utc = dt.astimezone(UTC)
    # Built by hand: strftime's %Y does not pad years before 1000 to four digits on glibc.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
        f".{utc.microsecond // 1000:03d}Z"
    )


def truncate_to_ms(dt: datetime) -> datetime:
    """The precision of every written time (JavaScript's ``toISOString``)."""
    return dt.replace(microsecond=(dt.microsecond // 1000) * 1000)


def parse_instant(value: object) -> Instant | None:
    """Parse a time read from the log; anything unparseable is the unknown time (None)."""
    if not isinstance(value, str):
        return None
    # Fast path for the written form, which is nearly every value in a real log.
    if (
        len(value) == 24
        and value[23] == "Z"
        and value[10] == "T"
        and value[19] == "."
        and value[4] == value[7] == "-"
        and value[13] == value[16] == ":"
    ):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            return None
        return _to_micros(dt)
    m = _READ_FORM.match(value)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = m.groups()
    micros = int((frac or "0")[:6].ljust(6, "0"))
    try:
        dt = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micros, tzinfo=UTC
        )
    except ValueError:
        return None
    if not zulu:
        oh, om = int(off_h), int(off_m)
        if oh > 23 or om > 59:
            return None
        offset = timedelta(hours=oh, minutes=om)
        try:
            dt = dt - offset if sign == "+" else dt + offset
        except OverflowError:
            return None  # the UTC instant falls outside years 1-9999: no output form exists for it
    return _to_micros(dt)


def _to_micros(dt: datetime) -> Instant:
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def instant_to_datetime(instant: Instant) -> datetime:
    return _EPOCH + timedelta(microseconds=instant)


@functools.lru_cache(maxsize=8192)
def format_micros(instant: Instant) -> str:
    """An instant in the written form (sub-millisecond digits are truncated).

    Cached: every list formats each returned record's times again, and they rarely change.
    """
    return format_instant(instant_to_datetime(instant))


def normalise_timestamp(value: object) -> str | None:
    """A stored timestamp in the output form: ISO 8601 date-times and bare dates; else None."""
    if not isinstance(value, str):
        return None
    if len(value) <= 40:
        return _normalise_cached(value)
    return _normalise(value)


def _normalise(value: str) -> str | None:
    instant = parse_instant(value)
    if instant is not None:
        return format_micros(instant)
    m = _DATE_ONLY.match(value)
    if m is None:
        return None
    try:
        day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    return f"{day.isoformat()}T00:00:00.000Z"


_normalise_cached = functools.lru_cache(maxsize=8192)(_normalise)
"""Lists normalise every returned record's stored times on every call; short strings only."""
