"""scenes/scene.schema.json is generated from the models: `python -m engine.scene.schema`.

A test fails when the file is stale, so the schema editors use can never drift from the loader.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engine.scene.model import scene_json_schema

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "scenes" / "scene.schema.json"


def schema_text() -> str:
    """The schema file's exact content."""
    return json.dumps(scene_json_schema(), indent=2, sort_keys=True) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Regenerate the schema file."""
    path.write_text(schema_text())
    return path


if __name__ == "__main__":
    print(write_schema(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_PATH))
