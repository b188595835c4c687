"""The tool catalog: names, titles, descriptions, scope, policy hint, annotations and schemas.

A ToolSpec is pure description; the use case that runs it is bound by canonical name in
:mod:`mana.application.service`. Exposure rules (D8, D9) are applied here so that every entrypoint
publishes the same catalog.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from functools import cached_property
from typing import Any, Literal

import attrs

from mana.application import inputs, outputs
from mana.application.invocation import PublishedTool
from mana.application.schema import InputModel, output_schema

Scope = Literal["user-space", "admin"]
PolicyHint = Literal["read", "write", "destructive"]
NamingMode = Literal["underscore", "dotted"]

_TOOL_REFERENCE = re.compile(r"\{([a-z]+\.[a-z]+)\}")


@attrs.frozen(slots=False)
class ToolSpec:
    name: str
    """The canonical name ``module.verb`` (D8): registry key, policy configuration, metrics, logs."""
    title: str
    description: str
    """May name other tools as ``{module.verb}``; they are rendered with the exposed names."""
    input_type: type[Any]
    output_type: type[Any]
    hint: PolicyHint
    scope: Scope = "user-space"
    idempotent: bool = False
    """For ``write`` and ``destructive`` tools; ``read`` tools are always idempotent (D9)."""

    @cached_property
    def input_model(self) -> InputModel:
        return InputModel(self.input_type)

    @cached_property
    def output_schema(self) -> dict[str, Any]:
        return output_schema(self.output_type)

    @property
    def module(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def is_write(self) -> bool:
        return self.hint != "read"

    def exposed_name(self, naming: NamingMode) -> str:
        return self.name if naming == "dotted" else self.name.replace(".", "_")

    def rendered_description(self, naming: NamingMode) -> str:
        def name_of(m: re.Match[str]) -> str:
            canonical = m.group(1)
            return canonical if naming == "dotted" else canonical.replace(".", "_")

        return _TOOL_REFERENCE.sub(name_of, self.description)

    def annotations(self) -> dict[str, Any]:
        """All four hints always explicit: the MCP defaults would misdescribe these tools (D9)."""
        return {
            "title": self.title,
            "readOnlyHint": self.hint == "read",
            "destructiveHint": self.hint == "destructive",
            "idempotentHint": True if self.hint == "read" else self.idempotent,
            "openWorldHint": False,
        }

    def publish(self, naming: NamingMode) -> PublishedTool:
        return PublishedTool(
            name=self.exposed_name(naming),
            canonical_name=self.name,
            title=self.title,
            description=self.rendered_description(naming),
            input_schema=self.input_model.schema,
            output_schema=self.output_schema,
            annotations=self.annotations(),
        )


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="habits.create",
        title="Create habit",
        description='Create a new habit in the active space, e.g. "Coffee" or "Workout". Use targetPerDay '
        "for a daily count goal. Returns the created habit.",
        input_type=inputs.HabitsCreate,
        output_type=outputs.HabitCreated,
        hint="write",
    ),
    ToolSpec(
        name="habits.list",
        title="List habits",
        description="List the habits of the active space, sorted by their order. Archived habits are left "
        "out unless includeArchived is true.",
        input_type=inputs.HabitsList,
        output_type=outputs.HabitsListed,
        hint="read",
    ),
    ToolSpec(
        name="habits.update",
        title="Update habit",
        description="Change fields of an existing habit in the active space. Only the fields you pass are "
        "changed; pass null for targetPerDay or defaultDuration to clear them. Use {habits.archive} to "
        "archive.",
        input_type=inputs.HabitsUpdate,
        output_type=outputs.Ok,
        hint="write",
        idempotent=True,
    ),
    ToolSpec(
        name="habits.archive",
        title="Archive habit",
        description="Archive a habit of the active space, or unarchive it with archived set to false. "
        "Archived habits keep their history but are hidden from the active list. This does not delete "
        "anything.",
        input_type=inputs.HabitsArchive,
        output_type=outputs.Ok,
        hint="write",
        idempotent=True,
    ),
    ToolSpec(
        name="journal.add",
        title="Add journal entry",
        description="Write a journal entry in the active space. entryDate defaults to today (UTC). Title and "
        "content are stored encrypted; mood, tags and the date stay in plain text for statistics. Moods are "
        "German: dankbar, glücklich, zufrieden, neutral, nachdenklich, traurig, gestresst, wütend.",
        input_type=inputs.JournalAdd,
        output_type=outputs.JournalEntryAdded,
        hint="write",
    ),
    ToolSpec(
        name="notes.create",
        title="Create note",
        description="Create a Markdown note in the active space. content may use full Markdown. Title and "
        "content are stored encrypted; the created note is returned in plain text.",
        input_type=inputs.NotesCreate,
        output_type=outputs.NoteCreated,
        hint="write",
    ),
    ToolSpec(
        name="notes.search",
        title="Search notes",
        description="Search the notes of the active space for text in the title or content "
        "(case-insensitive substring). An empty query returns the most recently changed notes. Results are "
        "newest first and decrypted.",
        input_type=inputs.NotesSearch,
        output_type=outputs.NotesFound,
        hint="read",
    ),
    ToolSpec(
        name="spaces.list",
        title="List spaces",
        description="List the spaces you are a member of. activeSpaceId is the space this connection reads "
        "from and writes to (the X-Mana-Space header).",
        input_type=inputs.SpacesList,
        output_type=outputs.SpacesListed,
        hint="read",
    ),
    ToolSpec(
        name="todo.create",
        title="Create task",
        description="Create a task in the active space. Only title is required; description, priority (low, "
        "medium, high, urgent) and dueDate (YYYY-MM-DD or an ISO 8601 date-time) are optional. Returns the "
        "created task.",
        input_type=inputs.TodoCreate,
        output_type=outputs.TaskCreated,
        hint="write",
    ),
    ToolSpec(
        name="todo.list",
        title="List tasks",
        description="List the tasks of the active space, open tasks first in their list order. Completed "
        "tasks are left out unless includeCompleted is true. Values are returned decrypted; a field that "
        "cannot be decrypted is null and listed in warnings.",
        input_type=inputs.TodoList,
        output_type=outputs.TasksListed,
        hint="read",
    ),
    ToolSpec(
        name="todo.complete",
        title="Complete task",
        description="Mark a task of the active space as completed. Completing a task that is already "
        "completed changes nothing.",
        input_type=inputs.TodoComplete,
        output_type=outputs.Ok,
        hint="write",
        idempotent=True,
    ),
)


@attrs.frozen(slots=False)
class Catalog:
    """The tools exposed under one configuration, in ``tools/list`` order (tools.md §1.1)."""

    tools: Sequence[ToolSpec] = TOOLS
    naming: NamingMode = "underscore"
    allow_destructive: Collection[str] = frozenset()

    def is_exposed(self, spec: ToolSpec) -> bool:
        """Admin tools never reach MCP; destructive ones only when allowed by name (D9)."""
        if spec.scope == "admin":
            return False
        return spec.hint != "destructive" or spec.name in self.allow_destructive

    @cached_property
    def exposed(self) -> Mapping[str, ToolSpec]:
        return {spec.exposed_name(self.naming): spec for spec in self.tools if self.is_exposed(spec)}

    @cached_property
    def published(self) -> tuple[PublishedTool, ...]:
        return tuple(spec.publish(self.naming) for spec in self.exposed.values())

    def resolve(self, exposed_name: str) -> ToolSpec | None:
        return self.exposed.get(exposed_name)

    def by_canonical(self, name: str) -> ToolSpec | None:
        return next((s for s in self.tools if s.name == name), None)
