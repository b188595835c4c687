"""Hypothesis strategies for values valid under our (small) subset of JSON Schema 2020-12.

hypothesis-jsonschema would be the obvious choice, but its 0.23 release breaks on current
hypothesis internals; the subset our tool schemas use is small enough to generate directly from
the published JSON (not from our own nodes, so the generator stays independent of the validator).
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import strategies as st

ECMA_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
"""ECMA-262 WhiteSpace and LineTerminator, written out here on its own (not taken from the
gateway), so that this stays an independent oracle."""


def ecma_regex(pattern: str) -> re.Pattern[str]:
    """A JSON Schema pattern with its ECMA-262 meaning under Python's ``re``: ``\\d`` is ASCII,
    ``\\s`` JavaScript's whitespace set, ``$`` the very end."""
    python = (
        pattern.replace("\\d", "[0-9]").replace("\\S", f"[^{ECMA_SPACE}]").replace("\\s", f"[{ECMA_SPACE}]")
    )
    return re.compile(python[:-1] + "\\Z" if python.endswith("$") else python)


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "anyOf" in schema:
        return st.one_of([from_schema(option) for option in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        low = schema.get("minimum")
        if "exclusiveMinimum" in schema:
            low = schema["exclusiveMinimum"] + 1
        return st.integers(min_value=low, max_value=schema.get("maximum", 10**9))
    if kind == "string":
        return _strings(schema)
    if kind == "array":
        return st.lists(from_schema(schema["items"]), max_size=4)
    if kind == "object":
        return _objects(schema)
    raise ValueError(f"unsupported schema {schema!r}")


def _strings(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    low = schema.get("minLength", 0)
    high = min(schema.get("maxLength", 60), low + 60)
    pattern = schema.get("pattern")
    if pattern is None:
        return st.text(min_size=low, max_size=high)
    compiled = ecma_regex(pattern)
    ecma = compiled.pattern
    if pattern == "\\S":
        return st.text(min_size=low, max_size=high).filter(lambda s: compiled.search(s) is not None)
    return st.from_regex(ecma, fullmatch=True).filter(
        lambda s: low <= len(s) <= schema.get("maxLength", 10**9)
    )


def _objects(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    return st.fixed_dictionaries(
        {name: from_schema(properties[name]) for name in properties if name in required},
        optional={name: from_schema(sub) for name, sub in properties.items() if name not in required},
    )
