"""Shared helpers for scene tests: write a YAML file, collect a file's errors (each positioned)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from engine.scene.loader import SceneError, load_scene

POSITIONED = re.compile(r"^.+:\d+:\d+ \S+: .+")


def write(folder: Path, text: str, name: str = "scene.yaml") -> Path:
    """Write dedented text to folder/name; returns the path."""
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def errors_of(path: Path, **kwargs) -> list[str]:
    """The SceneError lines of loading path; each must be one positioned, bounded line."""
    with pytest.raises(SceneError) as info:
        load_scene(path, **kwargs)
    assert info.value.errors
    for line in info.value.errors:
        assert POSITIONED.match(line), line
        assert "\n" not in line and len(line) < 600, line
    return info.value.errors
