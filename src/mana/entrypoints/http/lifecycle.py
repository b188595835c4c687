"""Whether the process is draining: ``/ready`` and ``/mcp`` answer 503 from the moment shutdown starts."""

from __future__ import annotations


class Lifecycle:
    def __init__(self) -> None:
        self.stopping = False

    def begin_shutdown(self) -> None:
        self.stopping = True
