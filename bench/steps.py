"""Section 3: the cost of each step of one call, measured in this process, each beside a reference.

The references are what the step cannot beat: pyjwt's own EdDSA ``decode`` for a token verified
for the first time, one bare ``AESGCM`` operation for a field, a bare ``orjson.loads`` of the page
for parsing, and a raw HTTP/1.1 request on an asyncio stream for an upstream round trip.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import jwt
import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench.stack import Identity, Standins
from bench.standins import history_changes
from mana.adapters.crypto import AesGcmFieldCipher
from mana.adapters.http_client import NullUpstreamObserver, build_client
from mana.adapters.jwks_verifier import JwksTokenVerifier, StaticJwksSource
from mana.adapters.key_cache import CachingKeyVault
from mana.adapters.local_issuer import LocalTokenIssuer
from mana.adapters.memory import MemorySyncStore, SystemClock
from mana.adapters.sync_core import SyncServer
from mana.adapters.sync_http import HttpChangeLog, _parse_page
from mana.adapters.vault_http import HttpKeyVault
from mana.application.ports import Caller
from mana.domain.changes import Change
from mana.domain.replay import CollectionState
from mana.domain.timestamps import EPOCH_CURSOR, format_instant


@attrs.frozen
class Step:
    name: str
    value_us: float
    reference: str
    reference_us: float | None
    wall_us: float | None = None
    """For round trips: the wall time (which includes the stand-in's own work)."""

    @property
    def ratio(self) -> float | None:
        return None if not self.reference_us else self.value_us / self.reference_us


def per_call_us(fn: Callable[[], Any], n: int) -> float:
    fn()
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


def jwt_steps() -> list[Step]:
    with tempfile.TemporaryDirectory() as tmp:
        issuer = LocalTokenIssuer(Path(tmp), "https://bench.example", "mana")
        jwks = issuer.jwks()
        verifier = JwksTokenVerifier(StaticJwksSource(jwks), audience="mana", clock=SystemClock())
        tokens = [issuer.issue(f"user-{i}", 60) for i in range(2001)]
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(verifier.verify(tokens[-1]))
            it = iter(tokens[:2000])
            first = per_call_us(lambda: loop.run_until_complete(verifier.verify(next(it))), 1999)
            repeat = per_call_us(lambda: loop.run_until_complete(verifier.verify(tokens[0])), 5000)
            noop = per_call_us(lambda: loop.run_until_complete(_noop()), 5000)
        finally:
            loop.close()
        key = jwt.PyJWK(jwks["keys"][0])
        pyjwt = per_call_us(lambda: jwt.decode(tokens[1], key, algorithms=["EdDSA"], audience="mana"), 2000)
    return [
        Step("JWT verify, first time", first - noop, "pyjwt.decode (EdDSA)", pyjwt),
        Step("JWT verify, repeat (cached)", repeat - noop, "pyjwt.decode (EdDSA)", pyjwt),
    ]


async def _noop() -> None:
    return None


def cipher_steps() -> list[Step]:
    key = os.urandom(32)
    cipher = AesGcmFieldCipher(key)
    title = "Call the plumber about the kitchen sink"
    blob = cipher.encrypt(title)
    aead = AESGCM(key)
    iv, plain = os.urandom(12), json.dumps(title).encode()
    sealed = aead.encrypt(iv, plain, None)
    raw_encrypt = per_call_us(lambda: aead.encrypt(iv, plain, None), 20000)
    raw_decrypt = per_call_us(lambda: aead.decrypt(iv, sealed, None), 20000)
    return [
        Step("cipher object per key (AESGCM construct)", per_call_us(lambda: AESGCM(key), 20000), "-", None),
        Step("encrypt one field (enc:1:)", per_call_us(lambda: cipher.encrypt(title), 20000),
             "bare AESGCM.encrypt", raw_encrypt),
        Step("decrypt one field (enc:1:)", per_call_us(lambda: cipher.decrypt(blob), 20000),
             "bare AESGCM.decrypt", raw_decrypt),
    ]  # fmt: skip


def history_pages(n: int) -> list[bytes]:
    """Real pull pages: the planted web-app history, stored and emitted by the sync core."""
    cipher = AesGcmFieldCipher(os.urandom(32))
    server = SyncServer(MemorySyncStore(), lambda user: frozenset(("sp",)))
    changes = history_changes("u1", "sp", n, cipher)
    for i in range(0, len(changes), 1000):
        body = {"clientId": "web", "since": "2100-01-01T00:00:00Z", "changes": changes[i : i + 1000]}
        assert server.push("u1", "web", "todo", body).status == 200
    pages: list[bytes] = []
    cursor = EPOCH_CURSOR
    while True:
        page = server.pull("u1", "mana-mcp-reader", "todo", "tasks", cursor).json
        pages.append(json.dumps(page).encode())
        if not page.get("hasMore"):
            return pages
        cursor = page["syncedUntil"]


def _page(n: int) -> bytes:
    return history_pages(n)[0]


def cpu_per_call_us(fn: Callable[[], Any], n: int, rounds: int = 7) -> float:
    """This process's CPU time per call, the best of ``rounds`` rounds of ``n`` calls: robust to
    other processes on a shared machine, where wall time is not."""
    fn()
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, time.process_time() - started)
    return best / n * 1e6


def replay_steps() -> list[Step]:
    """A cold read's work per 1,000 changes, on the production path: the page parsed as
    ``HttpChangeLog.pull`` parses it (orjson, the validity rules) and applied as ``pull_into``
    applies it (``apply_wire``). The start-up objects are frozen first, as ``serve`` does, so that
    the collections a page's garbage triggers walk what they walk in the gateway."""
    page = _page(1000)
    wire = _parse_page(page, "tasks").wire_changes

    def replay() -> None:
        CollectionState().apply_wire(wire)

    def parse() -> None:
        _parse_page(page, "tasks")

    def read() -> None:
        CollectionState().apply_wire(_parse_page(page, "tasks").wire_changes)

    gc.collect()
    gc.freeze()
    try:
        loads = cpu_per_call_us(lambda: orjson.loads(page), 40)
        steps = [
            Step("parse a pull page, per 1,000 changes", cpu_per_call_us(parse, 40), "bare orjson.loads",
                 loads),
            Step("replay, per 1,000 changes", cpu_per_call_us(replay, 40), "-", None),
            Step("parse and replay a pull page, per 1,000 changes", cpu_per_call_us(read, 40),
                 "bare orjson.loads", loads),
        ]  # fmt: skip
    finally:
        gc.unfreeze()
    return steps


async def _upstream_steps(stand: Standins, users: list[Identity]) -> list[Step]:
    observer = NullUpstreamObserver()
    clock = SystemClock()
    async with build_client() as client:
        vault = CachingKeyVault(HttpKeyVault(client, stand.auth_url, observer), clock, _NoEvents())
        log = HttpChangeLog(client, stand.sync_url, observer)
        callers = [Caller(u.user, u.token) for u in users]
        await vault.master_key(callers[0])
        fresh = iter(callers[1:])
        first_key = await _timed(lambda: vault.master_key(next(fresh)), len(callers) - 2)
        cached_key = await _timed(lambda: vault.master_key(callers[0]), 5000)
        change = Change("notes", "n1", "insert", data={"id": "n1", "title": "x", "spaceId": users[0].space},
                        space_id=users[0].space)  # fmt: skip
        now = format_instant(clock.now())
        await log.push(callers[0], "notes", change, now)
        push = await _timed(lambda: log.push(callers[0], "notes", change, now), 300)
        pull = await _timed(lambda: log.pull(callers[0], "todo", "tasks", EPOCH_CURSOR), 300)
    raw = await _raw_round_trip(stand.sync_url, 300)
    return [
        Step("master key, first: vault round trip, gateway CPU", first_key[1], "raw HTTP round trip, CPU",
             raw[1], wall_us=first_key[0]),
        Step("master key, cached", cached_key[1], "-", None),
        Step("push round trip (one change), gateway CPU", push[1], "raw HTTP round trip, CPU", raw[1],
             wall_us=push[0]),
        Step("pull round trip (empty page), gateway CPU", pull[1], "raw HTTP round trip, CPU", raw[1],
             wall_us=pull[0]),
    ]  # fmt: skip


class _NoEvents:
    def key_lookup(self, result: str) -> None:
        return None


async def _timed(make: Callable[[], Any], n: int) -> tuple[float, float]:
    """(wall µs, this process's CPU µs) per call: a round trip's wall time includes the stand-in."""
    await make()
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await make()
    return (time.perf_counter() - started) / n * 1e6, (time.process_time() - cpu) / n * 1e6


async def _raw_round_trip(base_url: str, n: int) -> tuple[float, float]:
    host, port = base_url.split("//")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    request = f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()

    async def one() -> None:
        writer.write(request)
        head = (await reader.readuntil(b"\r\n\r\n")).lower()
        at = head.find(b"content-length:")
        await reader.readexactly(int(head[at + 15 : head.index(b"\r\n", at)]))

    try:
        return await _timed(one, n)
    finally:
        writer.close()


def run_steps(stand: Standins) -> list[Step]:
    users = stand.users("u_steps_", 101)
    steps = jwt_steps() + cipher_steps() + replay_steps()
    steps += asyncio.run(_upstream_steps(stand, users))
    return steps
