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


def chunk_meshes(scene: Scene, layout, index: int) -> tuple[MeshBuilder, MeshBuilder]:
    """(lit, glow) builders of chunk `index` (route metres index*CHUNK_M .. +CHUNK_M)."""
    y0 = index * CHUNK_M
    lit, glow = layout.build_chunk(y0, y0 + CHUNK_M, chunk_seed(scene, index))
    add_floor_stripes(lit, scene, y0, y0 + CHUNK_M)  # cueing (no-op unless the scene asks)
    return lit, glow


def chunk_rows(scene: Scene, layout, index: int) -> tuple[np.ndarray, np.ndarray]:
    """The chunk as vertex rows (MeshBuilder.rows()): (lit, glow)."""
    lit, glow = chunk_meshes(scene, layout, index)
    return lit.rows(), glow.rows()


__all__ = ["CHUNK_M", "chunk_meshes", "chunk_rows", "chunk_seed", "layout_for"]
