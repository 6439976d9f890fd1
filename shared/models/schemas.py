"""JSON Schemas of every event type's ``data``, generated from the pydantic models.

``make schemas`` writes them to ``schemas/<event type>.json``; a test fails when the checked-in
files differ from what the models generate, so the published contract cannot drift.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.models.events import EVENT_MODELS

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"


def generate() -> dict[str, dict[str, Any]]:
    """``{file name: JSON Schema}`` for every event type in ``EVENT_MODELS``."""
    out: dict[str, dict[str, Any]] = {}
    for event_type, model in sorted(EVENT_MODELS.items()):
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://codex-judge.io/schemas/{event_type}.json"
        schema["x-cloudevent-type"] = event_type
        out[f"{event_type}.json"] = schema
    return out


def render(schema: dict[str, Any]) -> str:
    """The canonical text of a schema file (sorted keys, 2-space indent, final newline)."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write(directory: Path = SCHEMAS_DIR) -> list[Path]:
    """Write every schema; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in generate().items():
        path = directory / name
        path.write_text(render(schema))
        written.append(path)
    return written


def drift(directory: Path = SCHEMAS_DIR) -> list[str]:
    """File names whose checked-in text differs from the models (missing files included)."""
    return [
        name
        for name, schema in generate().items()
        if not (directory / name).is_file() or (directory / name).read_text() != render(schema)
    ]
