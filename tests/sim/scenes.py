"""A short scene without obstacles for tests that drive `simulate` through a fault."""

from __future__ import annotations

from pathlib import Path


def short_scene_dir(folder: Path) -> Path:
    """Write the base sidewalk and a 40 m scene `short` (no obstacles) into folder; returns it."""
    from engine.scene.loader import SCENES_DIR

    (folder / "base-sidewalk.yaml").write_text((Path(SCENES_DIR) / "base-sidewalk.yaml").read_text())
    (folder / "short.yaml").write_text("extends: base-sidewalk.yaml\nid: short\ntitle: Short\n"
                                       "description: no obstacles\ndifficulty: gentle\nroute_length_m: 40\n")
    return folder
