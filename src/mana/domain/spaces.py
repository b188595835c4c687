"""Spaces: mana-auth organizations. A record belongs to exactly one."""

from __future__ import annotations

from typing import Literal

import attrs

SpaceType = Literal["personal", "brand", "club", "family", "team", "practice"]
SPACE_TYPES: tuple[str, ...] = ("personal", "brand", "club", "family", "team", "practice")


@attrs.frozen(slots=True)
class Space:
    id: str
    name: str = ""
    slug: str | None = None
    type: SpaceType | None = None
    role: str | None = None


def space_type(value: object) -> SpaceType | None:
    """A known space type, else None (an unknown type is never treated as personal)."""
    if isinstance(value, str) and value in SPACE_TYPES:
        return value  # type: ignore[return-value]
    return None


def sort_spaces(spaces: list[Space]) -> list[Space]:
    """Personal first, then by name (case-insensitive), then id (tools.md §2.5)."""
    return sorted(spaces, key=lambda s: (s.type != "personal", s.name.lower(), s.id))
