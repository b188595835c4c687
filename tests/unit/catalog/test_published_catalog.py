"""The published catalog is the contract of tools.md, and any change to it is a reviewed change."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mana.application.catalog import TOOLS, Catalog, ToolSpec
from mana.application.inputs import SpacesList
from mana.application.outputs import Ok

from .tools_md import SPEC_DIR, contract_order, contract_tools

SNAPSHOT = Path(__file__).with_name("catalog.snapshot.json")


def published(catalog: Catalog) -> list[dict[str, Any]]:
    return [
        {
            "name": t.name,
            "canonicalName": t.canonical_name,
            "title": t.title,
            "description": t.description,
            "annotations": dict(t.annotations),
            "inputSchema": t.input_schema,
            "outputSchema": t.output_schema,
        }
        for t in catalog.published
    ]


def test_snapshot_of_the_whole_published_catalog() -> None:
    current = published(Catalog())
    if os.environ.get("UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert current == json.loads(SNAPSHOT.read_text(encoding="utf-8"))


needs_contract = pytest.mark.skipif(
    not SPEC_DIR.is_dir(), reason="the contract folder ../shared/spec is not beside this clone"
)


@needs_contract
def test_every_tool_matches_tools_md_exactly() -> None:
    contract = contract_tools()
    ours = {t["canonicalName"]: t for t in published(Catalog())}
    assert set(ours) == set(contract)
    for name, spec in contract.items():
        tool = ours[name]
        assert tool["name"] == name.replace(".", "_")
        assert tool["title"] == spec["title"], name
        assert tool["description"] == spec["description"], name
        assert tool["annotations"] == spec["annotations"], name
        assert tool["inputSchema"] == spec["inputSchema"], name
        assert tool["outputSchema"] == spec["outputSchema"], name


@needs_contract
def test_tools_are_listed_in_the_contract_order() -> None:
    assert [t.canonical_name for t in Catalog().published] == contract_order()


def test_dotted_naming_exposes_canonical_names_and_renders_descriptions_with_them() -> None:
    dotted = Catalog(naming="dotted")
    assert [t.name for t in dotted.published] == [s.name for s in TOOLS]
    update = dotted.resolve("habits.update")
    assert update is not None
    assert "Use habits.archive to archive." in update.rendered_description("dotted")
    assert dotted.resolve("habits_update") is None
    assert Catalog().resolve("habits.update") is None
    default_update = next(t for t in Catalog().published if t.name == "habits_update")
    assert "Use habits_archive to archive." in default_update.description


def _extra(name: str, **kwargs: Any) -> ToolSpec:
    return ToolSpec(name=name, title=name, description="x", input_type=SpacesList, output_type=Ok, **kwargs)


def test_admin_tools_are_never_exposed_and_destructive_ones_only_when_allowed() -> None:
    admin = _extra("admin.purge", hint="write", scope="admin")
    destructive = _extra("habits.delete", hint="destructive", idempotent=True)
    hidden = Catalog(tools=(*TOOLS, admin, destructive))
    assert "admin_purge" not in hidden.exposed
    assert "habits_delete" not in hidden.exposed
    allowed = Catalog(tools=(*TOOLS, admin, destructive), allow_destructive={"habits.delete", "admin.purge"})
    assert "admin_purge" not in allowed.exposed
    tool = next(t for t in allowed.published if t.name == "habits_delete")
    assert tool.annotations == {
        "title": "habits.delete",
        "readOnlyHint": False,
        "destructiveHint": True,
        "idempotentHint": True,
        "openWorldHint": False,
    }
