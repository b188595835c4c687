"""Legacy sessions under concurrency, straight into the app's ASGI callable (no server between):
two GET streams opened at once, a DELETE while a request is being answered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mana.entrypoints.config import load_settings
from mana.entrypoints.container import Container, build_container

from .support import ALICE, ALICE_HOME, USERS, initialize, rpc
from .test_legacy_sessions import asgi


class App:
    def __init__(self, container: Container) -> None:
        self.container = container
        self.app = container.app()
        token = container.adapters.issuer().issue(ALICE, 60)
        self.base = [(b"host", b"localhost"), (b"authorization", f"Bearer {token}".encode())]
        self.post = [*self.base, (b"x-mana-space", ALICE_HOME.encode()), (b"accept", b"application/json"),
                     (b"content-type", b"application/json")]  # fmt: skip

    async def open(self) -> bytes:
        opened = await asgi(self.app, "POST", self.post, json.dumps(initialize()).encode())
        return dict(opened[0]["headers"])[b"mcp-session-id"]


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    container = build_container(load_settings({"MANA_DATA_DIR": str(tmp_path / "data")}), "test")
    container.adapters.directory().set(ALICE, USERS[ALICE])
    container.adapters.vault().set_key(ALICE)
    made = App(container)
    async with made.app.test_app():
        yield made


def status(sent: list[dict[str, Any]]) -> int:
    return int(sent[0]["status"])


async def test_two_get_streams_opened_at_once_get_one_stream_and_one_409(app: App) -> None:
    session = await app.open()
    get = [*app.base, (b"accept", b"text/event-stream"), (b"mcp-session-id", session)]
    first = asyncio.create_task(asgi(app.app, "GET", get))
    second = asyncio.create_task(asgi(app.app, "GET", get))
    done, _ = await asyncio.wait({first, second}, timeout=2, return_when=asyncio.FIRST_COMPLETED)
    assert len(done) == 1
    (refused,) = done
    assert status(refused.result()) == 409
    assert len(app.container.owners().open_streams()) == 1
    deleted = await asgi(app.app, "DELETE", [*app.base, (b"mcp-session-id", session)])
    assert status(deleted) == 200
    (open_one,) = {first, second} - done
    assert status(await asyncio.wait_for(open_one, 5)) == 200


async def test_requests_of_one_session_at_once_are_each_answered_and_leave_nothing_behind(app: App) -> None:
    session = await app.open()
    post = [*app.post, (b"mcp-session-id", session)]
    ids = [0, 1, "1", 2**53 + 1, "x"]
    sent = await asyncio.gather(
        *(asgi(app.app, "POST", post, json.dumps(rpc("tools/list", id_=i)).encode()) for i in ids)
    )
    answers = [json.loads(b"".join(m.get("body", b"") for m in s[1:])) for s in sent]
    assert [a["id"] for a in answers] == ids
    assert all("tools" in a["result"] for a in answers)
    entry = app.container.owners().get(session.decode())
    assert entry is not None
    assert (entry.in_flight, entry.requests) == (0, None)
