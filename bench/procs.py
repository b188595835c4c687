"""Server processes for the benchmark: start, wait until they answer, read their CPU time and RSS.

CPU time comes from ``/proc/<pid>/task/*/schedstat`` (nanoseconds on a CPU, every thread of the
process and of its worker processes), never from the client's own clock, so the client's cost
is not charged to the server. RSS comes from ``/proc/<pid>/status``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (worker processes)."""
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for kid in kids:
                found.append(int(kid))
                frontier.append(int(kid))
    return found


def _process_cpu_ns(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total


def cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and its descendants, in seconds (nanosecond resolution)."""
    return sum(_process_cpu_ns(p) for p in (pid, *children(pid))) / 1e9


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for {pid}")


class Server:
    """A server subprocess listening on ``port``; its stdout and stderr go to ``log``."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], port: int, log: Path):
        self.name = name
        self.port = port
        self.log = log
        self._out = log.open("wb")
        full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            list(argv), env=full_env, stdout=self._out, stderr=subprocess.STDOUT, cwd=ROOT
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str = "/health", timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + path, timeout=1.0).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer within {timeout_s} s")

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss(self) -> float:
        """RSS of the process, or of its largest worker when it has workers."""
        kids = children(self.pid)
        return max(rss_mib(p) for p in kids) if kids else rss_mib(self.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()


@contextlib.contextmanager
def started(server: Server, path: str = "/health") -> Iterator[Server]:
    try:
        server.wait_ready(path)
        yield server
    finally:
        server.stop()
