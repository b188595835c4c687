"""The gateway under load, in a process of its own: local mode (``mana-mcp serve``'s wiring), with
a short legacy-session TTL and the rate limit off. Run as a script by ``test_load.py``.

When serving, it writes one line to stderr: ``LOAD-READY {"url", "pid", "users": [...]}`` with a
token and space per user. Stdout carries the JSON log lines, as ``serve`` does. SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys

from mana.entrypoints.config import load_settings
from mana.entrypoints.container import build_container
from mana.entrypoints.http.sessions import SessionOwners
from mana.entrypoints.logs import configure_logging
from mana.entrypoints.serving import bind_socket, serve_app

READY = "LOAD-READY "


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--session-ttl", type=float, default=3.0)
    parser.add_argument("--sweep", type=float, default=0.5)
    args = parser.parse_args()

    configure_logging("info")
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    settings = load_settings(
        {"MANA_DATA_DIR": args.data_dir, "MANA_RATE_LIMIT": "0", "PORT": str(port), "HOST": "127.0.0.1"}
    )
    owners = SessionOwners(idle_timeout_s=args.session_ttl, sweep_interval_s=args.sweep)
    container = build_container(settings, "local", replace={"owners": owners})
    users = []
    for i in range(args.users):
        user = container.adapters.database().users.get_or_create(f"load{i}")
        token = container.adapters.issuer().issue(user.id, 120)
        users.append({"name": user.name, "user": user.id, "space": user.space_id, "token": token})
    app = container.app()
    gateway = container.gateway()
    stop = asyncio.Event()

    async def announce() -> None:
        url = f"http://127.0.0.1:{port}"
        sys.stderr.write(READY + json.dumps({"url": url, "pid": os.getpid(), "users": users}) + "\n")
        sys.stderr.flush()

    gateway.startup = [*gateway.startup, announce]

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: (container.lifecycle().begin_shutdown(), stop.set()))
        await serve_app(app, sock, stop.wait)

    try:
        asyncio.run(run())
    finally:
        sock.close()


if __name__ == "__main__":
    main()
