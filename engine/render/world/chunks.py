"""One chunk of static scenery, from the scene alone: what the frame, the worker thread and the
chunk process (world/chunk_process.py) all build, so the three give the same geometry."""

from __future__ import annotations

import numpy as np

from engine.render.world.cueing import add_floor_stripes
from engine.render.world.grocery import GroceryLayout
from engine.render.world.mesh import MeshBuilder
from engine.render.world.sidewalk import SidewalkLayout
from engine.scene.model import Scene

CHUNK_M = 10.0


def layout_for(scene: Scene) -> GroceryLayout | SidewalkLayout:
    """The procedural layout of the scene's environment."""
    return GroceryLayout(scene) if scene.environment.type == "grocery_store" else SidewalkLayout(scene)


def chunk_seed(scene: Scene, index: int) -> int:
    """The random seed of one chunk: the same chunk looks the same wherever it is built."""
    return (scene.seed * 1_000_003 + index * 7919) & 0x7FFFFFFF


def chunk_meshes(scene: Scene, layout, index: int) -> tuple[MeshBuilder, MeshBuilder, MeshBuilder | None]:
    """(lit, glow, far) builders of chunk `index` (route metres index*CHUNK_M .. +CHUNK_M); `far`
    is the lit geometry the chunk shows from afar (a grocery store's), None where the layout
    has a single level of detail."""
    y0 = index * CHUNK_M
    if hasattr(layout, "build_chunk_lod"):
        lit, glow, far = layout.build_chunk_lod(y0, y0 + CHUNK_M, chunk_seed(scene, index))
        add_floor_stripes(far, scene, y0, y0 + CHUNK_M)  # cues on the floor are seen from afar too
    else:
        (lit, glow), far = layout.build_chunk(y0, y0 + CHUNK_M, chunk_seed(scene, index)), None
    add_floor_stripes(lit, scene, y0, y0 + CHUNK_M)  # cueing (no-op unless the scene asks)
    return lit, glow, far


def chunk_rows(scene: Scene, layout, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The chunk as vertex rows (MeshBuilder.rows()): (lit, glow, far or None)."""
    lit, glow, far = chunk_meshes(scene, layout, index)
    return lit.rows(), glow.rows(), (far.rows() if far is not None else None)


__all__ = ["CHUNK_M", "chunk_meshes", "chunk_rows", "chunk_seed", "layout_for"]
