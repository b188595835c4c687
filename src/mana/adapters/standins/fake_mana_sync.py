"""A fake mana-sync over HTTP: the semantics of :mod:`mana.adapters.sync_core`, the wire of mana-sync.

Tokens are checked as mana-sync checks them (EdDSA, ``kid`` from the fake mana-auth's JWKS, ``exp``
and ``nbf`` only when present and without leeway, no ``aud`` or ``iss``), then the billing gate,
then :class:`~mana.adapters.sync_core.SyncServer`. Switches: answers with any status (402 exactly
as mana-sync.md §3), added latency, connections dropped before or after storing, and the older
wire format. Every request is logged with how many rows it stored, so tests can check that
nothing was reported as written that was not.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Literal

import attrs
from quart import Quart, Response, request

from mana.adapters.memory import MemorySyncStore
from mana.adapters.standins.jws import TokenRejected, public_keys, verify_eddsa
from mana.adapters.standins.serve import DROP_HEADER, with_connection_drops
from mana.adapters.sync_core import (
    SYNC_INACTIVE_BODY,
    UNAUTHORIZED_TEXT,
    ConnectionDropped,
    RowQuery,
    StoredRow,
    SyncResponse,
    SyncServer,
    SyncStore,
    WireFormat,
)

SyncOp = Literal["push", "pull"]
Fault = int | Literal["drop", "drop_after_store", "invalid_json", "wrong_shape"]
"""A status to answer with; a dropped connection before anything is stored, or one after storing;
a 200 whose body is not JSON, or JSON of the wrong shape (a broken proxy or server)."""


@attrs.frozen(slots=True)
class SyncRequest:
    """One request as the stand-in saw it; ``outcome`` is the status sent, or ``dropped``."""

    op: str
    app_id: str
    user_id: str | None
    client_id: str | None
    outcome: str
    stored: int
    since: str | None = None
    collection: str | None = None
    body: bytes | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)


@attrs.define
class _Rule:
    fault: Fault
    op: SyncOp | None
    left: int | None
    skip: int = 0


class _CountingStore:
    """Counts appended rows, so each request's log entry says how many it stored."""

    def __init__(self, inner: SyncStore) -> None:
        self.inner = inner
        self.appended = 0

    def append(self, row: StoredRow, now: int) -> StoredRow:
        stored = self.inner.append(row, now)
        self.appended += 1
        return stored

    def select(self, query: RowQuery) -> list[StoredRow]:
        return self.inner.select(query)


def _text(status: int, text: str) -> Response:
    return Response(text, status=status, content_type="text/plain; charset=utf-8")


def _dropped() -> Response:
    return Response(b"", status=500, headers={DROP_HEADER.decode(): "1"})


def _fault_response(status: int) -> Response:
    if status == 401:
        return _text(401, UNAUTHORIZED_TEXT)
    if status == 402:
        return Response(json.dumps(dict(SYNC_INACTIVE_BODY)), status=402, content_type="application/json")
    if status == 500:
        return _text(500, "internal error\n")
    return _text(status, f"{status} {HTTPStatus(status).phrase}\n")


class FakeManaSync:
    """State plus a Quart app (:attr:`app`) serving ``/sync/{appId}``, its pull and ``/health``."""

    def __init__(
        self,
        jwks: Callable[[], Mapping[str, Any]],
        memberships: Callable[[str], Collection[str]],
        *,
        store: SyncStore | None = None,
        wire_format: WireFormat = "current",
        clock: Callable[[], datetime] | None = None,
        token_clock: Callable[[], float] = time.time,
    ) -> None:
        self.store: SyncStore = store if store is not None else MemorySyncStore()
        self._counting = _CountingStore(self.store)
        self.server = SyncServer(self._counting, memberships, clock=clock, wire_format=wire_format)
        self._jwks = jwks
        self._token_clock = token_clock
        self.inactive_users: set[str] = set()
        self.latency_s = 0.0
        self.latency_ops: frozenset[str] = frozenset(("push", "pull"))
        self.latency_after_store = False
        self.requests: list[SyncRequest] = []
        self._rules: list[_Rule] = []
        self.app = self._build_app()

    # --- switches ------------------------------------------------------------------------------

    def fail(self, fault: Fault, *, op: SyncOp | None = None, times: int | None = 1, skip: int = 0) -> None:
        """Answer the next ``times`` requests (of ``op``, or any; None: all) with ``fault``, after
        letting ``skip`` of them through (the second page of a read, say)."""
        self._rules.append(_Rule(fault, op, times, skip))

    def clear_faults(self) -> None:
        self._rules.clear()

    def set_latency(self, seconds: float, *, op: SyncOp | None = None, after_store: bool = False) -> None:
        """Delay answers by ``seconds``: before anything happens, or (pushes) after storing, which is
        how a push the client gave up on can still have been written."""
        self.latency_s = seconds
        self.latency_ops = frozenset(("push", "pull")) if op is None else frozenset((op,))
        self.latency_after_store = after_store

    @property
    def rows_stored(self) -> int:
        return self._counting.appended

    def requests_of(self, op: str) -> list[SyncRequest]:
        return [r for r in self.requests if r.op == op]

    def _take_fault(self, op: SyncOp) -> Fault | None:
        for rule in self._rules:
            if rule.op is None or rule.op == op:
                if rule.skip > 0:
                    rule.skip -= 1
                    return None
                if rule.left is not None:
                    rule.left -= 1
                    if rule.left <= 0:
                        self._rules.remove(rule)
                return rule.fault
        return None

    # --- the app -------------------------------------------------------------------------------

    def _user(self) -> str | Response:
        authorization = request.headers.get("Authorization", "")
        if not authorization:
            return _text(401, "unauthorized: no authorization header\n")
        if not authorization.startswith("Bearer "):
            return _text(401, "unauthorized: parse token: token is malformed\n")
        try:
            keys = public_keys(self._jwks())
        except Exception as exc:  # the fetch failing, as mana-sync reports it
            return _text(401, f"unauthorized: fetch JWKS: {type(exc).__name__}\n")
        try:
            claims = verify_eddsa(authorization[7:], keys, self._token_clock())
        except TokenRejected as exc:
            return _text(401, f"unauthorized: {exc.reason}\n")
        sub: str = claims["sub"]
        return sub

    def _log(
        self, op: str, app_id: str, user_id: str | None, outcome: str, before: int, **extra: Any
    ) -> None:
        self.requests.append(
            SyncRequest(
                op=op,
                app_id=app_id,
                user_id=user_id,
                client_id=request.headers.get("X-Client-Id"),
                outcome=outcome,
                stored=self._counting.appended - before,
                headers={k.lower(): v for k, v in request.headers.items()},
                **extra,
            )
        )

    async def _gate(
        self, op: SyncOp, app_id: str, **extra: Any
    ) -> tuple[str | None, Fault | None, Response | None]:
        """Latency, injected faults, the token, the billing gate: what runs before the handler."""
        before = self._counting.appended
        if self.latency_s > 0 and op in self.latency_ops and not (op == "push" and self.latency_after_store):
            await asyncio.sleep(self.latency_s)
        fault = self._take_fault(op)
        if fault == "invalid_json":
            self._log(op, app_id, None, "200", before, **extra)
            return None, fault, _text(200, "<html>gateway</html>")
        if fault == "wrong_shape":
            self._log(op, app_id, None, "200", before, **extra)
            return None, fault, Response('{"changes":[]}', status=200, content_type="application/json")
        if isinstance(fault, int):
            self._log(op, app_id, None, str(fault), before, **extra)
            return None, fault, _fault_response(fault)
        if fault == "drop":
            self._log(op, app_id, None, "dropped", before, **extra)
            return None, fault, _dropped()
        user = self._user()
        if isinstance(user, Response):
            self._log(op, app_id, None, "401", before, **extra)
            return None, fault, user
        if user in self.inactive_users:
            self._log(op, app_id, user, "402", before, **extra)
            return None, fault, _fault_response(402)
        return user, fault, None

    def _send(self, answer: SyncResponse) -> Response:
        if answer.json is not None:
            return Response(
                json.dumps(answer.json, ensure_ascii=False, separators=(",", ":")),
                status=answer.status,
                content_type="application/json",
            )
        return _text(answer.status, answer.text or "")

    def _build_app(self) -> Quart:
        app = Quart("fake_mana_sync")

        @app.get("/health")
        async def health() -> Response:
            now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            body = {"status": "ok", "service": "mana-sync", "timestamp": now, "connections": 0, "users": 0}
            return Response(json.dumps(body), content_type="application/json")

        @app.post("/sync/<app_id>")
        async def push(app_id: str) -> Response:
            raw = await request.get_data(as_text=False)
            body = raw if isinstance(raw, bytes) else raw.encode()
            user, fault, refused = await self._gate("push", app_id, body=body)
            if refused is not None:
                return refused
            assert user is not None
            before = self._counting.appended
            try:
                answer = self.server.push(user, request.headers.get("X-Client-Id"), app_id, body)
            except ConnectionDropped:
                self._log("push", app_id, user, "dropped", before, body=body)
                return _dropped()
            if fault == "drop_after_store":
                self._log("push", app_id, user, "dropped", before, body=body)
                return _dropped()
            self._log("push", app_id, user, str(answer.status), before, body=body)
            if self.latency_s > 0 and "push" in self.latency_ops and self.latency_after_store:
                await asyncio.sleep(self.latency_s)
            return self._send(answer)

        @app.get("/sync/<app_id>/pull")
        async def pull(app_id: str) -> Response:
            collection = request.args.get("collection")
            since = request.args.get("since")
            user, fault, refused = await self._gate("pull", app_id, since=since, collection=collection)
            if refused is not None:
                return refused
            assert user is not None
            before = self._counting.appended
            try:
                answer = self.server.pull(user, request.headers.get("X-Client-Id"), app_id, collection, since)
            except ConnectionDropped:
                self._log("pull", app_id, user, "dropped", before, since=since, collection=collection)
                return _dropped()
            if fault == "drop_after_store":
                self._log("pull", app_id, user, "dropped", before, since=since, collection=collection)
                return _dropped()
            self._log("pull", app_id, user, str(answer.status), before, since=since, collection=collection)
            return self._send(answer)

        @app.errorhandler(404)
        async def not_found(_: Exception) -> Response:
            return _text(404, "404 page not found\n")

        @app.errorhandler(405)
        async def not_allowed(_: Exception) -> Response:
            return _text(405, "Method Not Allowed\n")

        app.asgi_app = with_connection_drops(app.asgi_app)  # type: ignore[method-assign]
        return app
