"""``spaces.list``: the caller's spaces from the directory the space check uses (tools.md §2.5)."""

from __future__ import annotations

from mana.application.context import ToolContext
from mana.application.inputs import SpacesList
from mana.application.outputs import SpacesListed
from mana.application.ports import SpaceDirectory
from mana.domain.spaces import sort_spaces


class ListSpaces:
    """Plaintext only: never fetches a key, so it works for zero-knowledge accounts too."""

    def __init__(self, spaces: SpaceDirectory) -> None:
        self._spaces = spaces

    async def __call__(self, ctx: ToolContext, args: SpacesList) -> SpacesListed:
        found = await self._spaces.spaces(ctx.caller)
        return SpacesListed(spaces=tuple(sort_spaces(list(found))), active_space_id=ctx.space_id)
