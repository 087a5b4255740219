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


def main(argv: list[str] | None = None) -> int:
    """`python -m engine.scene.schema [OUT]`: rewrite the JSON Schema (default: the shipped one)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m engine.scene.schema", description=main.__doc__)
    parser.add_argument("out", nargs="?", type=Path, default=SCHEMA_PATH, help=f"default {SCHEMA_PATH}")
    print(write_schema(parser.parse_args(argv).out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
