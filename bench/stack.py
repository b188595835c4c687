"""The processes one benchmark section needs: stand-ins, the gateway in a profile, the floor.

Everything listens on 127.0.0.1 on a fresh port; every process is stopped when its block ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import httpx

from bench.loadgen import Target
from bench.procs import PYTHON, ROOT, Server, free_port, started
from mana.adapters.standins.fake_mana_auth import DEFAULT_SERVICE_KEY

GATEWAY = [PYTHON, "-m", "mana.entrypoints.cli", "serve"]
BENCH_ENV = {"MANA_RATE_LIMIT": "0", "LOG_LEVEL": "info"}
"""The rate limit (30 calls of a tool per minute) would stop a benchmark after 30 calls; the audit
log stays on (one JSON line per call, to a file) because production pays for it too."""


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MANA_", "JWT_", "PORT", "HOST"))}


@attrs.define
class Identity:
    user: str
    space: str
    token: str

    def target(self, port: int) -> Target:
        return Target(
            "127.0.0.1", port, {"Authorization": f"Bearer {self.token}", "X-Mana-Space": self.space}
        )


@attrs.define
class Standins:
    server: Server
    auth_url: str
    sync_url: str
    control_url: str
    issuer: str
    planted: list[dict[str, str]]

    def control(self, path: str, body: Mapping[str, Any]) -> Any:
        response = httpx.post(self.control_url + path, json=dict(body), timeout=120.0)
        response.raise_for_status()
        return response.json()

    def users(self, prefix: str, count: int) -> list[Identity]:
        made = self.control("/users", {"prefix": prefix, "count": count})
        return [Identity(m["user"], m["space"], m["token"]) for m in made]

    def latency(self, seconds: float) -> None:
        self.control("/latency", {"seconds": seconds})


@contextlib.contextmanager
def standins(work: Path, plant: tuple[int, ...] = ()) -> Iterator[Standins]:
    ports = [free_port() for _ in range(3)]
    ready = work / "standins.ready"
    ready.unlink(missing_ok=True)
    argv = [
        PYTHON, "-m", "bench.standins",
        "--auth-port", str(ports[0]), "--sync-port", str(ports[1]), "--control-port", str(ports[2]),
        "--plant", ",".join(map(str, plant)), "--ready-file", str(ready),
    ]  # fmt: skip
    server = Server("stand-ins", argv, _clean_env(), ports[2], work / "standins.log")
    try:
        deadline = time.monotonic() + 180
        while not ready.exists():
            if server.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("stand-ins did not start: " + server.log.read_text()[-2000:])
            time.sleep(0.1)
        time.sleep(0.1)
        info = json.loads(ready.read_text())
        yield Standins(
            server,
            f"http://127.0.0.1:{ports[0]}",
            f"http://127.0.0.1:{ports[1]}",
            f"http://127.0.0.1:{ports[2]}",
            info["issuer"],
            info["planted"],
        )
    finally:
        server.stop()


def remote_env(stand: Standins) -> dict[str, str]:
    return {
        "MANA_AUTH_URL": stand.auth_url,
        "MANA_SYNC_URL": stand.sync_url,
        "MANA_SERVICE_KEY": DEFAULT_SERVICE_KEY,
        "JWT_ISSUER": stand.issuer,
        "HOST": "127.0.0.1",
    }


def local_identity(data_dir: Path, user: str = "bench") -> Identity:
    env = {**_clean_env(), "MANA_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [PYTHON, "-m", "mana.entrypoints.cli", "token", "--user", user, "--json", "--ttl", "600"],
        env=env, capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    made = json.loads(out.stdout)
    return Identity(made["user"], made["space"], made["token"])


@contextlib.contextmanager
def gateway(
    work: Path, name: str, env: Mapping[str, str], *, workers: int = 1, extra: Mapping[str, str] | None = None
) -> Iterator[Server]:
    port = free_port()
    full = {**_clean_env(), **BENCH_ENV, **env, **(extra or {}), "PORT": str(port)}
    argv = [*GATEWAY, *(["--workers", str(workers)] if workers > 1 else [])]
    with started(Server(name, argv, full, port, work / f"{name}.log")) as server:
        yield server


@contextlib.contextmanager
def floor(work: Path, name: str, args: list[str]) -> Iterator[Server]:
    port = free_port()
    argv = [PYTHON, "-m", "bench.floor", "--port", str(port), *args]
    with started(Server(name, argv, _clean_env(), port, work / f"{name}.log")) as server:
        yield server


@contextlib.contextmanager
def bare_http(work: Path) -> Iterator[Server]:
    """Hypercorn alone with a fixed answer (``bench.bare_http``): what HTTP costs before any MCP."""
    port = free_port()
    argv = [PYTHON, "-m", "bench.bare_http", "--port", str(port)]
    with started(Server("bare-http", argv, _clean_env(), port, work / "bare-http.log")) as server:
        yield server
