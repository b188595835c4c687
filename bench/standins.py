"""``python -m bench.standins``: the project's mana-auth and mana-sync stand-ins in their own process.

Besides the two stand-ins it serves a control app on a third port, so the benchmark can add
users (and get their tokens), switch mana-sync's added latency, plant a long task history and
write new changes as the web app would, without any of that costing the gateway CPU time.

Histories are planted before anything else is stored, with server times an hour in the past: a
resumed read (cursor minus a 10 s overlap) must not fetch them again, exactly as with a real
account whose history is older than the last read.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from quart import Quart, Response, request

from mana.adapters.crypto import AesGcmFieldCipher
from mana.adapters.standins.fake_mana_auth import FakeManaAuth
from mana.adapters.standins.fake_mana_sync import FakeManaSync
from mana.domain.timestamps import format_instant
from mana.entrypoints.serving import running

WEB_CLIENT = "web-bench"
UPDATES_PER_TASK = 4
"""Each planted task is one insert and four updates: a history of n changes holds n/5 tasks."""


class Clock:
    """mana-sync's clock, shifted into the past while histories are planted."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) - self.offset


def history_changes(user: str, space: str, count: int, cipher: AesGcmFieldCipher) -> list[dict[str, Any]]:
    """``count`` changes of the web app's task list: inserts, reorders, edits and completions."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    tick = itertools.count()
    changes: list[dict[str, Any]] = []
    tasks = max(1, count // (1 + UPDATES_PER_TASK))
    for t in range(tasks):
        record = f"00000000-0000-4000-8000-{t:012d}"
        at = format_instant(start + timedelta(seconds=next(tick)))
        data = {
            "id": record,
            "title": cipher.encrypt(f"Task {t}"),
            "priority": "medium",
            "isCompleted": False,
            "dueDate": None,
            "order": t,
            "spaceId": space,
            "authorId": user,
            "visibility": "space",
            "createdAt": at,
        }
        changes.append({"table": "tasks", "id": record, "op": "insert", "spaceId": space, "data": data})
    for step in range(UPDATES_PER_TASK):
        for t in range(tasks):
            if len(changes) >= count:
                return changes
            record = f"00000000-0000-4000-8000-{t:012d}"
            at = format_instant(start + timedelta(seconds=next(tick)))
            if step == UPDATES_PER_TASK - 1:
                # most of a long list is done: a few hundred tasks stay open
                fields = {"isCompleted": {"value": t % 50 != 0, "at": at}}
            elif step == 1:
                fields = {"title": {"value": cipher.encrypt(f"Task {t} (edited)"), "at": at}}
            else:
                fields = {"order": {"value": tasks - t + step, "at": at}}
            changes.append(
                {"table": "tasks", "id": record, "op": "update", "spaceId": space, "fields": fields}
            )
    return changes


class Control:
    def __init__(self, auth: FakeManaAuth, sync: FakeManaSync, clock: Clock) -> None:
        self.auth = auth
        self.sync = sync
        self.clock = clock
        self.app = self._build()
        self._new = itertools.count()

    def add_user(self, user: str) -> dict[str, str]:
        space = "sp_" + user
        self.auth.add_space(space, "Personal", type="personal", members=[(user, "owner")])
        return {"user": user, "space": space, "token": self.auth.mint(user, ttl_s=6 * 3600)}

    def push(self, user: str, changes: list[dict[str, Any]]) -> None:
        for i in range(0, len(changes), 1000):
            body = {
                "clientId": WEB_CLIENT,
                "since": "2100-01-01T00:00:00.000Z",
                "changes": changes[i : i + 1000],
            }
            answer = self.sync.server.push(user, WEB_CLIENT, "todo", json.dumps(body).encode())
            if answer.status != 200:
                raise RuntimeError(f"planting failed: {answer.status} {answer.text}")

    def plant(self, sizes: list[int]) -> list[dict[str, str]]:
        self.clock.offset = timedelta(hours=1)
        planted = []
        for size in sizes:
            who = self.add_user(f"u_hist_{size}")
            cipher = AesGcmFieldCipher(self.auth.user(who["user"]).master_key)
            self.push(who["user"], history_changes(who["user"], who["space"], size, cipher))
            planted.append({**who, "changes": str(size)})
        self.clock.offset = timedelta(0)
        return planted

    def _build(self) -> Quart:
        app = Quart("bench_control")

        @app.get("/health")
        async def health() -> Response:
            return Response("{}", content_type="application/json")

        @app.post("/users")
        async def users() -> Response:
            body = await request.get_json()
            made = [self.add_user(f"{body['prefix']}{i}") for i in range(int(body["count"]))]
            return Response(json.dumps(made), content_type="application/json")

        @app.post("/latency")
        async def latency() -> Response:
            body = await request.get_json()
            self.sync.set_latency(float(body["seconds"]))
            return Response("{}", content_type="application/json")

        @app.post("/new-changes")
        async def new_changes() -> Response:
            """``count`` web-app updates of the user's planted tasks, stored now."""
            body = await request.get_json()
            user, space, count = body["user"], body["space"], int(body["count"])
            now = datetime.now(UTC)
            changes = []
            for i in range(count):
                n = next(self._new)
                record = f"00000000-0000-4000-8000-{n % 10:012d}"
                at = format_instant(now + timedelta(milliseconds=i))
                fields = {"priority": {"value": ("low", "high")[n % 2], "at": at}}
                changes.append(
                    {"table": "tasks", "id": record, "op": "update", "spaceId": space, "fields": fields}
                )
            self.push(user, changes)
            return Response("{}", content_type="application/json")

        @app.post("/forget-requests")
        async def forget_requests() -> Response:
            self.sync.requests.clear()
            self.auth.last_headers.clear()
            return Response("{}", content_type="application/json")

        return app


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--auth-port", type=int, required=True)
    parser.add_argument("--sync-port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--plant", default="", help="comma-separated history sizes to plant at start")
    parser.add_argument("--ready-file", required=True)
    args = parser.parse_args()
    auth = FakeManaAuth()
    clock = Clock()
    sync = FakeManaSync(auth.jwks, auth.memberships, clock=clock)
    control = Control(auth, sync, clock)
    planted = control.plant([int(s) for s in args.plant.split(",") if s])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with (
        serve_on(auth.app, args.auth_port),
        serve_on(sync.app, args.sync_port),
        serve_on(control.app, args.control_port),
    ):
        announce(Path(args.ready_file), {"issuer": auth.issuer, "planted": planted})
        await stop.wait()


def announce(path: Path, info: dict[str, Any]) -> None:
    """Written in one rename, so the benchmark never reads half a file."""
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(info))
    partial.rename(path)


def serve_on(app: Any, port: int) -> Any:
    return running(app, "127.0.0.1", port)


if __name__ == "__main__":
    asyncio.run(main())
