"""Our validator and a standard JSON Schema 2020-12 validator (with ECMA-262 ``pattern`` semantics)
agree on the published schemas.

The validator is derived from the same nodes as the schema; this checks the derivation. The only
rules we add beyond the schema are the ones tools.md §1.4 names: no NUL characters, no lone
surrogates, real calendar dates.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, ValidationError, validators

from mana.application.catalog import Catalog
from mana.application.schema import ArgumentError

from .schema_strategy import ecma_regex, from_schema


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and ecma_regex(pattern).search(instance) is None:
        yield ValidationError(f"does not match {pattern!r}")


EcmaValidator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})
"""python-jsonschema evaluates ``pattern`` with Python's ``re``; JSON Schema means ECMA-262."""

CATALOG = Catalog()
TOOLS = [spec for spec in CATALOG.exposed.values()]
EXTRA_RULES = ("must not contain NUL characters", "must be valid Unicode text", "is not a valid date")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 600)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=6,
)


def _failures(spec: Any, arguments: Any) -> tuple[tuple[str, str], ...]:
    try:
        spec.input_model.parse(arguments)
    except ArgumentError as error:
        return error.details
    return ()


def _object_for(spec: Any) -> st.SearchStrategy[dict[str, Any]]:
    names = list(spec.input_model.schema["properties"])
    keys = st.sampled_from(names) | st.text(max_size=8) if names else st.text(max_size=8)
    return st.dictionaries(keys, json_values, max_size=5)


@pytest.mark.parametrize("spec", TOOLS, ids=lambda s: s.name)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_inputs_valid_under_the_published_schema_are_accepted(spec: Any, data: st.DataObject) -> None:
    arguments = data.draw(from_schema(spec.input_model.schema))
    failures = _failures(spec, arguments)
    assert all(rule in EXTRA_RULES for _, rule in failures), failures


@pytest.mark.parametrize("spec", TOOLS, ids=lambda s: s.name)
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_what_we_accept_the_schema_accepts_and_what_it_rejects_we_reject(
    spec: Any, data: st.DataObject
) -> None:
    arguments = data.draw(_object_for(spec))
    schema_ok = EcmaValidator(spec.input_model.schema).is_valid(arguments)
    try:
        spec.input_model.parse(arguments)
        ours_ok = True
    except ArgumentError as error:
        ours_ok = False
        for pointer, rule in error.details:
            assert pointer.startswith("/")
            assert rule
    if ours_ok:
        assert schema_ok, arguments
    elif schema_ok:
        with pytest.raises(ArgumentError) as caught:
            spec.input_model.parse(arguments)
        assert all(rule in EXTRA_RULES for _, rule in caught.value.details)
