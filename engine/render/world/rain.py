"""Visible rain: thin falling streaks around the patient (one Geom, one draw call, unlit).

A block of streaks RAIN_AHEAD_M long travels with the patient and slides down on the scene
clock, wrapped every FALL_WRAP_M (the block is two wraps tall, so the wrap is never seen): the
look depends only on s and the scene clock, pausing freezes it, and it costs the same anywhere on
the route. Wet ground is drawn by the sidewalk layout (darker paving, sheen streaks).
"""

from __future__ import annotations

import random

from panda3d.core import NodePath, TransparencyAttrib

from engine.render.world.mesh import MeshBuilder

STREAKS = 700
RAIN_AHEAD_M = 24.0
RAIN_HALF_WIDTH_M = 7.0
FALL_WRAP_M = 4.0
FALL_MPS = 6.0  # raindrops fall at roughly 5-9 m/s
STREAK_M = 0.45
STREAK_WIDTH_M = 0.018
RAIN_RGB = (0.78, 0.82, 0.90)


class Rain:
    """The streaks node; `update(s_m, scene_time_s)` moves it with the patient and the clock."""

    def __init__(self, parent: NodePath, seed: int) -> None:
        rng = random.Random(seed * 7 + 3)
        mb = MeshBuilder("rain")
        for _ in range(STREAKS):
            x = rng.uniform(-RAIN_HALF_WIDTH_M, RAIN_HALF_WIDTH_M)
            if abs(x) < 0.25:
                x += 0.5 if x >= 0 else -0.5  # not right in front of the eyes
            y = rng.uniform(0.8, RAIN_AHEAD_M)
            z = rng.uniform(0.0, 2 * FALL_WRAP_M)
            lean = 0.04  # a little wind
            mb.quad([(x, y, z), (x + STREAK_WIDTH_M, y, z), (x + STREAK_WIDTH_M + lean, y, z + STREAK_M),
                     (x + lean, y, z + STREAK_M)], RAIN_RGB, alpha=0.55)
        self.node = parent.attachNewNode(mb.node())
        self.node.setName("rain")
        self.node.setLightOff(1)
        self.node.setTwoSided(True)
        self.node.setTransparency(TransparencyAttrib.MAlpha)
        self.node.setDepthWrite(False)
        self.node.setBin("transparent", 10)

    def update(self, s_m: float, scene_time_s: float) -> None:
        """Follow the patient; fall on the scene clock."""
        fall = (scene_time_s * FALL_MPS) % FALL_WRAP_M
        self.node.setPos(0.0, s_m, -fall)
