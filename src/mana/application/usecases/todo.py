"""``todo.*`` (tools.md §2.6-§2.8). Titles, descriptions, subtasks and metadata are encrypted;
``todo.complete`` touches only plaintext fields and so needs no key."""

from __future__ import annotations

from typing import Any

from mana.application.context import ToolContext
from mana.application.errors import ToolError
from mana.application.inputs import TodoComplete, TodoCreate, TodoList
from mana.application.outputs import Ok, TaskCreated, TasksListed
from mana.application.ports import ChangeLog, CollectionReader, IdSource
from mana.application.schema import UNSET
from mana.application.usecases.records import (
    Keys,
    count_live,
    find_live,
    first,
    live_records,
    project,
)
from mana.application.usecases.writes import insert_change, push, update_change
from mana.domain.records import Task, normalise_task, task_is_completed, task_is_open, task_sort_key
from mana.domain.registry import TASKS
from mana.domain.replay import RecordState
from mana.domain.text import parse_due_date

_ENCRYPTED = tuple(sorted(TASKS.encrypted_fields))


def task_not_found(record_id: str) -> ToolError:
    return ToolError("not_found", f"Task {record_id} was not found in the active space.", "tool_error")


class CreateTask:
    """Writes the keys of the web app's task form: no ``completedAt``, ``subtasks`` or ``metadata``,
    and ``description`` only when given (tools.md §3.1)."""

    def __init__(self, reader: CollectionReader, change_log: ChangeLog, keys: Keys, ids: IdSource) -> None:
        self._reader = reader
        self._log = change_log
        self._keys = keys
        self._ids = ids

    async def __call__(self, ctx: ToolContext, args: TodoCreate) -> TaskCreated:
        cipher = await self._keys.cipher(ctx)
        order = await count_live(self._reader, ctx, TASKS)
        record_id = self._ids.new_id()
        due_date = None if args.due_date is None else parse_due_date(args.due_date)
        description = None if args.description is UNSET else args.description
        domain: dict[str, Any] = {"title": cipher.encrypt(args.title)}
        if description is not None:
            domain["description"] = cipher.encrypt(description)
        domain.update(
            priority=args.priority,
            isCompleted=False,
            dueDate=due_date,
            scheduledBlockId=None,
            estimatedDuration=None,
            order=order,
        )
        await push(self._log, ctx, TASKS, insert_change(ctx, TASKS, record_id, domain))
        now = ctx.now_text
        task = Task(
            id=record_id,
            title=args.title,
            description=description,
            priority=args.priority,
            is_completed=False,
            completed_at=None,
            due_date=due_date,
            order=order,
            subtasks=None,
            metadata=None,
            created_at=now,
            updated_at=now,
        )
        return TaskCreated(task)


class ListTasks:
    """Filters, sorts and cuts on plaintext fields; only the tasks returned are decrypted (D13)."""

    def __init__(self, reader: CollectionReader, keys: Keys) -> None:
        self._reader = reader
        self._keys = keys

    async def __call__(self, ctx: ToolContext, args: TodoList) -> TasksListed:
        cipher = await self._keys.cipher(ctx)
        records = await live_records(
            self._reader, ctx, TASKS, None if args.include_completed else task_is_open
        )
        chosen = first(records, args.limit, key=_sort_key)
        tasks, warnings = project(chosen, normalise_task, encrypted=TASKS.encrypted_fields, cipher=cipher)
        return TasksListed(tasks, warnings)


def _sort_key(record: RecordState) -> tuple[bool, int, str]:
    return task_sort_key(record.record_id, record.values)


class CompleteTask:
    """Completing a completed task writes nothing (D14); the same two fields as the web app's action."""

    def __init__(self, reader: CollectionReader, change_log: ChangeLog) -> None:
        self._reader = reader
        self._log = change_log

    async def __call__(self, ctx: ToolContext, args: TodoComplete) -> Ok:
        record_id = args.id.lower()
        record = await find_live(self._reader, ctx, TASKS, record_id)
        if record is None:
            raise task_not_found(record_id)
        if task_is_completed(record.values):
            return Ok()
        now = ctx.now_text
        change = update_change(ctx, TASKS, record, {"isCompleted": True, "completedAt": now})
        await push(self._log, ctx, TASKS, change)
        return Ok()
