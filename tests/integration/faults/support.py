"""The remote stack with short upstream timeouts, and the bookkeeping of what the gateway reported.

The production adapters are kept (``HttpChangeLog``, ``HttpKeyVault``); only their timeouts and
retry pauses are shortened, so a timeout costs half a second instead of ten.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import attrs
from dependency_injector import providers
from mcp import Client
from tests.integration.security.support import RemoteStack, captured_logs, no_stack_traces, remote_stack

from mana.adapters.crypto import AesGcmFieldCipher
from mana.adapters.key_cache import CachingKeyVault
from mana.adapters.sync_http import HttpChangeLog
from mana.adapters.vault_http import HttpKeyVault
from mana.domain.changes import Change, change_from_wire
from mana.domain.replay import CollectionState
from mana.entrypoints.container import Container

UPSTREAM_TIMEOUT_S = 0.5
SLOW_S = 1.0
"""Latency that outlasts the shortened timeout."""


def short_timeouts(container: Container) -> None:
    """Swap the change log and the key vault for the same adapters with short timeouts."""
    adapters = container.adapters.overridden[-1]()
    settings = container.settings()
    client, metrics, clock = adapters.client(), container.metrics(), container.clock()
    change_log = HttpChangeLog(
        client,
        settings.sync_url,
        metrics,
        total_timeout_s=UPSTREAM_TIMEOUT_S,
        read_retry_delays_s=(0.01, 0.02),
        push_retry_delay_s=0.01,
    )
    vault = HttpKeyVault(client, settings.auth_url, metrics, total_timeout_s=UPSTREAM_TIMEOUT_S)
    adapters.change_log.override(providers.Object(change_log))
    adapters.key_vault.override(providers.Object(CachingKeyVault(vault, clock, metrics)))


@contextlib.asynccontextmanager
async def fault_stack(tmp_path: Path, env: Mapping[str, str] | None = None) -> AsyncIterator[RemoteStack]:
    """The stack for one fault test; when the test is done, the gateway must still be alive and
    must not have logged a stack trace for any of the faults."""
    with captured_logs() as logs:
        async with remote_stack(tmp_path, env, configure=short_timeouts) as stack:
            yield stack
            async with stack.gw.http() as http:
                health = await http.get("/health")
    assert health.status_code == 200
    assert no_stack_traces(logs.lines) == []


@attrs.define
class Ledger:
    """What the gateway told the agent about each write: done, failed, or maybe."""

    done: list[str] = attrs.Factory(list)
    failed: list[str] = attrs.Factory(list)
    maybe: list[str] = attrs.Factory(list)
    messages: list[str] = attrs.Factory(list)

    def record(self, title: str, result: Any) -> None:
        if not result.is_error:
            self.done.append(title)
            return
        text = result.content[0].text
        self.messages.append(text)
        assert result.meta["mana/error"] == "sync_write_failed", text
        if "Nothing was written" in text:
            self.failed.append(title)
        else:
            assert "it may or may not have been saved, so list before retrying" in text, text
            self.maybe.append(title)


async def create_notes(client: Client, titles: list[str], ledger: Ledger) -> None:
    for title in titles:
        result = await client.call_tool("notes_create", {"title": title, "content": f"body of {title}"})
        ledger.record(title, result)


async def listed_notes(client: Client) -> list[tuple[str, str]]:
    """(title, content) of every note the agent can see, from a fresh replay of the log."""
    result = await client.call_tool("notes_search", {"limit": 100})
    assert result.is_error is False, result.content
    assert result.structured_content is not None
    return sorted((n["title"], n["content"]) for n in result.structured_content["notes"])


def cold_replay(stack: RemoteStack, user: str, space: str) -> list[tuple[str, str]]:
    """(title, content) of the notes a from-scratch replay of mana-sync's own log shows ``user``:
    independent of the gateway's read path and its caches."""
    cipher = AesGcmFieldCipher(stack.auth.user(user).master_key)
    state = CollectionState()
    for row in stack.sync.store.rows("notes"):
        change = change_from_wire(stack.sync.server.emit(row))
        assert isinstance(change, Change)
        state.apply_all([change])
    return sorted(
        (cipher.decrypt(record.values["title"]), cipher.decrypt(record.values["content"]))
        for record in state.visible(user, space)
    )
