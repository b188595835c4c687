"""The whole application on in-memory adapters, in one call: for tests, benchmarks and demos.

Everything below the ports is real (the sync core with mana-sync's semantics, the ``enc:1:`` cipher,
the replay); only the outside world is in memory. Tests drive tools through the same
:class:`~mana.application.service.CatalogToolService` the MCP gateway uses, plant records the way
the web app writes them, and inspect the log field by field.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from mana.adapters.crypto import AesGcmCipherFactory, AesGcmFieldCipher
from mana.adapters.in_process_sync import InProcessChangeLog
from mana.adapters.memory import (
    DEFAULT_START,
    FixedClock,
    InMemoryKeyVault,
    MemorySyncStore,
    SequentialIdSource,
    StaticSpaceDirectory,
)
from mana.adapters.sync_core import SyncResponse, SyncServer, WireFormat
from mana.application.catalog import Catalog
from mana.application.invocation import Invocation, ToolResult
from mana.application.policy import PolicyGate, PolicyMode
from mana.application.ports import Caller, CollectionReader
from mana.application.service import CatalogToolService, UseCase
from mana.domain.changes import WIRE_CLIENT_ID
from mana.domain.spaces import Space
from mana.entrypoints.config import load_settings
from mana.entrypoints.container import build_container

ALICE = "u_alice"
BOB = "u_bob"
FAMILY = "sp_family"
ALICE_PERSONAL = "sp_alice"
BOB_PERSONAL = "sp_bob"
WORK = "sp_work"

DEFAULT_USERS: Mapping[str, Sequence[Space]] = {
    ALICE: (
        Space(ALICE_PERSONAL, "Personal", None, "personal", "owner"),
        Space(FAMILY, "Family", "family", "family", "owner"),
        Space(WORK, "Acme", "acme", "team", "member"),
    ),
    BOB: (
        Space(BOB_PERSONAL, "Personal", None, "personal", "owner"),
        Space(FAMILY, "Family", "family", "family", "member"),
    ),
}
"""Alice and Bob share ``sp_family``; each has a personal space; only Alice is in ``sp_work``."""

WEB_CLIENT_ID = "web-3b1f0c2e"
"""The client id of the web app in planted changes (a browser's random id in real life)."""


@attrs.frozen(slots=True)
class Push:
    """One push request as the sync server received it: who, with which client id, and the body."""

    user_id: str
    client_id: str | None
    app_id: str
    body: Mapping[str, Any]


@attrs.frozen(slots=True)
class Pull:
    user_id: str
    client_id: str | None
    app_id: str
    collection: str | None
    since: str | None


class RecordingSyncServer(SyncServer):
    """The sync core, remembering every request: push bodies exactly as sent (before the server
    parses them), so tests can check keys the server does not keep (``updatedAt`` next to ``at``,
    D1), and pulls, so tests can check that a call read nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pushes: list[Push] = []
        self.pulls: list[Pull] = []

    def push(
        self, user_id: str, client_id_header: str | None, app_id: str, body: bytes | Mapping[str, Any]
    ) -> SyncResponse:
        sent = json.loads(body) if isinstance(body, bytes | bytearray) else json.loads(json.dumps(body))
        self.pushes.append(Push(user_id, client_id_header, app_id, sent))
        return super().push(user_id, client_id_header, app_id, body)

    def pull(
        self,
        user_id: str,
        client_id_header: str | None,
        app_id: str,
        collection: str | None,
        since: str | None,
    ) -> SyncResponse:
        self.pulls.append(Pull(user_id, client_id_header, app_id, collection, since))
        return super().pull(user_id, client_id_header, app_id, collection, since)


class RecordingObserver:
    """The :class:`~mana.application.ports.ToolObserver` port as lists, for assertions."""

    def __init__(self) -> None:
        self.finished: list[dict[str, Any]] = []
        self.decisions: list[dict[str, Any]] = []

    def tool_finished(
        self,
        *,
        tool: str,
        outcome: str,
        duration_s: float,
        user_id: str,
        space_id: str,
        client_name: str | None,
        request_id: str,
        error_code: str | None,
    ) -> None:
        self.finished.append(
            {
                "tool": tool,
                "outcome": outcome,
                "user_id": user_id,
                "space_id": space_id,
                "client_name": client_name,
                "request_id": request_id,
                "error_code": error_code,
            }
        )

    def policy_decision(
        self, *, tool: str, decision: str, reason: str, user_id: str, detail: str | None
    ) -> None:
        self.decisions.append(
            {"tool": tool, "decision": decision, "reason": reason, "user_id": user_id, "detail": detail}
        )


@attrs.define(eq=False)
class Harness:
    service: CatalogToolService
    catalog: Catalog
    policy: PolicyGate
    server: RecordingSyncServer
    store: MemorySyncStore
    change_log: InProcessChangeLog
    reader: CollectionReader
    vault: InMemoryKeyVault
    ciphers: AesGcmCipherFactory
    directory: StaticSpaceDirectory
    clock: FixedClock
    ids: SequentialIdSource
    observer: RecordingObserver
    _requests: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))
    _default_spaces: dict[str, str] = attrs.field(factory=dict)

    # --- users and spaces ---

    def add_user(self, user_id: str, spaces: Sequence[Space], *, key: bytes | None = None) -> None:
        """A member of ``spaces`` (the first is the default active space) with a normal vault."""
        self.directory.set(user_id, spaces)
        self.vault.set_key(user_id, key)
        if spaces:
            self._default_spaces[user_id] = spaces[0].id

    def default_space(self, user_id: str) -> str:
        """The first space given for the user: their personal space in the default setup."""
        space = self._default_spaces.get(user_id)
        if space is None:
            raise KeyError(f"{user_id} is a member of no space; pass space=")
        return space

    # --- calling tools ---

    def exposed_name(self, tool: str) -> str:
        """A canonical name (``habits.create``) in the catalog's exposed form; other names unchanged."""
        spec = self.catalog.by_canonical(tool)
        return tool if spec is None else spec.exposed_name(self.catalog.naming)

    async def call(
        self,
        tool: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        user: str = ALICE,
        space: str | None = None,
        client_name: str | None = None,
    ) -> ToolResult:
        """One ``tools/call`` as the MCP layer makes it, after its HTTP checks passed."""
        invocation = Invocation(
            caller=Caller(user, f"token-of-{user}"),
            space_id=space if space is not None else self.default_space(user),
            request_id=f"req-{next(self._requests)}",
            client_name=client_name,
        )
        return await self.service.call(self.exposed_name(tool), arguments, invocation)

    # --- the web app's side ---

    def cipher_of(self, user_id: str) -> AesGcmFieldCipher:
        return AesGcmFieldCipher(self.vault.key_of(user_id).material)

    def encrypt_as(self, user_id: str, value: Any) -> Any:
        """``value`` encrypted as the web app would with the user's master key (None stays None)."""
        return self.cipher_of(user_id).encrypt(value)

    def decrypt_as(self, user_id: str, value: Any) -> Any:
        return self.cipher_of(user_id).decrypt(value)

    def plant(
        self, user_id: str, app_id: str, change: Mapping[str, Any], client_id: str = WEB_CLIENT_ID
    ) -> None:
        """Push one change (client shape) as another client of ``user_id`` would, e.g. the web app."""
        body = {"clientId": client_id, "since": "", "schemaVersion": 1, "changes": [dict(change)]}
        response = self.server.push(user_id, client_id, app_id, body)
        if response.status != 200:
            raise RuntimeError(f"planting failed with HTTP {response.status}")

    # --- inspecting the log ---

    def changes(self, app_id: str, table: str | None = None) -> list[dict[str, Any]]:
        """Every stored change of the app (of one table), oldest first, as the server emits it."""
        return [
            self.server.emit(row) for row in self.store.rows(app_id) if table is None or row.table == table
        ]

    def pushed(self, app_id: str | None = None) -> list[dict[str, Any]]:
        """The changes the gateway sent (client id ``mana-mcp``), exactly as sent, oldest first."""
        return [
            change
            for push in self.server.pushes
            if push.client_id == WIRE_CLIENT_ID and (app_id is None or push.app_id == app_id)
            for change in push.body["changes"]
        ]

    def gateway_pushes(self) -> list[Push]:
        return [push for push in self.server.pushes if push.client_id == WIRE_CLIENT_ID]


def build_harness(
    *,
    users: Mapping[str, Sequence[Space]] | None = None,
    catalog: Catalog | None = None,
    extra_use_cases: Mapping[str, UseCase] | None = None,
    policy_mode: PolicyMode = "enforce",
    rate_limit: int = 30,
    allow_destructive: Collection[str] = frozenset(),
    wire_format: WireFormat = "current",
    start: datetime = DEFAULT_START,
) -> Harness:
    """The container's ``test`` profile with test seams; ``users`` default to :data:`DEFAULT_USERS`.

    Everything is the production wiring (incremental reader, key and space caches, policy gate)
    except a fixed clock, sequential ids, a sync server that records requests, and an observer
    that records calls. ``catalog`` and ``extra_use_cases`` let a test add tools of its own.
    """
    settings = load_settings(
        {
            "MANA_POLICY_MODE": policy_mode,
            "MANA_RATE_LIMIT": str(rate_limit),
            "MANA_ALLOW_DESTRUCTIVE": ",".join(sorted(allow_destructive)),
        }
    )
    clock = FixedClock(start)
    replace: dict[str, Any] = {
        "clock": clock,
        "ids": SequentialIdSource(),
        "observer": RecordingObserver(),
        "extra_use_cases": dict(extra_use_cases or {}),
    }
    if catalog is not None:
        replace["catalog"] = catalog
    container = build_container(
        settings,
        "test",
        replace=replace,
        replace_adapters={"sync_server_class": RecordingSyncServer, "wire_format": wire_format},
    )
    adapters = container.adapters
    harness = Harness(
        service=container.tool_service(),
        catalog=container.catalog(),
        policy=container.policy(),
        server=adapters.sync_server(),
        store=adapters.store(),
        change_log=adapters.change_log(),
        reader=adapters.reader(),
        vault=adapters.vault(),
        ciphers=container.ciphers(),
        directory=adapters.directory(),
        clock=clock,
        ids=replace["ids"],
        observer=replace["observer"],
    )
    for user_id, spaces in (DEFAULT_USERS if users is None else users).items():
        harness.add_user(user_id, spaces)
    return harness
