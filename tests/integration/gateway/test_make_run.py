"""``make run`` as a newcomer uses it: ``mana-mcp serve`` in a subprocess on a free port, then the
printed Claude Code entry, pasted into a scripted SDK client, creates and lists records."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mana.entrypoints.http.audit import user_hash

_SCRIPT = Path(sys.executable).with_name("mana-mcp")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "mana.entrypoints.cli"]
"""What ``make run`` starts (``$(BIN)/mana-mcp serve``), or the same entry point through Python."""
BANNER_END = "Stop with Ctrl-C."
REPO = Path(__file__).resolve().parents[3]
LAUNCHERS = {
    "mana-mcp serve": [*COMMAND, "serve"],
    # The README's own command. The venv is already set up when tests run, so make only starts it.
    "make run": ["make", "--no-print-directory", "-s", "-C", str(REPO), "run"],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MANA_", "JWT_", "CORS_"))}
    env.pop("PORT", None)
    env.pop("HOST", None)
    env.update(values, PYTHONUNBUFFERED="1")
    return env


def pasted_entry(banner: str) -> dict[str, Any]:
    """The ``.mcp.json`` block of the banner, exactly as a user would copy it."""
    lines = banner.splitlines()
    start = lines.index("{")
    end = lines.index("}", start)
    return json.loads("\n".join(lines[start : end + 1]))["mcpServers"]["mana"]  # type: ignore[no-any-return]


async def read_banner(stream: asyncio.StreamReader) -> str:
    seen: list[str] = []
    while True:
        line = (await stream.readline()).decode()
        if not line:
            raise AssertionError("serve exited before printing its banner:\n" + "".join(seen))
        seen.append(line)
        if line.strip() == BANNER_END:
            return "".join(seen)


@pytest.mark.parametrize("launcher", list(LAUNCHERS))
async def test_serve_prints_a_working_claude_code_entry(tmp_path: Path, launcher: str) -> None:
    port = free_port()
    env = clean_env(PORT=str(port), MANA_DATA_DIR=str(tmp_path / "mana"))
    logs = (tmp_path / "stdout.jsonl").open("wb")
    process = await asyncio.create_subprocess_exec(
        *LAUNCHERS[launcher],
        env=env,
        cwd=tmp_path,
        stdout=logs,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # so the signal reaches make's child too
    )
    try:
        assert process.stderr is not None
        banner = await asyncio.wait_for(read_banner(process.stderr), 30)
        entry = pasted_entry(banner)
        assert entry["type"] == "http"
        assert entry["url"] == f"http://localhost:{port}/mcp"
        command = next(
            line.strip() for line in banner.splitlines() if line.strip().startswith("claude mcp add")
        )
        assert command.startswith(
            f"claude mcp add --transport http mana http://localhost:{port}/mcp --header "
        )
        token = await asyncio.create_subprocess_exec(
            *COMMAND, "token", "--user", "dev", "--json", env=env, stdout=asyncio.subprocess.PIPE
        )
        issued = json.loads((await token.communicate())[0])
        assert await token.wait() == 0
        assert issued["space"] == entry["headers"]["X-Mana-Space"]
        assert issued["url"] == entry["url"]

        async with httpx2.AsyncClient(headers=entry["headers"], timeout=10) as http:
            for mode in ("legacy", "auto"):
                async with Client(
                    streamable_http_client(entry["url"], http_client=http), mode=mode
                ) as client:  # type: ignore[arg-type]
                    created = await client.call_tool("todo_create", {"title": f"Try Mana ({mode})"})
                    assert created.is_error is False
                    habit = await client.call_tool("habits_create", {"title": f"Water ({mode})"})
                    assert habit.is_error is False
                    tasks = (await client.call_tool("todo_list", {})).structured_content
                    habits = (await client.call_tool("habits_list", {})).structured_content
        assert tasks is not None
        assert habits is not None
        assert [t["title"] for t in tasks["tasks"]] == ["Try Mana (legacy)", "Try Mana (auto)"]
        assert [h["title"] for h in habits["habits"]] == ["Water (legacy)", "Water (auto)"]
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGTERM)
        status = await asyncio.wait_for(process.wait(), 15)
        logs.close()
    if launcher == "mana-mcp serve":
        assert status == 0  # make itself reports the signal it got; the gateway's own log says "stopped"
    log_text = (tmp_path / "stdout.jsonl").read_text()
    events = [json.loads(line) for line in log_text.splitlines()]
    assert events[0]["event"] == "starting"
    assert events[0]["mode"] == "local"
    assert events[0]["bind"] == f"127.0.0.1:{port}"
    assert events[-1]["event"] == "stopped"
    calls = [e for e in events if e["event"] == "tool_call"]
    assert len(calls) == 8
    assert {c["tool"] for c in calls} == {"todo.create", "todo.list", "habits.create", "habits.list"}
    assert all(c["outcome"] == "success" and c["user"] == user_hash(issued["user"]) for c in calls)
    assert all(c["request_id"] and c["space"] == issued["space"] and "sub" not in c for c in calls)
    assert len({c["client"] for c in calls}) == 1  # the SDK client's own clientInfo.name, in both eras
    assert all(isinstance(c["client"], str) and c["client"] for c in calls)
    assert issued["user"] not in log_text  # only its hash
    assert [len(c["session"] or "") for c in calls] == [8] * 4 + [0] * 4  # legacy session, then sessionless
    assert entry["headers"]["Authorization"].split()[1] not in log_text
    assert issued["token"] not in log_text


async def test_a_taken_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = clean_env(PORT=str(port), MANA_DATA_DIR=str(tmp_path / "mana"))
        process = await asyncio.create_subprocess_exec(
            *COMMAND,
            "serve",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), 30)
    lines = [line for line in err.decode().splitlines() if line.startswith("mana-mcp:")]
    assert process.returncode == 1
    assert lines == [f"mana-mcp: cannot listen on 127.0.0.1:{port}: Address already in use"]
    assert "Traceback" not in err.decode()


async def test_a_bad_setting_stops_serve_with_status_2(tmp_path: Path) -> None:
    env = clean_env(PORT="70000", MANA_DATA_DIR=str(tmp_path / "mana"))
    process = await asyncio.create_subprocess_exec(
        *COMMAND, "serve", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert err.decode() == "mana-mcp: PORT must be an integer 1-65535 (got '70000')\n"
    assert out == b""
    assert not (tmp_path / "mana").exists()
