"""Cueing the patient sees and hears: floor stripes in the rendered world, metronome ticks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.render.audio import MetronomeClock
from engine.render.world.cueing import STRIPE_RGB, stripe_positions_m
from engine.scene.loader import find_scene
from engine.scene.model import Cueing

ROOT = Path(__file__).resolve().parents[2]


def test_stripe_positions_follow_the_spacing_across_chunks():
    a = stripe_positions_m(0.6, 0.0, 20.0)
    b = stripe_positions_m(0.6, 20.0, 40.0)
    ys = np.array(a + b)
    assert ys[0] == 0.0 and np.allclose(np.diff(ys), 0.6)
    assert len(set(a) & set(b)) == 0  # no stripe drawn twice at a chunk border


def _pixels(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0


def test_floor_stripes_are_drawn_when_the_scene_asks(tmp_path):
    from engine.render.world import render_view

    cued = find_scene("grocery-cued-walk", ROOT / "scenes")
    plain = cued.model_copy(update={"cueing": Cueing(floor_stripes=False)})
    a = _pixels(render_view(cued, tmp_path / "cued.png", at_m=20.0, size=(320, 180)))
    b = _pixels(render_view(plain, tmp_path / "plain.png", at_m=20.0, size=(320, 180)))
    changed = np.abs(a - b).sum(axis=-1) > 0.2
    h, w = changed.shape
    assert changed[: h // 3].mean() < 0.002  # same seed, same store: only the floor differs
    floor = changed[h // 2:, w // 3: 2 * w // 3]  # the walking path ahead
    assert floor.mean() > 0.02
    stripe = a[changed]
    # the stripes' yellow (STRIPE_RGB), shaded by the store's light: red and green above blue
    assert STRIPE_RGB[0] - STRIPE_RGB[2] > 0.5
    assert np.mean(stripe[:, 0] - stripe[:, 2]) > 0.3 and np.mean(stripe[:, 1] - stripe[:, 2]) > 0.25


def test_metronome_ticks_at_its_rate_on_the_scene_clock():
    clock = MetronomeClock()
    frames = np.arange(0.0, 60.0, 1 / 90)  # 60 s of scene time at 90 frames/s
    ticks = sum(clock.due(float(t), 110.0, True) for t in frames)
    assert ticks == pytest.approx(110, abs=1)
    paused = MetronomeClock()
    assert sum(paused.due(float(t), 110.0, False) for t in frames) == 0


def test_audio_cues_play_the_metronome_only_when_the_scene_asks():
    from engine.render.audio import AudioCues
    from engine.render.offscreen import make_offscreen_base

    base = make_offscreen_base((64, 64))
    cues = AudioCues(base.loader)
    cued = find_scene("grocery-cued-walk", ROOT / "scenes")
    plain = cued.model_copy(update={"cueing": Cueing(metronome=False)})
    for t in np.arange(0.0, 10.0, 1 / 60):
        cues.metronome(plain, float(t), True)
    assert "tick" not in cues.played
    for t in np.arange(0.0, 10.0, 1 / 60):
        cues.metronome(cued, float(t), True)
    assert cues.played.count("tick") == pytest.approx(cued.cueing.metronome_spm / 6, abs=1)
