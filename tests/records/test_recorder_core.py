"""Integration: the recorder draining the real control core (real rig, real core process).

The core writes one telemetry record per cycle at 1 kHz and its events; the recorder stores
them. The stored cycles of the session are contiguous, nothing overflowed, the core's steps,
strides and obstacle outcome are rows, and the session report builds from it.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from engine.control.layout import ObstacleCategory, ObstacleOutcome, RunState
from engine.records.recorder import start_recorder
from engine.records.report import SESSION_SECTIONS, build_session_html
from engine.records.store import Store
from tests.control.helpers import Session, timeline_rows

pytestmark = pytest.mark.timeout(180)


def _wait_state(s: Session, predicate, timeout_s: float) -> np.ndarray:
    # Read the state block only: the rings belong to the recorder now.
    deadline = time.monotonic() + timeout_s
    while True:
        state = s.state()
        if predicate(state):
            return state
        assert time.monotonic() < deadline, f"timed out; run_state {int(state['run_state'])}"
        assert s.core.is_alive(), "control core died"
        time.sleep(0.02)


def test_recorder_with_the_real_core(db_path, store, session_id):
    s = Session("healthy", seed=3)
    recorder = None
    try:
        recorder = start_recorder(db_path, s.channels.paths(), session_id)
        rows = timeline_rows(dict(category=ObstacleCategory.STEP_OVER, at_m=2.5, depth_m=0.25, height_m=0.08,
                                  speed_fraction=0.6))
        s.writer.load_timeline(rows, route_length_m=50.0, base_speed_fraction=1.0)
        s.writer.set_settings(speed_fraction=0.7, guidance=0.3, assist_as_needed=False)
        s.writer.start()
        _wait_state(s, lambda st: st["run_state"] == RunState.RUNNING, 10.0)
        _wait_state(s, lambda st: st["obstacles"][0]["outcome"] != ObstacleOutcome.PENDING and st["steps"] >= 8, 60.0)
        s.writer.stop()
        final = _wait_state(s, lambda st: st["run_state"] in (RunState.IDLE, RunState.STOPPED)
                            and st["belt_speed_mps"] < 0.01, 20.0)
        time.sleep(0.2)  # a few idle cycles after the stop, then end the recording
        stats = recorder.stop(timeout_s=20.0)
    finally:
        if recorder is not None:
            recorder.kill()
        s.close()

    assert stats["returncode"] == 0 and stats["gaps"] == 0
    with Store(db_path) as st:
        telemetry = st.telemetry(session_id)
        cycles = telemetry["cycle"].astype(np.int64)
        assert len(cycles) > 3000
        assert np.all(np.diff(cycles) == 1), "stored cycles of the session must be contiguous"
        assert st.cycle_gaps(session_id) == []
        session = st.get_session(session_id)
        assert session["telemetry_overflow"] == 0 == int(final["telemetry_overflow"])
        assert (telemetry["run_state"] == RunState.RUNNING).any()
        steps, strides, events = st.steps(session_id), st.strides(session_id), st.events(session_id)
        assert len(steps) >= 8 and len(strides) >= 4
        assert {0, 1} <= {row["side"] for row in steps}
        outcomes = [e for e in events if e["kind"] == "obstacle_outcome"]
        assert len(outcomes) == 1 and outcomes[0]["obstacle"] == 0
        expected = "cleared" if final["obstacles"][0]["outcome"] == ObstacleOutcome.CLEARED else "hit"
        assert outcomes[0]["outcome"] == expected
        assert {"heel_strike", "toe_off", "run_state"} <= {e["kind"] for e in events}
        text = build_session_html(st, session_id)
        # The C3D of the real core's session: both readers get every gait and obstacle event at
        # its database time (the device sample time the core stamped) within 1 ms.
        from engine.records.export import export_c3d
        from tests.records.test_export_c3d import _ezc3d_events, _match, _pyc3d_events

        path = export_c3d(st, session_id, db_path.parent / "core.c3d")
        t0 = float(telemetry["t_s"][0])
        labels = {"heel_strike": "Foot Strike", "toe_off": "Foot Off"}
        expected = [(float(e["t_s"]) - t0, labels.get(e["kind"], f"Obstacle {e.get('outcome')}"),
                     {0: "Left", 1: "Right"}.get(e["side"], "General"))
                    for e in events if e["kind"] in ("heel_strike", "toe_off", "obstacle_outcome")]
        assert len(expected) >= 16
        for reader in (_ezc3d_events, _pyc3d_events):
            used, read, _ = reader(path)
            assert used == len(expected) and _match(read, expected) <= 0.001
    for key, _ in SESSION_SECTIONS:
        assert f'<section id="{key}">' in text
