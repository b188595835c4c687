"""The argument types of the 11 tools (tools.md §2). Their fields ARE the published input schemas."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import attrs

from mana.application.schema import UNSET, Arr, Bool, Int, OrNull, Str, arg
from mana.domain.text import parse_due_date, valid_calendar_date

NON_SPACE = "must contain a non-space character"
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
COLOR = Str(pattern="^#[0-9a-fA-F]{6}$", pattern_rule="must be a colour like #6366f1")
DATE_PATTERN = "^\\d{4}-\\d{2}-\\d{2}$"
DATE_TIME_PATTERN = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$"
POSITIVE_OR_NULL = OrNull((Int(exclusive_minimum=0),))
PRIORITIES = ("low", "medium", "high", "urgent")
MOODS = ("dankbar", "glücklich", "zufrieden", "neutral", "nachdenklich", "traurig", "gestresst", "wütend")

Priority = Literal["low", "medium", "high", "urgent"]


ID = Str(format="uuid", pattern=UUID_PATTERN, pattern_rule="must be a UUID")


def valid_due_date_time(text: str) -> bool:
    try:
        parse_due_date(text)
    except ValueError:
        return False
    return True


def _title(max_length: int) -> Str:
    return Str(min_length=1, max_length=max_length, pattern="\\S", pattern_rule=NON_SPACE)


@attrs.frozen(kw_only=True, slots=True)
class HabitsCreate:
    title: str = arg(_title(120), description="Name of the habit.")
    icon: str = arg(
        Str(min_length=1, max_length=40), default="star", description="Icon name as used by the Mana app."
    )
    color: str = arg(COLOR, default="#6366f1", description="Colour as #RRGGBB.")
    target_per_day: int | None = arg(
        POSITIVE_OR_NULL,
        default=None,
        description="How many times per day the habit should be done; null for no count goal.",
    )
    default_duration: int | None = arg(
        POSITIVE_OR_NULL,
        default=None,
        description="Default duration of one occurrence in seconds; null for none.",
    )


@attrs.frozen(kw_only=True, slots=True)
class HabitsList:
    include_archived: bool = arg(Bool(), default=False, description="Also return archived habits.")


@attrs.frozen(kw_only=True, slots=True)
class HabitsUpdate:
    """Every optional field defaults to UNSET: only the fields passed are written (null included)."""

    id: str = arg(ID, description="Id of the habit.")
    title: str = arg(_title(120), default=UNSET)
    icon: str = arg(Str(min_length=1, max_length=40), default=UNSET)
    color: str = arg(COLOR, default=UNSET)
    target_per_day: int | None = arg(POSITIVE_OR_NULL, default=UNSET)
    default_duration: int | None = arg(POSITIVE_OR_NULL, default=UNSET)


@attrs.frozen(kw_only=True, slots=True)
class HabitsArchive:
    id: str = arg(ID, description="Id of the habit.")
    archived: bool = arg(Bool(), default=True, description="true to archive, false to unarchive.")


@attrs.frozen(kw_only=True, slots=True)
class SpacesList:
    pass


@attrs.frozen(kw_only=True, slots=True)
class TodoCreate:
    title: str = arg(_title(500), description="What needs to be done.")
    description: str = arg(Str(max_length=10000), default=UNSET, description="Optional details.")
    priority: Priority = arg(Str(enum=PRIORITIES), default="medium")
    due_date: str | None = arg(
        OrNull(
            (
                Str(pattern=DATE_PATTERN, check=valid_calendar_date),
                Str(format="date-time", pattern=DATE_TIME_PATTERN, check=valid_due_date_time),
            ),
            rule="must be a date YYYY-MM-DD or an ISO 8601 date-time with offset",
        ),
        default=None,
        description="Due date: a day as YYYY-MM-DD, or a date-time with Z or an offset such as +02:00. "
        "Stored in UTC.",
    )


@attrs.frozen(kw_only=True, slots=True)
class TodoList:
    include_completed: bool = arg(Bool(), default=False, description="Also return completed tasks.")
    limit: int = arg(Int(minimum=1, maximum=500), default=50, description="Maximum number of tasks returned.")


@attrs.frozen(kw_only=True, slots=True)
class TodoComplete:
    id: str = arg(ID, description="Id of the task.")


@attrs.frozen(kw_only=True, slots=True)
class NotesCreate:
    title: str = arg(_title(500))
    content: str = arg(Str(max_length=200000), default="", description="Markdown body.")
    color: str | None = arg(OrNull((COLOR,)), default=None, description="Colour as #RRGGBB, or null.")
    is_pinned: bool = arg(Bool(), default=False)


@attrs.frozen(kw_only=True, slots=True)
class NotesSearch:
    query: str = arg(
        Str(max_length=500), default="", description="Text to look for; empty matches every note."
    )
    include_archived: bool = arg(Bool(), default=False, description="Also search archived notes.")
    limit: int = arg(Int(minimum=1, maximum=100), default=20, description="Maximum number of notes returned.")


@attrs.frozen(kw_only=True, slots=True)
class JournalAdd:
    title: str | None = arg(OrNull((Str(max_length=500),)), default=None)
    content: str = arg(
        Str(min_length=1, max_length=200000, pattern="\\S", pattern_rule=NON_SPACE),
        description="The entry text.",
    )
    entry_date: str = arg(
        Str(pattern=DATE_PATTERN, pattern_rule="must be a date YYYY-MM-DD", check=valid_calendar_date),
        default=UNSET,
        description="Day of the entry as YYYY-MM-DD; defaults to today in UTC.",
    )
    mood: str | None = arg(OrNull((Str(enum=MOODS),)), default=None)
    tags: Sequence[str] = arg(Arr(Str()), default=())
