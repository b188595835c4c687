"""Text rules shared by the tools: word counts, client names, due dates and calendar checks.

Each rule copies what the web app does, so that records written over MCP read the same there.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta

from mana.domain.timestamps import format_instant

JS_WHITESPACE_CLASS = "\u0009-\u000d\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
"""JavaScript's ``\\s`` (ECMA-262 WhiteSpace + LineTerminator) as the inside of a regex character
class. Python's ``\\s`` and str.split() differ: they also take U+001C-U+001F and U+0085, and not
U+FEFF. The web app's word count splits on it, and JSON Schema patterns mean it."""
_JS_WHITESPACE = re.compile(f"[{JS_WHITESPACE_CLASS}]+")

CLIENT_NAME_MAX = 60
"""Longest client name kept in an actor's display name (tools.md §3.3)."""
DEFAULT_CLIENT_NAME = "Agent"

# [0-9], never \d: Python's \d also matches other scripts' digits, and int() accepts them.
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?"
    r"(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))"
)


def word_count(text: str) -> int:
    """Non-empty pieces of ``text`` split on runs of JavaScript whitespace (tools.md §2.11)."""
    return sum(1 for piece in _JS_WHITESPACE.split(text) if piece)


def clean_client_name(name: object) -> str | None:
    """An MCP client name fit for a display name, or None when nothing is left (tools.md §3.3).

    Whitespace (tabs and line breaks included) collapses to single spaces before other control
    characters and lone surrogates are removed, so ``"Claude\\tCode"`` stays two words. Lone
    surrogates go too because they cannot be encoded into the push body. Names of ordinary length
    are cached: a gateway sees a handful of client names, and every tool call (and its audit
    line) asks; a long one (a client may send anything) is cleaned each time, never kept.
    """
    if not isinstance(name, str):
        return None
    if len(name) <= _CACHED_NAME_MAX:
        return _cached_clean(name)
    return _clean(name)


_CACHED_NAME_MAX = 256


def _clean(name: str) -> str | None:
    kept = []
    for ch in name:
        if ch.isspace():
            kept.append(" ")
        elif unicodedata.category(ch) not in ("Cc", "Cs"):
            kept.append(ch)
    cleaned = " ".join("".join(kept).split())
    cleaned = cleaned[:CLIENT_NAME_MAX].rstrip()
    return cleaned or None


_cached_clean = functools.lru_cache(maxsize=1024)(_clean)


def actor_display_name(client_name: object) -> str:
    """``"<name> via MCP"`` for the change's actor, ``"Agent via MCP"`` without a usable name (D2)."""
    return f"{clean_client_name(client_name) or DEFAULT_CLIENT_NAME} via MCP"


def valid_calendar_date(text: str) -> bool:
    """True for ``YYYY-MM-DD`` naming a real day (``2026-02-30`` is not one)."""
    return _calendar_date(text) is not None


def parse_due_date(text: str) -> str:
    """A ``dueDate`` argument in the stored form (D14, tools.md §2.6); ValueError when not a real date.

    ``YYYY-MM-DD`` is that day at midnight UTC, as the web app's date picker stores it. A date-time
    with ``Z`` or an offset is converted to UTC and truncated to milliseconds; missing seconds are 00.
    """
    day = _calendar_date(text)
    if day is not None:
        return f"{day.isoformat()}T00:00:00.000Z"
    m = _DATE_TIME.fullmatch(text)
    if m is None:
        raise ValueError("not a date YYYY-MM-DD or a date-time with offset")
    year, month, mday, hour, minute, second, frac, zulu, sign, off_h, off_m = m.groups()
    micros = int((frac or "0")[:6].ljust(6, "0"))
    # datetime() rejects day 30 of February, hour 25, second 60 and the like with ValueError.
    local = datetime(
        int(year), int(month), int(mday), int(hour), int(minute), int(second or 0), micros, tzinfo=UTC
    )
    if not zulu:
        if int(off_h) > 23 or int(off_m) > 59:
            raise ValueError("offset out of range")
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        try:
            local = local - offset if sign == "+" else local + offset
        except OverflowError:
            raise ValueError("date out of range") from None
    return format_instant(local)


def _calendar_date(text: str) -> date | None:
    m = _DATE.fullmatch(text)
    if m is None:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
