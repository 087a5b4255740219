"""Checks of the stumble response shared by the trip and the loss-of-balance tests on the real
core and rig: guidance at the prescription's maximum at once, the belt slowing gently."""

from __future__ import annotations

import numpy as np
import pytest

from engine.control.layout import RunState


def assert_gentle_response(tel, t_event: float, rx) -> None:
    """From the detection at t_event: guidance at the maximum within two cycles; over the next
    1.5 s (the ramp to 30 % takes under 1 s; later the scene's own plan may slow the belt further)
    the belt slows no faster than the prescription allows and keeps moving."""
    t = tel["t_s"]
    i0 = int(np.searchsorted(t, t_event))
    assert float(tel["guidance"][i0:i0 + 3].max()) == pytest.approx(rx.guidance_max, abs=1e-3)
    assert float(t[-1]) > t_event + 1.5, "the session ended too soon after the detection"
    v = tel["belt_speed_mps"][i0:i0 + 1500].astype(float)
    tt = t[i0:i0 + 1500]
    decel = (v[:-20] - v[20:]) / (tt[20:] - tt[:-20])
    assert decel.max() <= rx.max_decel_mps2 + 0.05
    # half a second in: slower by the gentle ramp (0.4 m/s^2: 0.2 m/s), not stopped (the scene's
    # own plan may stop the belt later on: a crossing)
    assert v[500] < v[0] - 0.1 and v[500] > 0.3 * v[0] - 0.02
    assert (tel["run_state"][i0:i0 + 1500] == int(RunState.RUNNING)).all()
