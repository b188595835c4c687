"""Schema fuzzing of every tool (issue #5), through the whole core on in-memory adapters.

Arguments come from each tool's published JSON Schema (``fuzz.py``): valid ones must succeed, ones
broken in one place must fail with ``input_invalid`` naming that place and write nothing, and
arbitrary JSON must never be an internal error. The same is then checked over HTTP, through the
served gateway and the MCP SDK, with fewer examples.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.integration.security.fuzz import JSON, broken, valid_object

from mana.application.catalog import Catalog
from mana.entrypoints.harness import ALICE, Harness, build_harness

TOOLS = [tool.name for tool in Catalog().published]
NEEDS_ID = {"habits_update": "habits", "habits_archive": "habits", "todo_complete": "tasks"}
SEEDED = 5


class Driver:
    """One harness and one event loop for all examples of a test (records pile up, as in real use)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.harness: Harness = build_harness(rate_limit=0)
        self.schemas = {t.name: dict(t.input_schema) for t in self.harness.catalog.published}
        self.ids: dict[str, list[str]] = {"habits": [], "tasks": []}
        for i in range(SEEDED):
            habit = self.call("habits_create", {"title": f"seed habit {i}"})
            task = self.call("todo_create", {"title": f"seed task {i}"})
            assert habit.structured is not None
            assert task.structured is not None
            self.ids["habits"].append(habit.structured["habit"]["id"])
            self.ids["tasks"].append(task.structured["task"]["id"])

    def call(self, tool: str, arguments: Any) -> Any:
        return self.loop.run_until_complete(self.harness.call(tool, arguments, user=ALICE))

    @property
    def writes(self) -> int:
        return len(self.harness.gateway_pushes())

    def close(self) -> None:
        self.loop.close()


@pytest.fixture
def driver() -> Iterator[Driver]:
    d = Driver()
    yield d
    d.close()


EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
"""Per tool and property; CI runs differ by seed. ``FUZZ_EXAMPLES=2000`` for a deep run."""
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def valid_for(driver: Driver, tool: str, data: st.DataObject) -> dict[str, Any]:
    arguments = dict(data.draw(valid_object(driver.schemas[tool]), label="arguments"))
    if tool in NEEDS_ID:  # an id that exists: "valid" means the call can succeed
        arguments["id"] = data.draw(st.sampled_from(driver.ids[NEEDS_ID[tool]]), label="id")
    if tool == "habits_update" and len(arguments) == 1:  # tools.md §2.3: at least one field to change
        arguments["title"] = data.draw(st.sampled_from(["Walk", "Read", "Ünïcödé 🙂"]), label="title")
    return arguments


@pytest.mark.parametrize("tool", TOOLS)
@FUZZ
@given(data=st.data())
def test_valid_arguments_succeed(driver: Driver, tool: str, data: st.DataObject) -> None:
    arguments = valid_for(driver, tool, data)
    result = driver.call(tool, arguments)
    assert result.is_error is False, (arguments, result.text)
    assert result.structured is not None
    assert json.loads(result.text) == result.structured


@pytest.mark.parametrize("tool", TOOLS)
@FUZZ
@given(data=st.data())
def test_arguments_broken_in_one_place_name_that_place(
    driver: Driver, tool: str, data: st.DataObject
) -> None:
    case = data.draw(broken(driver.schemas[tool]), label="broken")
    if tool in NEEDS_ID and isinstance(case.arguments.get("id"), str) and case.pointer != "/id":
        case.arguments["id"] = driver.ids[NEEDS_ID[tool]][0]
    writes = driver.writes
    result = driver.call(tool, case.arguments)
    assert result.is_error is True, (case, result.text)
    assert result.error_code == "input_invalid", (case, result.text)
    assert result.text.startswith(f"Invalid arguments for {tool}: "), result.text
    assert f"{case.pointer}: " in result.text, (case, result.text)
    assert driver.writes == writes  # nothing written


@pytest.mark.parametrize("tool", TOOLS)
@FUZZ
@given(arguments=JSON | st.dictionaries(st.sampled_from(["id", "title", "limit", "query", "content"]), JSON))
def test_arbitrary_json_is_never_an_internal_error(driver: Driver, tool: str, arguments: Any) -> None:
    result = driver.call(tool, arguments)
    assert result.error_code in (None, "input_invalid", "not_found"), (arguments, result.text)
    outcomes = {call["outcome"] for call in driver.harness.observer.finished}
    assert "internal_error" not in outcomes
