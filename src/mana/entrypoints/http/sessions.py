"""The legacy-era sessions: session id → who opened it and what it negotiated (D11, gateway-http.md §7).

This map is the session: each request of it is served on a fresh SDK transport (:mod:`legacy`),
so an idle session costs one small entry instead of the SDK's per-session machinery. Entries go
on DELETE and once idle (nothing in flight) for longer than the idle timeout: :meth:`lookup`
treats such an entry as gone at once, and the sweep frees it. In ``MANA_LEGACY_SESSIONS=stateless``
mode no session is ever added.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import attrs

PER_USER_CAP = 100
TOTAL_CAP = 10_000
IDLE_TIMEOUT_S = 30 * 60.0
SWEEP_INTERVAL_S = 60.0
CAP_SWEEP_INTERVAL_S = 1.0


@attrs.define(slots=True)
class SessionEntry:
    owner: str
    opened: float
    last_seen: float
    client_name: str | None = None
    in_flight: int = 0
    """Requests (including an open GET stream) currently inside the SDK for this session."""
    protocol_version: str | None = None
    """The version ``initialize`` negotiated: what the server speaks on every request of the session."""
    issuer: str | None = None
    authorized_party: str | None = None
    """With ``owner``, the principal that opened it: a request of the session must come with a
    token of the same three (sub, iss, azp), or the session looks absent to it (404)."""
    stream: Any = None
    """The SDK transport serving this session's open GET stream, if one is open."""
    stream_started: Any = None
    """An ``anyio.Event`` set once that stream's answer has begun: a second GET waits for it, so
    that the transport it is handed to is connected and already holds the stream (409)."""
    requests: dict[Any, Any] | None = None
    """Requests being answered, for ``notifications/cancelled`` (made only while there are any)."""


class SessionOwners:
    """Owner map with O(1) per-user counts. Single event loop: no locking needed."""

    def __init__(
        self,
        *,
        per_user_cap: int = PER_USER_CAP,
        total_cap: int = TOTAL_CAP,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        sweep_interval_s: float = SWEEP_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_user_cap = per_user_cap
        self.total_cap = total_cap
        self.idle_timeout_s = idle_timeout_s
        self.sweep_interval_s = sweep_interval_s
        """How often the app sweeps, only to free memory: :meth:`lookup` already ends a session at
        ``idle_timeout_s``, and no SDK session exists beside the entry to be reaped."""
        self._clock = clock
        self._entries: dict[str, SessionEntry] = {}
        self._per_user: dict[str, int] = {}
        self._pending: dict[str, int] = {}
        self._pending_total = 0
        self._cap_swept = float("-inf")

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, session_id: str) -> SessionEntry | None:
        return self._entries.get(session_id)

    def lookup(self, session_id: str) -> SessionEntry | None:
        """The live session, or None; an entry past its idle timeout is removed here, so a session
        ends at its timeout exactly, not at the next sweep."""
        entry = self._entries.get(session_id)
        if (
            entry is not None
            and entry.in_flight == 0
            and entry.last_seen < self._clock() - self.idle_timeout_s
        ):
            self.remove(session_id)
            return None
        return entry

    def count_for(self, owner: str) -> int:
        return self._per_user.get(owner, 0)

    def user_at_cap(self, owner: str) -> bool:
        return self.count_for(owner) + self._pending.get(owner, 0) >= self.per_user_cap

    def total_at_cap(self) -> bool:
        return len(self._entries) + self._pending_total >= self.total_cap

    def reserve(self, owner: str) -> Literal["user", "total"] | None:
        """Hold a slot for an ``initialize`` in flight, so concurrent ones cannot overshoot a cap.

        Returns which cap is reached instead (nothing is held then); :meth:`release` the slot once
        the SDK has answered, before :meth:`add` records the session it opened. Sessions past their
        idle timeout do not count: at a cap the expired entries are swept first (at most once a
        second, since a sweep walks every entry).
        """
        if self.user_at_cap(owner) or self.total_at_cap():
            now = self._clock()
            if now - self._cap_swept >= CAP_SWEEP_INTERVAL_S:
                self._cap_swept = now
                self.sweep()
        if self.user_at_cap(owner):
            return "user"
        if self.total_at_cap():
            return "total"
        self._pending[owner] = self._pending.get(owner, 0) + 1
        self._pending_total += 1
        return None

    def release(self, owner: str) -> None:
        left = self._pending.get(owner, 0) - 1
        if left > 0:
            self._pending[owner] = left
        else:
            self._pending.pop(owner, None)
        self._pending_total = max(0, self._pending_total - 1)

    def add(
        self,
        session_id: str,
        owner: str,
        client_name: str | None,
        *,
        protocol_version: str | None = None,
        issuer: str | None = None,
        authorized_party: str | None = None,
    ) -> SessionEntry:
        now = self._clock()
        self.remove(session_id)
        entry = SessionEntry(
            owner=owner,
            opened=now,
            last_seen=now,
            client_name=client_name,
            protocol_version=protocol_version,
            issuer=issuer,
            authorized_party=authorized_party,
        )
        self._entries[session_id] = entry
        self._per_user[owner] = self._per_user.get(owner, 0) + 1
        return entry

    def remove(self, session_id: str) -> SessionEntry | None:
        """Forget the session; returns its entry (whose open stream the caller ends), if it had one."""
        entry = self._entries.pop(session_id, None)
        if entry is None:
            return None
        left = self._per_user[entry.owner] - 1
        if left:
            self._per_user[entry.owner] = left
        else:
            del self._per_user[entry.owner]
        return entry

    def open_streams(self) -> list[Any]:
        """The transports of every open GET stream (ended at shutdown)."""
        return [e.stream for e in self._entries.values() if e.stream is not None]

    def begin(self, entry: SessionEntry) -> None:
        entry.in_flight += 1
        entry.last_seen = self._clock()

    def end(self, entry: SessionEntry) -> None:
        entry.in_flight = max(0, entry.in_flight - 1)
        entry.last_seen = self._clock()

    def sweep(self) -> int:
        """Drop entries idle (nothing in flight) for longer than the idle timeout; returns how many."""
        cutoff = self._clock() - self.idle_timeout_s
        stale = [sid for sid, e in self._entries.items() if e.in_flight == 0 and e.last_seen < cutoff]
        for sid in stale:
            self.remove(sid)
        return len(stale)
