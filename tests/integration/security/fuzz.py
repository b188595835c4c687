"""Hypothesis strategies read off a tool's *published* JSON Schema: valid arguments, arguments
broken in exactly one place (so the error must name that place), and arbitrary JSON.

They read the wire schema, never the gateway's schema nodes, so a validator that disagrees with
what it publishes is caught. Valid strings also obey the three rules tools.md §1.4 adds to the
schema (no NUL, no lone surrogate, real calendar dates); ``habits.update`` needs one field besides
``id`` (tools.md §2.3). Property names that are valid for the schema are the only ones generated as
"valid": ids are filled in by the caller from records that exist.
"""

from __future__ import annotations

import string
from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
from hypothesis import strategies as st

DATE_PATTERN = "^\\d{4}-\\d{2}-\\d{2}$"
DATE_TIME_PATTERN = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$"
COLOR_PATTERN = "^#[0-9a-fA-F]{6}$"
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
NON_SPACE = "\\S"
ECMA_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"  # noqa: E501
"""ECMA-262 WhiteSpace and LineTerminator: what ``\\S`` excludes in a JSON Schema pattern."""

TEXT = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
"""Any Unicode scalar value but NUL (tools.md §1.4 rejects NUL; lone surrogates are not text)."""

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
"""Arbitrary JSON values (lone surrogates and NUL included in strings)."""


def _bounded_text(low: int, high: int, non_space: bool) -> st.SearchStrategy[str]:
    if not non_space:
        return st.text(TEXT, min_size=low, max_size=high)
    # At least one unambiguous non-space character, wherever it lands.
    return (
        st.tuples(
            st.text(TEXT, max_size=max(0, high - 1) // 2),
            st.sampled_from(string.ascii_letters + string.digits + "äß漢🙂"),
            st.text(TEXT, max_size=max(0, high - 1) // 2),
        )
        .map("".join)
        .filter(lambda s: low <= len(s) <= high)
    )


def _date_time_text(moment: datetime, offset_minutes: int, seconds: int) -> str:
    """A date-time in one of the accepted spellings: minutes only, seconds, or 1-9 fraction digits."""
    local = moment + timedelta(minutes=offset_minutes)
    text = local.strftime("%Y-%m-%dT%H:%M")
    if seconds >= 0:
        text += f":{local.second:02d}"
        if seconds > 0:
            text += "." + f"{local.microsecond:06d}{seconds:03d}"[: 1 + seconds % 9]
    if offset_minutes == 0 and seconds % 2 == 0:
        return text + "Z"
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


DATES = st.dates(date(1900, 1, 1), date(2100, 12, 31)).map(date.isoformat)
DATE_TIMES = st.builds(
    _date_time_text,
    st.datetimes(datetime(1900, 1, 2), datetime(2100, 12, 30)).map(lambda d: d.replace(tzinfo=UTC)),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
    st.integers(-1, 9),
)


def valid(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values the schema (plus the tools.md text and calendar rules) accepts."""
    if "anyOf" in schema:
        return st.one_of([valid(option) for option in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        low = schema.get("minimum", schema.get("exclusiveMinimum", -(2**53)) + 1)
        return st.integers(low, schema.get("maximum", 2**53))
    if kind == "array":
        return st.lists(valid(schema["items"]), max_size=5)
    if kind == "object":
        return valid_object(schema)
    assert kind == "string", schema
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    pattern = schema.get("pattern")
    if pattern == DATE_PATTERN:
        return DATES
    if pattern == DATE_TIME_PATTERN:
        return DATE_TIMES
    if pattern == COLOR_PATTERN:
        return st.from_regex(r"#[0-9a-fA-F]{6}", fullmatch=True)
    if pattern == UUID_PATTERN:
        return st.uuids().map(str).map(lambda u: u.upper() if len(u) % 2 else u)
    assert pattern in (None, NON_SPACE), pattern
    low = schema.get("minLength", 0)
    high = min(schema.get("maxLength", 200), low + 200)
    text = _bounded_text(low, high, pattern == NON_SPACE)
    if "maxLength" not in schema:
        return text
    longest = "é" * (schema["maxLength"] - 1) + "🙂"  # exactly at the limit, counted in code points
    return text | st.just(longest)


def valid_object(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    return st.fixed_dictionaries(
        {name: valid(properties[name]) for name in properties if name in required},
        optional={name: valid(sub) for name, sub in properties.items() if name not in required},
    )


@attrs.frozen
class Broken:
    """Arguments broken at ``pointer`` (the error must name it) by ``how``."""

    arguments: Any
    pointer: str
    how: str


BAD_BY_PATTERN: dict[str, list[str]] = {
    DATE_PATTERN: [
        "2026-02-30", "2025-02-29", "2026-13-01", "2026-00-10", "0000-01-01", "٢٠٢٦-٠١-٠١", "2026-1-1",
        "01.05.2026", "2026-05-01\n",
    ],
    DATE_TIME_PATTERN: [
        "2026-05-01T25:00Z", "2026-05-01T10:60Z", "2026-05-01T10:00:61Z", "2026-05-01T10:00",
        "2026-05-01T10:00+24:00", "2026-05-01T10:00+01:60", "9999-12-31T23:59-01:00", "2026-05-01 10:00Z",
    ],
    COLOR_PATTERN: ["red", "#12345", "#1234567", "#GGGGGG", "#abcdef\n"],
    UUID_PATTERN: [
        "not-a-uuid", "0b0e7a2e4c714c539a620d3b6f2f9c11", "0b0e7a2e-4c71-4c53-9a62-0d3b6f2f9c1",
        "0b0e7a2e-4c71-4c53-9a62-0d3b6f2f9c11\n", "{0b0e7a2e-4c71-4c53-9a62-0d3b6f2f9c11}",
    ],
}  # fmt: skip
"""Strings that look close to right but are not: impossible days and times, an offset of 24 hours,
a year 9999 date-time that leaves the calendar in UTC, other scripts' digits, trailing newlines."""


def invalid_values(schema: dict[str, Any]) -> st.SearchStrategy[tuple[Any, str]]:
    """(a value the schema rejects, why) for one property schema."""
    options: list[st.SearchStrategy[tuple[Any, str]]] = []
    kinds = {option.get("type") for option in schema.get("anyOf", [schema])}
    wrong_types = {
        "string": st.text(max_size=5),
        "integer": st.integers(-5, 5),
        "boolean": st.booleans(),
        "null": st.none(),
        "array": st.lists(st.integers(), max_size=2),
        "object": st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        "number": st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    }
    for kind, strategy in wrong_types.items():
        if kind not in kinds:
            options.append(strategy.map(lambda v, k=kind: (v, f"a {k} instead")))
    for option in schema.get("anyOf", [schema]):
        options.extend(_invalid_of_type(option))
    return st.one_of(options)


def _invalid_of_type(schema: dict[str, Any]) -> list[st.SearchStrategy[tuple[Any, str]]]:
    kind = schema.get("type")
    out: list[st.SearchStrategy[tuple[Any, str]]] = []
    if kind == "integer":
        if "minimum" in schema:
            out.append(st.integers(-(2**40), schema["minimum"] - 1).map(lambda v: (v, "below minimum")))
        if "exclusiveMinimum" in schema:
            out.append(
                st.integers(-(2**40), schema["exclusiveMinimum"]).map(lambda v: (v, "not above minimum"))
            )
        if "maximum" in schema:
            out.append(st.integers(schema["maximum"] + 1, 2**40).map(lambda v: (v, "above maximum")))
        out.append(st.sampled_from([1.5, -0.25, 1e-300, 12345.678]).map(lambda v: (v, "a fraction")))
    if kind == "array":
        out.append(
            st.lists(st.integers(), min_size=1, max_size=3).map(lambda v: (v, "items of the wrong type"))
        )
    if kind != "string":
        return out
    out.append(st.sampled_from(["a\x00b", "\x00"]).map(lambda v: (v, "a NUL character")))
    out.append(st.sampled_from(["a\ud800b", "\udfff"]).map(lambda v: (v, "a lone surrogate")))
    if "enum" in schema:
        out.append(
            st.text(max_size=10).filter(lambda v: v not in schema["enum"]).map(lambda v: (v, "not in enum"))
        )
    if schema.get("maxLength", 10**6) < 10**5:
        high = schema["maxLength"]
        out.append(st.integers(high + 1, high + 50).map(lambda n: ("y" * n, "too long")))
    if schema.get("minLength", 0) > 0:
        out.append(st.just(("", "too short")))
    pattern = schema.get("pattern")
    if pattern == NON_SPACE:
        out.append(
            st.text(st.sampled_from(ECMA_WHITESPACE), min_size=1, max_size=8).map(lambda v: (v, "blank"))
        )
    for known, bad in BAD_BY_PATTERN.items():
        if pattern == known:
            out.append(st.sampled_from(bad).map(lambda v: (v, "does not match the pattern")))
    return out


@st.composite
def broken(draw: st.DrawFn, schema: dict[str, Any]) -> Broken:
    """Valid arguments with exactly one defect: a property replaced by an invalid value, an
    unknown property added, or a required one removed."""
    arguments = dict(draw(valid_object(schema)))
    properties: dict[str, Any] = schema["properties"]
    required = list(schema.get("required", ()))
    moves = ["unknown"] + (["value"] if properties else []) + (["missing"] if required else [])
    move = draw(st.sampled_from(moves))
    if move == "unknown":
        name = draw(
            st.text(st.characters(categories=("L", "N")), min_size=1, max_size=12).filter(
                lambda n: n not in properties
            )
        )
        arguments[name] = draw(JSON)
        return Broken(arguments, f"/{name}", "unknown property")
    if move == "missing":
        name = draw(st.sampled_from(required))
        del arguments[name]
        return Broken(arguments, f"/{name}", "missing")
    name = draw(st.sampled_from(sorted(properties)))
    value, how = draw(invalid_values(properties[name]))
    arguments[name] = value
    pointer = f"/{name}"
    if how == "items of the wrong type":
        pointer += "/0"
    return Broken(arguments, pointer, how)
