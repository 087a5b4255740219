"""The stumble warning's audio cue: sounded once per STUMBLE alarm the core raises, through the
real Panda3D loader (offscreen, null audio), from a state block laid out as the core writes it."""

from __future__ import annotations

import numpy as np

from engine.control import layout


def _state(*alarms: tuple[int, float]) -> np.ndarray:
    state = np.zeros((), dtype=layout.STATE_DTYPE)
    for i, (reason, t_s) in enumerate(alarms):
        slot = state["alarms"][i]
        slot["reason"], slot["priority"], slot["active"], slot["t_s"] = reason, 3, 1, t_s
    return state


def test_the_stumble_cue_sounds_once_per_alarm():
    from engine.render.audio import CUES, AudioCues
    from engine.render.offscreen import make_offscreen_base

    base = make_offscreen_base((64, 64))
    cues = AudioCues(base.loader)
    assert "stumble" in cues.sounds and len(CUES["stumble"]) >= 2
    other = (int(layout.AlarmReason.STOP_REQUEST), 3.0)
    for _ in range(30):  # frames with another alarm only: silent
        cues.stumble(_state(other))
    assert "stumble" not in cues.played
    for _ in range(30):  # the core raised STUMBLE at t = 10 s: one cue, however many frames show it
        cues.stumble(_state(other, (int(layout.AlarmReason.STUMBLE), 10.0)))
    assert cues.played.count("stumble") == 1
    for _ in range(30):  # a new stumble later (acknowledged in between): a second cue
        cues.stumble(_state((int(layout.AlarmReason.STUMBLE), 25.5)))
    assert cues.played.count("stumble") == 2
