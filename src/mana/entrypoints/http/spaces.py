"""The active space: the ``X-Mana-Space`` header and the membership check (D6, gateway-http.md §5)."""

from __future__ import annotations

import re
from typing import Protocol

from mana.application.ports import Caller, SpaceDirectory

MISSING = "Missing X-Mana-Space header (set it to the id of the active space)"
MALFORMED = "Malformed X-Mana-Space header"
NOT_A_MEMBER = "X-Mana-Space is not one of your spaces"
UNAVAILABLE = "Could not verify space membership; try again"

_VISIBLE_ASCII = re.compile(rb"[\x21-\x7e]{1,200}")


def space_header_error(value: bytes | None) -> str | None:
    """The 400 message for a missing or malformed header, else None."""
    if not value:
        return MISSING
    if _VISIBLE_ASCII.fullmatch(value) is None:
        return MALFORMED
    return None


class SpaceMembership(Protocol):
    """Whether the caller may act in a space. Raises ``UpstreamFailure`` when it cannot tell (→ 503)."""

    async def is_member(self, caller: Caller, space_id: str) -> bool: ...


class DirectoryMembership:
    """Membership read from a :class:`SpaceDirectory` (the local store's, which needs no cache)."""

    def __init__(self, directory: SpaceDirectory) -> None:
        self._directory = directory

    async def is_member(self, caller: Caller, space_id: str) -> bool:
        return any(space.id == space_id for space in await self._directory.spaces(caller))


class AnySpace:
    """``MANA_SPACE_CHECK=off``: the header is still required, its value is trusted."""

    async def is_member(self, caller: Caller, space_id: str) -> bool:
        return True
