"""Self-paced mode: the speed law's limits (property tests), and the real core + rig over
pseudo-terminals following a changing intent and stopping gently."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.control.layout import TIMELINE_DTYPE, EventKind, PaceMode, RunState, SettingId
from engine.control.prescription import Prescription
from engine.control.self_paced import KP_PER_S2, MAX_JERK_MPS3, SelfPacedController

DT = 0.001


def _drive(ctrl, positions, vmax, acc, dec, v0=0.0, every=4, jerk=MAX_JERK_MPS3):
    """Feed the law a position sequence (a new sensor sample every `every` cycles); returns the
    commanded speeds. The belt follows the command exactly (measured = commanded)."""
    v = v0
    out = []
    pos = positions[0]
    for i, p in enumerate(positions):
        if i % every == 0:
            pos = p
        v = ctrl.command(pos, (i // every) * every * DT, v, v, DT, vmax, acc, dec, jerk)
        out.append(v)
    return np.array(out)


@settings(max_examples=60, deadline=None)
@given(
    vmax=st.floats(0.2, 3.0), acc=st.floats(0.05, 1.5), dec=st.floats(0.05, 2.0),
    v0=st.floats(0.0, 3.0),
    positions=st.lists(st.floats(-0.6, 0.6), min_size=20, max_size=300),
    jerk_limit=st.floats(0.2, 5.0),
)
def test_never_exceeds_speed_accel_or_jerk(vmax, acc, dec, v0, positions, jerk_limit):
    """Whatever the sensor says (jumps, noise, out of range), the command stays in [0, vmax],
    its acceleration within the prescription and its jerk within the prescription's limit."""
    v0 = min(v0, vmax)
    seq = [p for p in positions for _ in range(10)]  # each value held 10 ms
    ctrl = SelfPacedController()
    v = _drive(ctrl, seq, vmax, acc, dec, v0=v0, jerk=jerk_limit)
    assert v.min() >= 0.0 and v.max() <= vmax + 1e-9
    a = np.diff(np.concatenate([[v0], v])) / DT
    assert a.max() <= acc + 1e-6
    assert a.min() >= -dec - 1e-6
    jerk = np.abs(np.diff(a)) / DT
    # Jerk within the limit, except on the cycle that lands exactly on 0 or the top speed,
    # where the discrete ramp leaves a residual acceleration step of a few J*dt (under 3 J*dt, 0.005 m/s^2
    # at the default 1.5 m/s^3: far below what a patient feels).
    over = np.flatnonzero(jerk > jerk_limit + 1e-3)
    for i in over:
        landed = v[i + 1] in (0.0, vmax) or v[i] in (0.0, vmax)
        assert landed, f"jerk {jerk[i]:.2f} m/s^3 at cycle {i}, speed {v[i]:.4f}"
        assert abs(a[i + 1] - a[i]) < 3 * jerk_limit * DT


def _simulate_walker(intent, vmax=1.5, acc=0.5, dec=0.8, noise_m=0.002, seed=0):
    """A patient walking over ground at intent(t) on a belt the law drives; returns (v, pos, u)."""
    rng = np.random.default_rng(seed)
    ctrl = SelfPacedController()
    n = len(intent)
    v = np.zeros(n)
    pos = np.zeros(n)
    p = 0.0
    speed = 0.0
    for i in range(n):
        p += (intent[i] - speed) * DT
        if i % 4 == 0:
            sample = p + noise_m * rng.standard_normal()
            ts = i * DT
        speed = ctrl.command(sample, ts, speed, speed, DT, vmax, acc, dec)
        v[i], pos[i] = speed, p
    return v, pos


def test_follows_a_changing_intent_and_stops_gently():
    t = np.arange(0, 40.0, DT)
    intent = np.interp(t, [0, 2, 10, 16, 26, 30, 30.5], [0.0, 1.0, 1.0, 1.3, 1.3, 0.8, 0.0])
    v, pos = _simulate_walker(intent)
    settled = (t > 6) & (t < 30)
    assert np.sqrt(np.mean((v[settled] - intent[settled]) ** 2)) < 0.03
    assert np.abs(pos[settled]).max() < 0.1
    stopped = np.flatnonzero((t > 30.5) & (v < 0.02))
    assert len(stopped) and t[stopped[0]] - 30.5 < 5.0
    assert np.all(v[t > t[stopped[0]] + 1.0] < 0.02), "the belt crept on after the patient stopped"
    a = np.diff(v) / DT
    assert a.min() >= -0.8 - 1e-6


def test_a_steady_change_of_pace_leaves_no_lasting_lag():
    """A patient who speeds up steadily (0.065 m/s^2 for 10 s, the bench's ramps) is followed with
    no lasting position lag: the PD law alone lagged Kp^-1 times the acceleration (25 mm) for as
    long as the ramp lasted; the integral removes it (docs/control.md)."""
    t = np.arange(0, 40.0, DT)
    intent = np.interp(t, [0, 2, 12, 22], [0.0, 0.7, 0.7, 1.35])
    _, pos = _simulate_walker(intent)
    late_ramp = (t > 19.0) & (t < 22.0)
    pd_lag_m = 0.065 / KP_PER_S2
    assert pd_lag_m > 0.024
    assert np.abs(pos[late_ramp]).mean() < 0.4 * pd_lag_m
    assert np.abs(pos[t > 34.0]).max() < 0.01, "the position did not settle after the ramp"


def test_a_plan_holding_the_belt_back_winds_nothing_up():
    """An obstacle plan holds the belt at 0.4 m/s for 6 s while the patient walks on at 0.9 m/s
    (up to the end of the belt's usable length, 0.5 m ahead, as the rig's patient); once released
    the belt catches up without running past the patient by more than the lead cap, and the
    position settles without a large overshoot behind the reference."""
    ctrl = SelfPacedController()
    n = int(40.0 / DT)
    p, speed, sample, ts = 0.0, 0.0, 0.0, 0.0
    intent = 0.9
    out = np.zeros(n)
    pos = np.zeros(n)
    for i in range(n):
        p = min(max(p + (intent - speed) * DT, -0.5), 0.5)
        if i % 4 == 0:
            sample, ts = p, i * DT
        law = ctrl.command(sample, ts, speed, speed, DT, 1.5, 0.5, 0.8)
        held = 12.0 <= i * DT < 18.0
        speed = min(law, 0.4) if held else law
        out[i], pos[i] = speed, p
    t = np.arange(n) * DT
    after = t >= 18.0
    assert out[after].max() <= intent + 0.15 + 0.01  # the lead cap is soft (2 /s toward it)
    assert pos[after].min() > -0.03, f"overshoot {pos[after].min():.3f} m behind the reference"
    assert np.abs(pos[t > 35.0]).max() < 0.01
    assert abs(ctrl.ki * ctrl.integral_ms) <= 0.8 + 1e-9


def test_intent_above_the_prescription_is_capped():
    t = np.arange(0, 20.0, DT)
    v, _ = _simulate_walker(np.full_like(t, 2.0), vmax=1.1)
    assert v.max() <= 1.1 + 1e-9
    assert v[-1] == pytest.approx(1.1, abs=1e-6)


def test_no_sensor_slows_down():
    ctrl = SelfPacedController()
    v = 1.0
    for i in range(20000):
        v = ctrl.command(math.nan, i * DT, v, v, DT, 1.5, 0.5, 0.8)
    assert v < 0.02


# --------------------------------------------------------------- real core + rig (pty)
@pytest.mark.timeout(400)  # up to 3 live runs (walk_again_on_load_stop)
def test_core_and_rig_follow_the_patient_and_stop_gently():
    from tests.control.helpers import Session, walk_again_on_load_stop

    rx = Prescription(max_speed_mps=1.2, max_accel_mps2=0.5, max_decel_mps2=0.8, leg_length_l_m=0.98,
                      leg_length_r_m=0.98)

    def live_run() -> tuple:
        # A run the machine's load stopped says nothing about the self-paced law: walk again
        # (tests/control/helpers.py).
        s = Session("healthy", seed=3, rx=rx, load_stop_raises=True)
        try:
            s.rig.set_intent([(0.0, 0.6)])
            s.writer.set_settings(speed_fraction=0.3, guidance=0.3, assist_as_needed=False,
                                  pace_mode=int(PaceMode.SELF))
            s.writer.start()
            s.wait_for(lambda st: st["run_state"] == RunState.RUNNING, 10.0)
            s.wait_for(lambda st: abs(float(st["belt_speed_mps"]) - 0.6) < 0.03, 60.0)
            s.rig.set_intent([(0.0, 0.6), (3.0, 0.95)])  # speeding up
            s.wait_for(lambda st: abs(float(st["belt_speed_mps"]) - 0.95) < 0.03, 60.0)
            s.rig.set_intent([(0.0, 0.95), (0.3, 0.0)])  # the patient stops
            s.wait_for(lambda st: float(st["belt_speed_mps"]) < 0.02, 60.0)
            return s.state(), s.all_telemetry(), s.all_events()
        finally:
            s.close()

    state, tel, ev = walk_again_on_load_stop(live_run)
    assert state["run_state"] == RunState.RUNNING  # a self-paced stop is not a session stop
    run = tel[tel["run_state"] == RunState.RUNNING]
    assert run["belt_speed_cmd_mps"].max() <= rx.max_speed_mps + 1e-4
    assert run["belt_speed_mps"].max() <= rx.max_speed_mps + 1e-4
    # The command's acceleration: 10 ms differences of the core's own times.
    t, cmd = run["t_s"], run["belt_speed_cmd_mps"].astype(float)
    keep = np.unique(np.searchsorted(t, np.arange(t[0], t[-1], 0.01)))
    assert len(keep) > 100
    a = np.diff(cmd[keep]) / np.diff(t[keep])
    assert a.max() <= rx.max_accel_mps2 * 1.02 + 0.01
    assert a.min() >= -rx.max_decel_mps2 * 1.02 - 0.01
    pace = ev[(ev["kind"] == EventKind.SETTING_APPLIED) & (ev["code"] == SettingId.PACE_MODE)]
    assert len(pace) >= 1 and float(pace["v2"][-1]) == float(PaceMode.SELF)


def test_old_treadmill_status_frames_still_decode():
    """A TM_STATUS without the distance sensor (older firmware) decodes, position NaN; the new
    one carries the position."""
    from devices import protocol as p
    from devices.base import TreadmillStatus
    from devices.serial_treadmill import SerialTreadmill

    old = p.TM_STATUS.pack(p.PROTOCOL_VERSION, p.Msg.TM_STATUS, 1, 5, p.FLAG_ARMED, 0, 0.5, 10, 1e-5, 0.0)
    new = p.TM_STATUS_POSITION.pack(p.PROTOCOL_VERSION, p.Msg.TM_STATUS, 2, 6, p.FLAG_ARMED, 0, 0.5, 10, 1e-5,
                                    0.0, -0.125)
    driver = object.__new__(SerialTreadmill)  # the decoding half only: no port
    driver.status = TreadmillStatus()
    driver._apply_status(p.decode_body(new))
    assert driver.status.patient_position_m == -0.125
    driver._apply_status(p.decode_body(old))
    assert math.isnan(driver.status.patient_position_m)
    assert driver.status.belt_speed_mps == 0.5


def test_pace_mode_changes_reach_the_core_block_and_are_audited(tmp_path):
    """`set_pace` (what `run --pace` and the menu's Pace button call) writes the command block
    a second process reads and leaves an audit row per change; a bad name changes nothing."""
    from engine.control.channels import Channels
    from engine.control.commands import CommandWriter, SettingError
    from engine.records.store import Store
    from engine.session.controller import SceneChoice, SessionController

    channels = Channels.create()
    reader = Channels.attach(channels.paths())
    store = Store(tmp_path / "records.db")
    try:
        store.ensure_patient("p-001")
        store.add_prescription("p-001", Prescription(max_speed_mps=1.1))
        controller = SessionController(CommandWriter(channels.command), store)
        controller.select_patient("p-001")
        controller.select_scene(SceneChoice("s", "S", route_length_m=40.0, base_speed_fraction=0.5,
                                            timeline=np.zeros(0, dtype=TIMELINE_DTYPE)))
        session_id = controller.start()
        controller.set_pace("self")
        assert int(reader.command.read()["pace_mode"]) == PaceMode.SELF
        controller.set_pace("fixed")
        assert int(reader.command.read()["pace_mode"]) == PaceMode.FIXED
        with pytest.raises(ValueError):
            controller.set_pace("sprint")
        with pytest.raises(SettingError):
            controller.writer.set_settings(pace_mode=7)
        assert int(reader.command.read()["pace_mode"]) == PaceMode.FIXED
        rows = [r for r in store.audit_log(session_id) if r["setting"] == "pace_mode"]
        assert [(r["old"], r["applied"]) for r in rows] == [(0.0, 2.0), (2.0, 1.0)]
    finally:
        reader.close()
        store.close()
        channels.close()


@pytest.mark.timeout(300)
def test_the_prescriptions_jerk_limit_drives_the_core(tmp_path):
    """Prescription.max_jerk_mps3 travels the command block to the real core (simulated rig and
    clock) and the self-paced law ramps its acceleration no faster than it."""
    import dataclasses

    from devices.sim.intent import IntentSchedule
    from devices.sim.profiles import load_profile
    from engine.records.store import Store
    from engine.sim.session import (
        SIM_T0_S,
        START_AFTER_S,
        SimOptions,
        run_simulation,
        sim_prescription,
    )

    jerk = 0.4
    db = tmp_path / "jerk.db"
    with Store(db) as store:
        store.ensure_patient("jerk-1", sim_profile="healthy")
        store.add_prescription("jerk-1", dataclasses.replace(sim_prescription(load_profile("healthy")),
                                                             max_jerk_mps3=jerk))
    seen: list[tuple[float, float, float]] = []

    def probe(t_s, core, rig):
        seen.append((t_s, core.self_paced.accel_mps2, core.max_jerk_mps3))

    intent = IntentSchedule([(0.0, 0.0), (0.5, 0.9), (6.0, 0.9)]).shifted(SIM_T0_S + START_AFTER_S)
    run_simulation(SimOptions(scene="grocery-first-visit", profile="healthy", duration_s=8.0, seed=1, db=db,
                              patient_code="jerk-1", pace="self", intent_schedule=intent, probe=probe))
    arr = np.array(seen)
    assert arr[-1, 2] == pytest.approx(jerk)
    assert np.abs(arr[:, 1]).max() > 0.1  # the belt did accelerate
    rate = np.abs(np.diff(arr[:, 1])) / np.diff(arr[:, 0])
    assert rate.max() <= jerk * 1.05 + 0.05, rate.max()
