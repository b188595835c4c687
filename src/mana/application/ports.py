"""The ports: everything a use case needs from the outside world, as ``typing.Protocol``.

Adapters implement these (mana-sync over HTTP, the embedded SQLite log, in-memory fakes, ...).
Failures cross a port as the exceptions of :mod:`mana.application.errors`, never as an adapter's
own exception types.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

import attrs

from mana.domain.changes import Change, WireChange, change_of, parts_of
from mana.domain.replay import CollectionState
from mana.domain.spaces import Space


@attrs.frozen(slots=True)
class Caller:
    """Who a request acts for: the verified JWT ``sub`` and the token to forward upstream."""

    user_id: str
    token: str = attrs.field(repr=False)


@attrs.frozen(slots=True)
class PullPage:
    """One page of a pull (mana-sync.md §5.3); invalid changes are counted, never kept.

    The valid changes stay as :func:`~mana.domain.changes.read_change` read them: a read replays
    them as they are (``CollectionState.apply_wire``), and :attr:`changes` builds ``Change``
    objects only for whoever asks.
    """

    wire_changes: Sequence[WireChange]
    synced_until: str
    has_more: bool
    invalid_event_ids: Sequence[str | None] = ()

    @property
    def changes(self) -> list[Change]:
        return [change_of(parts) for parts in self.wire_changes]

    @classmethod
    def of(
        cls,
        changes: Iterable[Change],
        synced_until: str,
        has_more: bool,
        invalid_event_ids: Sequence[str | None] = (),
    ) -> PullPage:
        """A page of ``Change`` objects (for fakes and tests)."""
        return cls([parts_of(c) for c in changes], synced_until, has_more, invalid_event_ids)


class ChangeLog(Protocol):
    """mana-sync's two operations as the gateway uses them (one change per push)."""

    async def push(self, caller: Caller, app_id: str, change: Change, since: str) -> None:
        """Store one change; raises :class:`~mana.application.errors.SyncWriteFailed` and friends."""
        ...

    async def pull(self, caller: Caller, app_id: str, collection: str, since: str) -> PullPage:
        """One page of changes after ``since`` (an opaque cursor, sent verbatim)."""
        ...


class CollectionReader(Protocol):
    """The current replay state of one collection as the caller sees it (D4)."""

    async def read(self, caller: Caller, app_id: str, collection: str) -> CollectionState:
        """The returned state is shared with caches: callers must treat it as read-only."""
        ...


@attrs.frozen(slots=True)
class MasterKey:
    """A user's 32-byte master key; never printed."""

    material: bytes = attrs.field(repr=False)

    def __attrs_post_init__(self) -> None:
        if len(self.material) != 32:
            raise ValueError(f"expected 32-byte master key, got {len(self.material)}")


class KeyVault(Protocol):
    """The caller's master key (mana-auth's encryption vault, or the local key store)."""

    async def master_key(self, caller: Caller) -> MasterKey: ...


class FieldCipher(Protocol):
    """The ``enc:1:`` format under one key (crypto.md)."""

    def encrypt(self, value: Any) -> Any:
        """JSON-serialise and encrypt ``value``; ``None`` passes through unencrypted."""
        ...

    def decrypt(self, value: Any) -> Any:
        """Decrypt an ``enc:1:`` string; other values pass through; raises ``DecryptFailed``."""
        ...


class CipherFactory(Protocol):
    def cipher(self, key: MasterKey) -> FieldCipher: ...


class SpaceDirectory(Protocol):
    """The spaces (mana-auth organizations) the caller is a member of."""

    async def spaces(self, caller: Caller) -> Sequence[Space]: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current UTC time (timezone-aware)."""
        ...

    def monotonic(self) -> float: ...


class IdSource(Protocol):
    def new_id(self) -> str:
        """A fresh lowercase UUID v4."""
        ...


# --- observation: metrics and the audit log live in the entrypoints; the core only reports ----


class ToolObserver(Protocol):
    """Told about every tool call and policy decision (metrics, audit log)."""

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
    ) -> None: ...

    def policy_decision(
        self, *, tool: str, decision: str, reason: str, user_id: str, detail: str | None
    ) -> None:
        """``decision``: allow | deny | would_deny | flagged (gateway-http.md §9)."""
        ...


class UpstreamObserver(Protocol):
    def upstream_request(self, *, upstream: str, status: str, duration_s: float) -> None:
        """``upstream``: sync_pull | sync_push | auth_jwks | auth_vault_key | auth_spaces | sync_health."""
        ...


class KeyCacheObserver(Protocol):
    def key_lookup(self, result: str) -> None:
        """``result``: hit | miss | shared | zero_knowledge_hit | error."""
        ...


# --- authentication: used by the entrypoints before any use case runs ------------------------


@attrs.frozen(slots=True)
class VerifiedToken:
    """The claims of a token that passed every check of D7."""

    subject: str
    token: str = attrs.field(repr=False)
    expires_at: float = 0.0
    issuer: str | None = None
    authorized_party: str | None = None

    @property
    def caller(self) -> Caller:
        return Caller(self.subject, self.token)


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> VerifiedToken:
        """Raises :class:`~mana.application.errors.InvalidToken` (401) or
        :class:`~mana.application.errors.VerificationUnavailable` (503)."""
        ...
