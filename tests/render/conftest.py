"""Fixtures for the render tests: one offscreen ShowBase shared by the in-process GUI tests
(Panda3D allows one per process; engine.render.offscreen reuses it)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def panda_base():
    from engine.render.offscreen import make_offscreen_base

    return make_offscreen_base(size=(1280, 720), renderer="tinydisplay")
