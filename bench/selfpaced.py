"""Self-paced mode benchmark: `python -m bench selfpaced [--quick] --json`.

The real control core in self-paced mode with the virtual rig (engine.sim `run_simulation`,
in-memory links, simulated clock, no database) walks profiles whose intended speed follows a
schedule (devices/sim/patient.py `intent_schedule`): steady, speeding up, steady, slowing,
steady, then stopping. Sampled every 10 ms of simulated time. Keys:
- `speed_tracking_rms_mps` (target <= 0.02): measured belt speed minus the patient's intended
  speed, RMS over the walking part once settled (from SETTLE_S after the start to the stop);
  `speed_tracking_steady_rms_mps` the same over the steady stretches only (2 s after a ramp ends);
- `position_rms_mm` (target <= 14): the patient's true position on the belt (rig, noise-free)
  from the reference, RMS over the same samples;
- `accel_limit_violations` (0): samples where the belt speed COMMAND changed faster than the
  prescription's max accel/decel (10 ms differences, 1 % slack for float32);
  `max_jerk_mps3` the largest change of that acceleration (20 ms differences);
- `prescription_violations` (0): samples with a command or measured belt speed above the
  prescribed maximum;
- `stop_to_standstill_s`: from the intent dropping to 0 to the belt below 0.02 m/s (mean);
- `stumble_capped_s`: simulated seconds the belt ran under a stumble warning's speed cap (the
  core's STUMBLE response holds the belt slow until the therapist acknowledges it, and nobody
  acknowledges here); a false warning on a profile spoils its figures, this says when.
"""

from __future__ import annotations

import math
import statistics
import sys

from devices.sim.intent import IntentSchedule

SCENE = "grocery-first-visit"  # obstacle-free: the intent alone moves the belt
SETTLE_S = 8.0


def schedule_for(comfortable_mps: float, t0_s: float) -> tuple[IntentSchedule, list[tuple[float, float]], float]:
    """The bench's intent profile, the steady windows (relative to the start) and the stop time."""
    c = comfortable_mps
    rel = [(0.0, 0.8 * c), (12.0, 0.8 * c), (18.0, 1.1 * c), (28.0, 1.1 * c), (36.0, 0.7 * c), (46.0, 0.7 * c),
           (46.5, 0.0)]
    steady = [(SETTLE_S, 12.0), (20.0, 28.0), (38.0, 46.0)]
    return IntentSchedule([(t0_s + t, v) for t, v in rel]), steady, 46.0


def _one(profile: str, seed: int) -> dict:
    from devices.sim.profiles import load_profile
    from engine.sim.session import (
        SIM_T0_S,
        START_AFTER_S,
        SimOptions,
        run_simulation,
        sim_prescription,
    )

    prof = load_profile(profile)
    rx = sim_prescription(prof)
    start_s = SIM_T0_S + START_AFTER_S  # rig time of the start
    schedule, steady, stop_at = schedule_for(prof.comfortable_speed_mps, start_s)
    samples: list[tuple] = []
    capped: list[bool] = []
    vmax_probe = rx.max_speed_mps

    def probe(t, core, rig) -> None:
        samples.append((t, core.belt_speed_mps, core.supervisor.speed_cmd_mps, rig.patient.intended_speed_mps,
                        rig.treadmill.patient_position_m))
        capped.append(core.stumble.speed_cap_mps < vmax_probe)

    run_simulation(SimOptions(scene=SCENE, profile=profile, duration_s=stop_at + 12.0, seed=seed, db=None,
                              pace="self", intent_schedule=schedule, probe=probe))
    vmax = rx.max_speed_mps
    track, track_steady, pos = [], [], []
    accel_viol = 0
    rx_viol = 0
    max_jerk = 0.0
    prev_a = None
    standstill_s = math.nan
    for i, (t, belt, cmd, intent, p) in enumerate(samples):
        if cmd > vmax + 1e-4 or belt > vmax + 1e-4:
            rx_viol += 1
        if i >= 1:
            dt = t - samples[i - 1][0]
            a = (cmd - samples[i - 1][2]) / dt if dt > 0 else 0.0
            if a > rx.max_accel_mps2 * 1.01 + 1e-3 or -a > rx.max_decel_mps2 * 1.01 + 1e-3:
                accel_viol += 1
            if i % 2 == 0:
                if prev_a is not None:
                    max_jerk = max(max_jerk, abs(a - prev_a) / (2 * dt))
                prev_a = a
        if SETTLE_S <= t < stop_at:
            track.append((belt - intent) ** 2)
            pos.append(p * p)
            if any(a0 <= t < b0 for a0, b0 in steady):
                track_steady.append((belt - intent) ** 2)
        if t >= stop_at and standstill_s != standstill_s and belt < 0.02:
            standstill_s = t - stop_at
    return {
        "tracking": track, "steady": track_steady, "pos": pos, "accel_viol": accel_viol, "rx_viol": rx_viol,
        "jerk": max_jerk, "standstill_s": standstill_s,
        "capped_s": sum(capped) * (samples[-1][0] - samples[0][0]) / max(1, len(samples) - 1) if samples else 0.0,
    }


def run(quick: bool) -> dict:
    """Figures over the profiles (one in --quick)."""
    profiles = ["healthy"] if quick else ["healthy", "healthy-older", "hemiparetic-left"]
    from devices.sim.profiles import load_profile

    results = []
    for name in profiles:
        try:
            load_profile(name)
        except Exception:  # a profile this checkout lacks: say so and go on
            print(f"selfpaced: no profile {name}", file=sys.stderr)
            continue
        print(f"selfpaced: {name} ...", file=sys.stderr, flush=True)
        results.append(_one(name, 1))
    tracking = [x for r in results for x in r["tracking"]]
    steady = [x for r in results for x in r["steady"]]
    pos = [x for r in results for x in r["pos"]]
    stops = [r["standstill_s"] for r in results if r["standstill_s"] == r["standstill_s"]]
    return {
        "profiles": len(results),
        "speed_tracking_rms_mps": round(math.sqrt(statistics.fmean(tracking)), 4),
        "speed_tracking_steady_rms_mps": round(math.sqrt(statistics.fmean(steady)), 4),
        "position_rms_mm": round(1000.0 * math.sqrt(statistics.fmean(pos)), 2),
        "accel_limit_violations": sum(r["accel_viol"] for r in results),
        "prescription_violations": sum(r["rx_viol"] for r in results),
        "max_jerk_mps3": round(max(r["jerk"] for r in results), 3),
        "stop_to_standstill_s": round(statistics.fmean(stops), 2) if stops else math.nan,
        "stops_missed": len(results) - len(stops),
        "stumble_capped_s": round(sum(r["capped_s"] for r in results), 1),
    }
