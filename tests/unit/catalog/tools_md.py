"""Reads the normative tool definitions out of the contract's tools.md (the spec folder beside the repo)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

SPEC_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "spec"
TOOLS_MD = SPEC_DIR / "tools.md"


def contract_tools() -> dict[str, dict[str, Any]]:
    """canonical name -> {title, description, inputSchema, outputSchema, annotations}."""
    text = TOOLS_MD.read_text(encoding="utf-8")
    sections = re.split(r"\n### 2\.\d+ `", text)[1:]
    tools: dict[str, dict[str, Any]] = {}
    for section in sections:
        name = section.split("`", 1)[0]
        title = re.search(r"\| title \| (.+?) \|", section)
        annotations = re.search(
            r"\| annotations \| readOnly `(\w+)`, destructive `(\w+)`, "
            r"idempotent `(\w+)`, openWorld `(\w+)` \|",
            section,
        )
        blocks = re.findall(r"```(text|json)\n(.*?)```", section, re.S)
        if title is None or annotations is None or len(blocks) < 3:
            raise ValueError(f"cannot parse the section of {name} in tools.md")
        ro, de, idem, ow = (v == "true" for v in annotations.groups())
        tools[name] = {
            "title": title.group(1),
            "description": blocks[0][1].strip(),
            "inputSchema": json.loads(blocks[1][1]),
            "outputSchema": json.loads(blocks[2][1]),
            "annotations": {
                "title": title.group(1),
                "readOnlyHint": ro,
                "destructiveHint": de,
                "idempotentHint": idem,
                "openWorldHint": ow,
            },
        }
    return tools


def contract_order() -> list[str]:
    text = TOOLS_MD.read_text(encoding="utf-8")
    line = re.search(r"always in this order:\n(.*?)\.\n", text, re.S)
    assert line is not None
    return re.findall(r"`([a-z]+\.[a-z]+)`", line.group(1))
