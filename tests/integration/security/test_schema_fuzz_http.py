"""Schema fuzzing over HTTP: the served gateway, the MCP SDK's JSON-RPC layer and the core together.

The gateway runs on its own event loop in a thread, so hypothesis can drive it with a plain
blocking client, example after example. Bodies are encoded with ``ensure_ascii`` so that lone
surrogates travel as ``\\ud800`` escapes, exactly as a hostile client could send them.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.integration.gateway.support import ALICE_HOME, MODERN_META, RunningGateway, gateway, rpc
from tests.integration.security.fuzz import JSON, broken, valid_object
from tests.integration.security.test_schema_fuzz import EXAMPLES, NEEDS_ID, SEEDED, TOOLS

from mana.application.catalog import Catalog


class ThreadedGateway:
    """The test profile's gateway served from a background thread's event loop."""

    def __init__(self, tmp_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="gateway", daemon=True)
        self.thread.start()
        self._served = gateway(tmp_path, {"MANA_RATE_LIMIT": "0"})
        self.gw: RunningGateway = self._run(self._served.__aenter__())
        self.http = httpx.Client(base_url=self.gw.base_url, timeout=10.0)
        self.writes = lambda: len(self.gw.container.adapters.store())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def call(self, tool: str, arguments: Any) -> dict[str, Any]:
        """A 2026-07-28 ``tools/call``; returns the JSON-RPC response object."""
        params = {"name": tool, "arguments": arguments, "_meta": MODERN_META}
        headers = self.gw.headers(
            space=ALICE_HOME,
            **{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": tool},
        )
        headers["Content-Type"] = "application/json"
        body = json.dumps(rpc("tools/call", params), ensure_ascii=True).encode()
        response = self.http.post("/mcp", content=body, headers=headers)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def close(self) -> None:
        self.http.close()
        self._run(self._served.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ThreadedGateway, dict[str, list[str]]]]:
    threaded = ThreadedGateway(tmp_path_factory.mktemp("fuzz-http"))
    ids: dict[str, list[str]] = {"habits": [], "tasks": []}
    for i in range(SEEDED):
        habit = threaded.call("habits_create", {"title": f"seed {i}"})["result"]["structuredContent"]
        task = threaded.call("todo_create", {"title": f"seed {i}"})["result"]["structuredContent"]
        ids["habits"].append(habit["habit"]["id"])
        ids["tasks"].append(task["task"]["id"])
    yield threaded, ids
    threaded.close()


SCHEMAS = {t.name: dict(t.input_schema) for t in Catalog().published}
OVER_HTTP = settings(
    max_examples=max(1, EXAMPLES // 4),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("tool", TOOLS)
@OVER_HTTP
@given(data=st.data())
def test_valid_arguments_succeed_over_http(
    served: tuple[ThreadedGateway, dict[str, list[str]]], tool: str, data: st.DataObject
) -> None:
    threaded, ids = served
    arguments = dict(data.draw(valid_object(SCHEMAS[tool]), label="arguments"))
    if tool in NEEDS_ID:
        arguments["id"] = data.draw(st.sampled_from(ids[NEEDS_ID[tool]]), label="id")
    if tool == "habits_update" and len(arguments) == 1:
        arguments["icon"] = "leaf"
    result = threaded.call(tool, arguments)["result"]
    assert result["isError"] is False, (arguments, result)
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]


@pytest.mark.parametrize("tool", TOOLS)
@OVER_HTTP
@given(data=st.data())
def test_broken_arguments_name_the_field_over_http(
    served: tuple[ThreadedGateway, dict[str, list[str]]], tool: str, data: st.DataObject
) -> None:
    threaded, _ = served
    case = data.draw(broken(SCHEMAS[tool]), label="broken")
    writes = threaded.writes()
    result = threaded.call(tool, case.arguments)["result"]
    assert result["isError"] is True, (case, result)
    assert result["_meta"]["mana/error"] == "input_invalid"
    text = result["content"][0]["text"]
    assert f"{case.pointer}: " in text, (case, text)
    assert "structuredContent" not in result
    assert threaded.writes() == writes


@pytest.mark.parametrize("tool", TOOLS)
@OVER_HTTP
@given(arguments=st.dictionaries(st.text(max_size=8), JSON, max_size=4))
def test_arbitrary_arguments_over_http_are_never_internal(
    served: tuple[ThreadedGateway, dict[str, list[str]]], tool: str, arguments: dict[str, Any]
) -> None:
    threaded, _ = served
    answer = threaded.call(tool, arguments)
    result = answer.get("result")
    assert result is not None, answer  # never a JSON-RPC error for a known tool
    if result["isError"]:
        assert result["_meta"]["mana/error"] in ("input_invalid", "not_found"), result
