"""An unknown tool's name is echoed to its caller, but never more than a tool name can be long."""

from __future__ import annotations

from mana.entrypoints.mcp_server import MAX_SHOWN_NAME, shown_name


def test_a_plausible_name_is_echoed_whole() -> None:
    assert shown_name("habits_delete") == "habits_delete"
    assert shown_name("x" * MAX_SHOWN_NAME) == "x" * MAX_SHOWN_NAME


def test_a_huge_name_is_cut() -> None:
    shown = shown_name("y" * 4_000_000)
    assert shown == "y" * MAX_SHOWN_NAME + "…"
