"""What the hardening suites share: the remote stack on loopback, captured log lines, planted secrets.

Log lines are captured as the gateway writes them in production (the JSON formatter, the levels of
``configure_logging`` at ``debug``, the most talkative setting), so a leak check covers exactly
what an operator's log pipeline would receive. The stand-ins' own logs are not the gateway's and
are left out.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import httpx
from tests.integration.gateway.support import (
    ALICE,
    ALICE_HOME,
    BOB,
    BOB_HOME,
    FAMILY,
    RunningGateway,
    gateway,
)

from mana.adapters.standins.fake_mana_auth import DEFAULT_SERVICE_KEY, FakeManaAuth
from mana.adapters.standins.fake_mana_sync import FakeManaSync
from mana.adapters.standins.serve import serve
from mana.entrypoints.logs import QUIET_LOGGERS, JsonFormatter

NOT_THE_GATEWAY = ("fake_mana_auth", "fake_mana_sync", "mana.standins", "httpx2", "httpcore2", "mcp.client")
"""The stand-ins and the test's own SDK client (which uses httpx2, never used by the gateway)."""


class LogCapture(logging.Handler):
    """Every record the gateway logs, formatted as the JSON line production would print."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(NOT_THE_GATEWAY):
            return
        self.lines.append(self.format(record))

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    def of(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@contextlib.contextmanager
def captured_logs() -> Iterator[LogCapture]:
    """Root at DEBUG and the chatty libraries at WARNING, as ``configure_logging("debug")`` sets them."""
    capture = LogCapture()
    root = logging.getLogger()
    quiet = [logging.getLogger(name) for name in QUIET_LOGGERS]
    saved = root.level, [logger.level for logger in quiet]
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    for logger in quiet:
        logger.setLevel(logging.WARNING)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(saved[0])
        for logger, level in zip(quiet, saved[1], strict=True):
            logger.setLevel(level)


def key_forms(raw: bytes) -> list[str]:
    """The ways key bytes could end up in text: base64 (both alphabets, with and without padding),
    hex, and ``repr`` of the bytes."""
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    return [std, std.rstrip("="), url.rstrip("="), raw.hex(), repr(raw)[2:-1]]


def token_forms(token: str) -> list[str]:
    """The whole token and its signature segment (a logged signature is as bad as the token)."""
    return [token, token.rsplit(".", 1)[-1]]


@attrs.define
class Secrets:
    """Named strings that must appear nowhere they are checked for."""

    needles: dict[str, list[str]] = attrs.Factory(dict)

    def add(self, name: str, *forms: str) -> None:
        self.needles.setdefault(name, []).extend(form for form in forms if form)

    def found_in(self, texts: Iterable[str]) -> list[tuple[str, str]]:
        """(secret name, first 120 characters of the text) for every text holding a secret."""
        hits: list[tuple[str, str]] = []
        for text in texts:
            for name, forms in self.needles.items():
                if any(form in text for form in forms):
                    hits.append((name, text[:120]))
        return hits


def response_text(response: httpx.Response) -> str:
    """Status line, headers and body: everything a client receives."""
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"{response.status_code}\n{headers}\n{response.text}"


def no_stack_traces(lines: Iterable[str]) -> list[str]:
    """Lines holding a traceback (the formatter's ``exception`` member, or a printed one)."""
    return [line[:200] for line in lines if '"exception":' in line or "Traceback (most recent" in line]


@attrs.define
class RemoteStack:
    gw: RunningGateway
    auth: FakeManaAuth
    sync: FakeManaSync
    auth_url: str
    sync_url: str


def remote_auth() -> FakeManaAuth:
    """mana-auth with Alice and Bob: a personal space each and the shared family space."""
    auth = FakeManaAuth()
    auth.add_space(ALICE_HOME, "Alice", type="personal", members=[(ALICE, "owner")])
    auth.add_space(BOB_HOME, "Bob", type="personal", members=[(BOB, "owner")])
    auth.add_space(FAMILY, "Family", type="family", members=[(ALICE, "owner"), (BOB, "member")])
    return auth


@contextlib.asynccontextmanager
async def remote_stack(
    tmp_path: Path, env: Mapping[str, str] | None = None, configure: Any = None
) -> AsyncIterator[RemoteStack]:
    """The remote profile (production wiring) against the stand-ins, all on 127.0.0.1."""
    auth = remote_auth()
    sync = FakeManaSync(auth.jwks, auth.memberships)
    async with serve(auth.app) as auth_url, serve(sync.app) as sync_url:
        settings = {
            "MANA_AUTH_URL": auth_url,
            "MANA_SYNC_URL": sync_url,
            "MANA_SERVICE_KEY": DEFAULT_SERVICE_KEY,
            "JWT_ISSUER": auth.issuer,
            "HOST": "127.0.0.1",
            **(env or {}),
        }
        async with gateway(tmp_path, settings, profile="remote", configure=configure) as gw:
            gw.tokens.update({ALICE: auth.mint(ALICE), BOB: auth.mint(BOB)})
            yield RemoteStack(gw, auth, sync, auth_url, sync_url)
