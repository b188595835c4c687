"""JSON log lines on stdout, each carrying the request id of the request that wrote it (gateway-http.md §9).

The request id lives in a ContextVar set by the HTTP edge, so every module can log with the plain
``logging`` API and still be correlated. Callers pass structured fields through ``extra``; what
they pass must already be safe to log (never a token, key, argument value or upstream body).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any, TextIO

request_id_var: ContextVar[str | None] = ContextVar("mana_request_id", default=None)

QUIET_LOGGERS = ("mcp", "httpx", "httpcore")
"""Libraries kept at WARNING whatever ``LOG_LEVEL`` says: the SDK logs every session id it creates
at INFO; httpx logs every upstream URL at INFO, and the memberships URL carries the raw user id
that the audit log only ever hashes."""

_STANDARD_ATTRS = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode
"""Built once: ``json.dumps`` with non-default arguments builds a new encoder for every line."""


class JsonFormatter(logging.Formatter):
    """One compact JSON object per record: time, level, request id, event, then the ``extra`` fields."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def _time(self, created: float) -> str:
        """``YYYY-MM-DDTHH:MM:SS.mmmZ``; the part up to the second is formatted once per second."""
        second = int(created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{int(created % 1 * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        request_id = request_id_var.get()
        if request_id is not None:
            line["request_id"] = request_id
        line["event"] = record.getMessage()
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _encode(line)


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Route the root logger (and Hypercorn's, which we hand a logger) to JSON lines on ``stream``."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
