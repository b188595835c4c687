"""The per-call context: everything a use case may know about who calls, where, and when."""

from __future__ import annotations

from datetime import datetime

import attrs

from mana.application.ports import Caller
from mana.domain.changes import Actor
from mana.domain.timestamps import format_instant


@attrs.frozen(slots=True)
class ToolContext:
    """Built from the current request (tools.md §1.6 step 4), never from a session."""

    caller: Caller
    space_id: str
    now: datetime
    """Taken once per call, already truncated to milliseconds; every time the call writes is this."""
    actor: Actor
    request_id: str
    tool_name: str
    """The exposed name the client called (for messages)."""
    now_text: str = attrs.field(init=False, eq=False)
    """``now`` in the written form, formatted once (a write stamps it three or four times)."""

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "now_text", format_instant(self.now))

    @property
    def user_id(self) -> str:
        return self.caller.user_id
