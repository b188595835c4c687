"""The policy gate (D15, tools.md §1.8): scope, destructive allow-list, rate limit, injection markers.

Injection markers never block: a hit is logged and counted (by JSON pointer and marker number,
never the string) so that operators can see what agents are fed.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable, Collection, Iterator
from typing import Any, Literal

import attrs

from mana.application.catalog import ToolSpec
from mana.application.errors import ToolError
from mana.application.ports import ToolObserver

PolicyMode = Literal["enforce", "log-only", "off"]
WINDOW_S = 60.0

INJECTION_MARKERS: tuple[re.Pattern[str], ...] = (
    re.compile(r"ignore\s+(?:(?:all|the)\s+)?previous\s+(?:instructions|messages)", re.IGNORECASE),
    re.compile(r"you are now.{0,40}?(?:assistant|gpt|claude|gemini)", re.IGNORECASE | re.DOTALL),
    re.compile(r"<\s*system", re.IGNORECASE),
    re.compile(r"\{\{.*?\}\}", re.DOTALL),
    re.compile(r"```\s*system", re.IGNORECASE),
)
MIN_MARKER_LENGTH = 16


@attrs.frozen(slots=True)
class Decision:
    decision: Literal["allow", "deny", "would_deny", "flagged"]
    reason: str


def find_markers(value: Any, pointer: str = "") -> Iterator[tuple[str, int]]:
    """(JSON pointer, marker number) of every string of 16+ characters that looks like an injection."""
    if isinstance(value, str):
        if len(value) >= MIN_MARKER_LENGTH:
            for number, marker in enumerate(INJECTION_MARKERS, start=1):
                if marker.search(value):
                    yield (pointer or "/", number)
                    break
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from find_markers(item, f"{pointer}/{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from find_markers(item, f"{pointer}/{index}")


class PolicyGate:
    """Per process: the rate-limit windows live here, keyed by (sub, canonical tool name)."""

    def __init__(
        self,
        *,
        mode: PolicyMode = "enforce",
        rate_limit: int = 30,
        allow_destructive: Collection[str] = frozenset(),
        monotonic: Callable[[], float],
        observer: ToolObserver | None = None,
    ) -> None:
        self._mode = mode
        self._limit = rate_limit
        self._allow_destructive = frozenset(allow_destructive)
        self._monotonic = monotonic
        self._observer = observer
        self._calls: dict[tuple[str, str], deque[float]] = {}
        self._next_sweep = monotonic() + WINDOW_S

    def check(self, spec: ToolSpec, exposed_name: str, user_id: str, arguments: Any) -> Decision | None:
        """Raises the deny as a ToolError in enforce mode; returns the decision otherwise (None when off)."""
        if self._mode == "off":
            return None
        now = self._monotonic()
        if now >= self._next_sweep:
            self._sweep(now)
        denial = self._denial(spec, exposed_name, user_id, now)
        if denial is not None:
            reason, error = denial
            if self._mode == "enforce":
                self._report(spec, "deny", reason, user_id, None)
                raise error
            self._report(spec, "would_deny", reason, user_id, None)
        self._record(spec, user_id, now)
        hits = list(find_markers(arguments))
        if hits:
            detail = ", ".join(f"{pointer} (marker {number})" for pointer, number in hits)
            self._report(spec, "flagged", "injection-marker", user_id, detail)
            return Decision("flagged", "injection-marker")
        if denial is None:
            self._report(spec, "allow", "clean", user_id, None)
            return Decision("allow", "clean")
        return Decision("would_deny", denial[0])

    def _denial(self, spec: ToolSpec, exposed: str, user_id: str, now: float) -> tuple[str, ToolError] | None:
        if spec.scope == "admin":
            return "admin-scope-not-invokable", ToolError(
                "not_allowed", f"{exposed} cannot be called over MCP.", "policy_denied"
            )
        if spec.hint == "destructive" and spec.name not in self._allow_destructive:
            return "destructive-not-allowed", ToolError(
                "not_allowed",
                f"{exposed} is destructive and is not enabled on this gateway.",
                "policy_denied",
            )
        if self._limit > 0:
            window = self._window(spec, user_id, now)
            if len(window) >= self._limit:
                retry_in = max(1, math.ceil(window[0] + WINDOW_S - now))
                return "rate-limit-exceeded", ToolError(
                    "rate_limited",
                    f"Rate limit reached for {exposed}: at most {self._limit} calls per 60 seconds. "
                    f"Try again in {retry_in} seconds.",
                    "policy_denied",
                )
        return None

    def _window(self, spec: ToolSpec, user_id: str, now: float) -> deque[float]:
        window = self._calls.get((user_id, spec.name))
        if window is None:
            return deque()
        while window and window[0] <= now - WINDOW_S:
            window.popleft()
        if not window:
            del self._calls[(user_id, spec.name)]
        return window

    def _sweep(self, now: float) -> None:
        """Forget the windows of users who stopped calling, so memory follows active users only."""
        expired = [key for key, window in self._calls.items() if not window or window[-1] <= now - WINDOW_S]
        for key in expired:
            del self._calls[key]
        self._next_sweep = now + WINDOW_S

    @property
    def tracked_windows(self) -> int:
        return len(self._calls)

    def _record(self, spec: ToolSpec, user_id: str, now: float) -> None:
        if self._limit > 0:
            self._calls.setdefault((user_id, spec.name), deque()).append(now)

    def _report(self, spec: ToolSpec, decision: str, reason: str, user_id: str, detail: str | None) -> None:
        if self._observer is not None:
            self._observer.policy_decision(
                tool=spec.name, decision=decision, reason=reason, user_id=user_id, detail=detail
            )
