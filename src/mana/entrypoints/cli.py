"""``mana-mcp serve | token | tools`` (gateway-http.md §2.1).

Errors are one line on stderr and an exit status (2 for configuration and usage, 1 otherwise),
never a traceback. The human-facing banner goes to stderr; stdout carries the JSON log lines of
``serve`` and the machine-readable output of ``token`` and ``tools``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import shlex
import signal
import socket
import sqlite3
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from mana import __version__
from mana.application.invocation import PublishedTool
from mana.entrypoints.config import ConfigError, Settings, load_settings
from mana.entrypoints.container import DEFAULT_TTL_MINUTES, Container, build_container, startup_warnings
from mana.entrypoints.logs import configure_logging
from mana.entrypoints.serving import bind_sockets, serve_app

log = logging.getLogger("mana.cli")

DEFAULT_USER = "dev"
SERVER_NAME = "mana"


class UsageError(Exception):
    """Exit status 2 with this one-line message."""


# --- output helpers --------------------------------------------------------------------------


def mcp_config(url: str, token: str, space: str) -> dict[str, Any]:
    """The client configuration Claude Code (and others) read from ``.mcp.json``."""
    headers = {"Authorization": f"Bearer {token}", "X-Mana-Space": space}
    return {"mcpServers": {SERVER_NAME: {"type": "http", "url": url, "headers": headers}}}


def claude_add_command(url: str, token: str, space: str) -> str:
    parts = [
        "claude", "mcp", "add", "--transport", "http", SERVER_NAME, url,
        "--header", f"Authorization: Bearer {token}",
        "--header", f"X-Mana-Space: {space}",
    ]  # fmt: skip
    return shlex.join(parts)


def tool_json(tool: PublishedTool) -> dict[str, Any]:
    return {
        "name": tool.name,
        "canonicalName": tool.canonical_name,
        "title": tool.title,
        "description": tool.description,
        "annotations": tool.annotations,
        "inputSchema": tool.input_schema,
        "outputSchema": tool.output_schema,
    }


def banner(settings: Settings, user_name: str, user_id: str, space: str, token: str, ttl_minutes: int) -> str:
    url = settings.mcp_url
    config = json.dumps(mcp_config(url, token, space), indent=2)
    hours = f"{ttl_minutes // 60} h" if ttl_minutes % 60 == 0 else f"{ttl_minutes} min"
    return "\n".join(
        [
            "",
            f"mana-mcp {__version__}: local mode, data in {settings.data_dir}",
            "",
            f"  MCP URL       {url}",
            f"  User          {user_name} ({user_id})",
            f"  Space         {space}   (send as X-Mana-Space)",
            f"  Dev token     {token}",
            f"                valid {hours}; a fresh one: mana-mcp token --user {shlex.quote(user_name)}",
            "",
            "Claude Code: paste this into .mcp.json at the root of your project ...",
            "",
            config,
            "",
            "... or run:",
            "",
            f"  {claude_add_command(url, token, space)}",
            "",
            "Stop with Ctrl-C.",
            "",
        ]
    )


# --- commands --------------------------------------------------------------------------------


def _settings(env: Mapping[str, str], overrides: Mapping[str, str] | None = None) -> Settings:
    return load_settings(env, overrides=overrides)


def _local_identity(container: Container, name: str, ttl_minutes: int) -> tuple[str, str, str, str]:
    """``(name, user id, personal space id, token)``, creating the data, the user and the key on first use."""
    settings: Settings = container.settings()
    try:
        user = container.adapters.database().users.get_or_create(name)
        token = container.adapters.issuer().issue(user.id, ttl_minutes)
    except ValueError as exc:
        raise UsageError(f"--user: {exc}") from None
    except (OSError, sqlite3.Error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ServeError(f"cannot use the local data directory {settings.data_dir}: {reason}") from None
    return user.name, user.id, user.space_id, token


def cmd_tools(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    settings = _settings(env)
    container = Container(settings=settings)
    published = container.catalog().published
    if args.json:
        out.write(json.dumps([tool_json(t) for t in published], ensure_ascii=False, indent=2) + "\n")
    else:
        width = max(len(t.name) for t in published)
        for tool in published:
            out.write(f"{tool.name.ljust(width)}  {tool.title}\n")
    return 0


def cmd_token(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    settings = _settings(env)
    if settings.mode != "local":
        raise UsageError("token works only in local mode")
    if args.ttl < 1:
        raise UsageError("--ttl must be a positive number of minutes")
    container = build_container(settings)
    _, user_id, space, token = _local_identity(container, args.user, args.ttl)
    if args.mcp_config:
        out.write(json.dumps(mcp_config(settings.mcp_url, token, space), indent=2) + "\n")
    elif args.json:
        payload = {"token": token, "user": user_id, "space": space, "url": settings.mcp_url}
        out.write(json.dumps(payload) + "\n")
    else:
        out.write(f"{token}\n{user_id}\n{space}\n")
    return 0


def cmd_serve(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    overrides = {
        key: value
        for key, value in (
            ("HOST", args.host),
            ("PORT", args.port),
            ("MANA_DATA_DIR", args.data_dir),
            ("MANA_WORKERS", args.workers),
        )
        if value is not None
    }
    settings = _settings(env, overrides)
    configure_logging(settings.log_level, out)
    container = build_container(settings)
    for warning in startup_warnings(settings, container.catalog()):
        log.warning(warning)
    if settings.mode == "local":
        err.write(f"Preparing local data in {settings.data_dir} ...\n")
        err.flush()
        name, user_id, space, token = _local_identity(container, args.user, DEFAULT_TTL_MINUTES)
        banner_text = banner(settings, name, user_id, space, token, DEFAULT_TTL_MINUTES)
    else:
        err.write(
            f"Connecting to mana-auth at {settings.auth_url} and mana-sync at {settings.sync_url} ...\n"
        )
        err.flush()
        banner_text = f"\nmana-mcp {__version__}: remote mode, MCP URL {settings.mcp_url}\n"
    try:
        socks = bind_sockets(settings.host, settings.port, settings.workers)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ServeError(f"cannot listen on {settings.host}:{settings.port}: {reason}") from None
    if settings.workers > 1:
        try:
            return _serve_workers(settings, container, socks, banner_text, err)
        finally:
            for sock in socks:
                sock.close()
    (sock,) = socks
    gateway = container.gateway()

    async def announce() -> None:
        err.write(banner_text + "\n")
        err.flush()

    gateway.startup = [*gateway.startup, announce]
    log.info(
        "starting",
        extra={
            "mode": settings.mode,
            "bind": f"{settings.host}:{settings.port}",
            **({"data_dir": str(settings.data_dir)} if settings.mode == "local" else {}),
        },
    )
    try:
        asyncio.run(_serve(container, sock))
    finally:
        sock.close()
    log.info("stopped")
    return 0


async def _serve(container: Container, sock: socket.socket) -> None:
    app = container.app()
    lifecycle = container.lifecycle()
    settle_heap()
    stop = asyncio.Event()

    def request_stop() -> None:
        lifecycle.begin_shutdown()
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop)
    await serve_app(app, sock, stop.wait)


def _serve_workers(
    settings: Settings, container: Container, socks: list[socket.socket], banner: str, err: TextIO
) -> int:
    """``--workers N``: N forked processes accept on the port bound here; this one supervises.

    Each worker gets a listening socket of its own in the port's ``SO_REUSEPORT`` group (see
    :func:`~mana.entrypoints.serving.bind_sockets`), or all share one where that is missing.

    Each worker builds its own container (caches, SQLite connections, upstream client) after the
    fork, so nothing opened here is shared. SIGINT/SIGTERM are passed on to every worker, which
    drains like a single gateway; if a worker dies on its own, the others are stopped too.
    """
    if settings.mode == "local":
        container.adapters.database().close()  # each worker opens its own connections
    sys.stdout.flush()
    err.flush()
    pids: list[int] = []
    for index in range(settings.workers):
        sock = socks[index % len(socks)]
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the worker process (covered by the subprocess test)
            code = 1
            try:
                for other in socks:
                    if other is not sock:
                        other.close()  # a socket no live worker accepts on would strand connections
                asyncio.run(_serve(build_container(settings), sock))
                code = 0
            except BaseException:
                log.exception("worker failed")
            finally:
                sys.stdout.flush()
                os._exit(code)
        pids.append(pid)
    if len(socks) > 1:
        for sock in socks:
            sock.close()  # the workers hold them; a dead worker's socket then leaves the group
    err.write(banner + f"\n{settings.workers} worker processes share {settings.host}:{settings.port}.\n")
    err.flush()
    log.info("workers started", extra={"workers": len(pids)})
    stopping = False

    def stop_all(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop_all) for sig in (signal.SIGINT, signal.SIGTERM)}
    failed = False
    try:
        remaining = set(pids)
        while remaining:
            pid, status = os.wait()
            remaining.discard(pid)
            if os.waitstatus_to_exitcode(status) != 0 and not stopping:
                failed = True
                log.error("a worker exited unexpectedly; stopping the others", extra={"status": status})
                stop_all(signal.SIGTERM, None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 1 if failed else 0


def settle_heap() -> None:
    """Move everything built so far (imported modules, the app) out of the collector's sight.

    A full collection otherwise walks some 200,000 start-up objects that never die; during a cold
    read of a long history that happened a few times per read (~0.2 s of a 100k-change read).
    """
    gc.collect()
    gc.freeze()


class ServeError(Exception):
    """Exit status 1 with this one-line message."""


# --- argument parsing ------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own usage errors: one line, status 2
        raise UsageError(message)


def parser() -> argparse.ArgumentParser:
    root = _Parser(prog="mana-mcp", description="MCP gateway to a user's Mana data.")
    root.add_argument("--version", action="version", version=f"mana-mcp {__version__}")
    commands = root.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = commands.add_parser("serve", help="start the gateway (local mode unless upstream URLs are set)")
    serve.add_argument("--host", help="bind address (overrides HOST)")
    serve.add_argument("--port", help="TCP port (overrides PORT)")
    serve.add_argument("--data-dir", help="local-mode data directory (overrides MANA_DATA_DIR)")
    serve.add_argument(
        "--workers",
        help="worker processes on the port (overrides MANA_WORKERS; needs MANA_LEGACY_SESSIONS=stateless)",
    )
    serve.add_argument(
        "--user", default=DEFAULT_USER, help=f"local user to print a token for (default {DEFAULT_USER})"
    )

    token = commands.add_parser("token", help="create a local user if needed and print a dev token")
    token.add_argument("--user", required=True, help="local user name")
    token.add_argument(
        "--ttl", type=int, default=DEFAULT_TTL_MINUTES, help="lifetime in minutes (default 720)"
    )
    shape = token.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help='print {"token", "user", "space", "url"}')
    shape.add_argument(
        "--mcp-config", action="store_true", help="print a ready .mcp.json client configuration"
    )

    tools = commands.add_parser("tools", help="print the tools exposed over MCP under this configuration")
    tools.add_argument("--json", action="store_true", help="print the full catalogue as JSON")
    return root


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    env = os.environ if env is None else env
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        args = parser().parse_args(argv)
        if args.command == "tools":
            return cmd_tools(args, env, out)
        if args.command == "token":
            return cmd_token(args, env, out)
        return cmd_serve(args, env, out, err)
    except (ConfigError, UsageError) as exc:
        err.write(f"mana-mcp: {exc}\n")
        return 2
    except ServeError as exc:
        err.write(f"mana-mcp: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if (env.get("LOG_LEVEL") or "").strip().lower() == "debug":
            traceback.print_exc(file=err)
        err.write(f"mana-mcp: unexpected {type(exc).__name__}; run with LOG_LEVEL=debug for details\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
