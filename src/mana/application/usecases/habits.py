"""``habits.*``: a plaintext table, so none of these tools ever fetches a key (tools.md §2.1-§2.4)."""

from __future__ import annotations

from typing import Any

from mana.application.context import ToolContext
from mana.application.errors import ToolError
from mana.application.inputs import HabitsArchive, HabitsCreate, HabitsList, HabitsUpdate
from mana.application.outputs import HabitCreated, HabitsListed, Ok
from mana.application.ports import ChangeLog, CollectionReader, IdSource
from mana.application.schema import UNSET
from mana.application.usecases.records import count_live, find_live, live_records, project
from mana.application.usecases.writes import insert_change, push, update_change
from mana.domain.records import Habit, habit_is_active, habit_sort_key, normalise_habit
from mana.domain.registry import HABITS

_UPDATABLE: tuple[tuple[str, str], ...] = (
    ("title", "title"),
    ("icon", "icon"),
    ("color", "color"),
    ("target_per_day", "targetPerDay"),
    ("default_duration", "defaultDuration"),
)


def nothing_to_update() -> ToolError:
    return ToolError(
        "nothing_to_update",
        "Nothing to update: pass at least one of title, icon, color, targetPerDay, defaultDuration.",
        "input_invalid",
    )


def habit_not_found(record_id: str) -> ToolError:
    return ToolError("not_found", f"Habit {record_id} was not found in the active space.", "tool_error")


class CreateHabit:
    def __init__(self, reader: CollectionReader, change_log: ChangeLog, ids: IdSource) -> None:
        self._reader = reader
        self._log = change_log
        self._ids = ids

    async def __call__(self, ctx: ToolContext, args: HabitsCreate) -> HabitCreated:
        order = await count_live(self._reader, ctx, HABITS)
        record_id = self._ids.new_id()
        domain: dict[str, Any] = {
            "title": args.title,
            "icon": args.icon,
            "color": args.color,
            "targetPerDay": args.target_per_day,
            "defaultDuration": args.default_duration,
            "order": order,
            "isArchived": False,
        }
        await push(self._log, ctx, HABITS, insert_change(ctx, HABITS, record_id, domain))
        now = ctx.now_text
        habit = Habit(
            id=record_id,
            title=args.title,
            icon=args.icon,
            color=args.color,
            target_per_day=args.target_per_day,
            default_duration=args.default_duration,
            order=order,
            is_archived=False,
            created_at=now,
            updated_at=now,
        )
        return HabitCreated(habit)


class ListHabits:
    def __init__(self, reader: CollectionReader) -> None:
        self._reader = reader

    async def __call__(self, ctx: ToolContext, args: HabitsList) -> HabitsListed:
        records = await live_records(
            self._reader, ctx, HABITS, None if args.include_archived else habit_is_active
        )
        records.sort(key=lambda r: habit_sort_key(r.record_id, r.values))
        habits, warnings = project(records, normalise_habit)
        return HabitsListed(habits, warnings)


class UpdateHabit:
    """Writes exactly the fields passed, even when unchanged (so a repeat is idempotent)."""

    def __init__(self, reader: CollectionReader, change_log: ChangeLog) -> None:
        self._reader = reader
        self._log = change_log

    async def __call__(self, ctx: ToolContext, args: HabitsUpdate) -> Ok:
        values = {wire: getattr(args, name) for name, wire in _UPDATABLE if getattr(args, name) is not UNSET}
        if not values:
            raise nothing_to_update()
        record_id = args.id.lower()
        record = await find_live(self._reader, ctx, HABITS, record_id)
        if record is None:
            raise habit_not_found(record_id)
        await push(self._log, ctx, HABITS, update_change(ctx, HABITS, record, values))
        return Ok()


class ArchiveHabit:
    def __init__(self, reader: CollectionReader, change_log: ChangeLog) -> None:
        self._reader = reader
        self._log = change_log

    async def __call__(self, ctx: ToolContext, args: HabitsArchive) -> Ok:
        record_id = args.id.lower()
        record = await find_live(self._reader, ctx, HABITS, record_id)
        if record is None:
            raise habit_not_found(record_id)
        await push(self._log, ctx, HABITS, update_change(ctx, HABITS, record, {"isArchived": args.archived}))
        return Ok()
