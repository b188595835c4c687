"""The policy gate's own bookkeeping: rate-limit windows are per (user, tool) and do not pile up."""

from __future__ import annotations

import pytest

from mana.application.catalog import Catalog
from mana.application.errors import ToolError
from mana.application.policy import PolicyGate


class Tick:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


SPEC = Catalog().resolve("habits_list")


def test_windows_of_users_who_stopped_calling_are_forgotten() -> None:
    assert SPEC is not None
    clock = Tick()
    gate = PolicyGate(rate_limit=5, monotonic=clock)
    for user in range(100):
        gate.check(SPEC, "habits_list", f"user-{user}", {})
    assert gate.tracked_windows == 100
    clock.now += 61
    gate.check(SPEC, "habits_list", "still-active", {})
    assert gate.tracked_windows == 1


def test_forgetting_never_lifts_a_limit_that_still_applies() -> None:
    assert SPEC is not None
    clock = Tick()
    gate = PolicyGate(rate_limit=2, monotonic=clock)
    gate.check(SPEC, "habits_list", "alice", {})
    clock.now += 59
    gate.check(SPEC, "habits_list", "alice", {})
    clock.now += 2  # the first call left the window; the second is 2 s old and must still count
    gate.check(SPEC, "habits_list", "alice", {})
    with pytest.raises(ToolError) as denied:
        gate.check(SPEC, "habits_list", "alice", {})
    assert denied.value.code == "rate_limited"
    assert "Try again in 58 seconds." in denied.value.message  # the call at +59 s leaves at +119 s
