"""Exports of a recorded session: CSV per stream, and C3D for gait-lab tools.

CSV: a folder with telemetry.csv (one row per control cycle; two-element fields split into
`_l`/`_r` columns), steps.csv, strides.csv and events.csv.

C3D (written with ezc3d): a C3D file holds at most 65535 point frames (gait-lab tools such as
Mokka stop there), so the telemetry (one record per 1 kHz control cycle) goes in as the format
intends for fast signals: every record is an analog sample, and the point rate is the telemetry
rate divided by `samples_per_frame` (10 -> 100 Hz, the usual motion-capture rate; more for
sessions longer than 10.9 min). Analog channels, at the full rate and lossless apart from the
float32 -> float conversion: joint angles (LHipAngle...RKneeAngleRef, degrees), belt speed,
commanded speed, route distance, guidance, body-weight support, heart rate, toe heights, gait
phase. Points, at the point rate: the joint angles again in the Plug-in-Gait convention gait-lab
tools expect (LHipAngles, LKneeAngles, RHipAngles, RKneeAngles, and `...Ref` for the reference
trajectory) with the sagittal flexion angle in X, degrees, Y and Z zero (the exoskeleton is
sagittal only); frame i is the record of cycle first + i * samples_per_frame. The last frame is
padded by repeating the last record (TRIAL:PADDED_SAMPLES says how many). Heel strikes and toe
offs are C3D events "Foot Strike" and "Foot Off" in context "Left"/"Right", obstacle outcomes
"General" events, all timed (cycle - first cycle) / telemetry rate from the first frame. A C3D
parameter dimension is one byte, so the EVENT group holds at most 255 events (ezc3d writes more,
but then no reader opens the file): longer sessions keep the first 255 there, TRIAL:EVENTS_LEFT_OUT
counts the rest, and every gait event is also an analog channel (LFootStrike, LFootOff,
RFootStrike, RFootOff: 1 at the event's sample, else 0), so nothing is lost. `start_s`/`end_s`
cut a window of the session (seconds from its first record), the usual way to export a trial.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from engine.records.store import Store

LEFT, RIGHT = 0, 1
SIDE_CONTEXT = {LEFT: "Left", RIGHT: "Right", -1: "General"}
ANGLE_POINTS = [
    ("LHipAngles", "hip_rad", LEFT),
    ("LKneeAngles", "knee_rad", LEFT),
    ("RHipAngles", "hip_rad", RIGHT),
    ("RKneeAngles", "knee_rad", RIGHT),
    ("LHipAnglesRef", "hip_ref_rad", LEFT),
    ("LKneeAnglesRef", "knee_ref_rad", LEFT),
    ("RHipAnglesRef", "hip_ref_rad", RIGHT),
    ("RKneeAnglesRef", "knee_ref_rad", RIGHT),
]
ANALOG_CHANNELS = [
    # (label, telemetry field, index or None, unit, scale)
    *[(label.replace("Angles", "Angle"), field, side, "deg", 180.0 / math.pi) for label, field, side in ANGLE_POINTS],
    ("BeltSpeed", "belt_speed_mps", None, "m/s", 1.0),
    ("BeltSpeedCmd", "belt_speed_cmd_mps", None, "m/s", 1.0),
    ("RouteDistance", "s_m", None, "m", 1.0),
    ("Guidance", "guidance", None, "1", 1.0),
    ("BodyWeightSupport", "bws_fraction", None, "1", 1.0),
    ("HeartRate", "heart_rate_bpm", None, "bpm", 1.0),
    ("LToeHeight", "toe_height_m", LEFT, "m", 1.0),
    ("RToeHeight", "toe_height_m", RIGHT, "m", 1.0),
    ("LGaitPhase", "gait_phase", LEFT, "1", 1.0),
    ("RGaitPhase", "gait_phase", RIGHT, "1", 1.0),
]
GAIT_EVENT_CHANNELS = [
    ("LFootStrike", "heel_strike", LEFT),
    ("LFootOff", "toe_off", LEFT),
    ("RFootStrike", "heel_strike", RIGHT),
    ("RFootOff", "toe_off", RIGHT),
]
MAX_C3D_FRAMES = 65535
MAX_C3D_EVENTS = 255
SAMPLES_PER_FRAME_CHOICES = (10, 20, 25, 40, 50, 100, 200, 250, 500, 1000)
GAIT_EVENT_LABELS = {"heel_strike": "Foot Strike", "toe_off": "Foot Off"}


def _telemetry_columns(records: np.ndarray) -> tuple[list[str], list[np.ndarray]]:
    names, columns = [], []
    for name in records.dtype.names:
        column = records[name]
        if column.ndim == 1:
            names.append(name)
            columns.append(column)
        elif column.shape[1] == 2:
            names += [f"{name}_l", f"{name}_r"]
            columns += [column[:, 0], column[:, 1]]
        else:
            for i in range(column.shape[1]):
                names.append(f"{name}_{i}")
                columns.append(column[:, i])
    return names, columns


def _write_rows(path: Path, rows: list[dict], fields: list[str]) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in fields})
    return path


def export_csv(store: Store, session_id: int, out_dir: str | Path) -> list[Path]:
    """Write telemetry.csv, steps.csv, strides.csv and events.csv into out_dir; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    telemetry = store.telemetry(session_id)
    names, columns = _telemetry_columns(telemetry)
    formats = ["%d" if np.issubdtype(c.dtype, np.integer) else ("%.17g" if c.dtype.itemsize == 8 else "%.9g")
               for c in columns]
    path = out_dir / "telemetry.csv"
    with open(path, "w") as f:
        f.write(",".join(names) + "\n")
        if len(telemetry):
            table = np.empty((len(telemetry), len(columns)), dtype=object)
            for i, column in enumerate(columns):
                table[:, i] = column
            np.savetxt(f, table, fmt=formats, delimiter=",")
    paths = [path]
    paths.append(_write_rows(out_dir / "steps.csv", store.steps(session_id),
                             ["cycle", "t_s", "side", "step_length_m", "step_time_s", "toe_clearance_m"]))
    paths.append(_write_rows(out_dir / "strides.csv", store.strides(session_id),
                             ["cycle", "t_s", "side", "stride_time_s", "stance_fraction", "stride_length_m"]))
    events = store.events(session_id)
    for e in events:
        e["detail"] = e.get("outcome") or e.get("text") or e.get("run_state") or (str(e["data"]) if e["data"] else "")
    paths.append(_write_rows(out_dir / "events.csv", events,
                             ["cycle", "t_s", "kind", "side", "code", "v1", "v2", "v3", "detail"]))
    for written in paths:
        os.chmod(written, 0o600)  # health data: owner-only, like the database
    return paths


def telemetry_rate_hz(telemetry: np.ndarray) -> float:
    """The control rate the records were taken at (median cycle period, rounded to 1 Hz)."""
    if len(telemetry) < 2:
        return 1000.0
    dt = np.diff(telemetry["t_s"]) / np.maximum(1, np.diff(telemetry["cycle"].astype(np.int64)))
    return float(round(1.0 / float(np.median(dt))))


def samples_per_frame_for(n_records: int) -> int:
    """Analog samples per C3D frame: 10 (100 Hz points at 1 kHz) unless the session is too long."""
    for k in SAMPLES_PER_FRAME_CHOICES:
        if math.ceil(n_records / k) <= MAX_C3D_FRAMES:
            return k
    raise ValueError(f"{n_records} records are too many for one C3D file")


def export_c3d(
    store: Store, session_id: int, out_path: str | Path, start_s: float | None = None, end_s: float | None = None
) -> Path:
    """Write the session (or the window start_s..end_s) as a C3D file; returns the path."""
    import ezc3d

    telemetry = store.telemetry(session_id)
    if len(telemetry) and (start_s is not None or end_s is not None):
        t = telemetry["t_s"] - telemetry["t_s"][0]
        keep = (t >= (start_s if start_s is not None else -np.inf)) & (t <= (end_s if end_s is not None else np.inf))
        telemetry = telemetry[keep]
    if not len(telemetry):
        raise ValueError(f"session {session_id} has no telemetry to export (in that window)")
    last_cycle = int(telemetry["cycle"][-1])
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    rate = telemetry_rate_hz(telemetry)
    n = len(telemetry)
    k = samples_per_frame_for(n)
    frames = math.ceil(n / k)
    padded = frames * k - n
    if padded:
        telemetry = np.concatenate([telemetry, np.repeat(telemetry[-1:], padded)])
    first_cycle = int(telemetry["cycle"][0])

    c3d = ezc3d.c3d()
    c3d["parameters"]["POINT"]["RATE"]["value"] = [rate / k]
    c3d["parameters"]["POINT"]["LABELS"]["value"] = tuple(label for label, _, _ in ANGLE_POINTS)
    c3d["parameters"]["POINT"]["DESCRIPTIONS"]["value"] = tuple(
        f"{field} {'left' if side == LEFT else 'right'}: X flexion (deg)" for _, field, side in ANGLE_POINTS
    )
    c3d["parameters"]["POINT"]["UNITS"]["value"] = ["deg"]
    at_frames = telemetry[::k]
    points = np.zeros((4, len(ANGLE_POINTS), frames))
    for i, (_, field, side) in enumerate(ANGLE_POINTS):
        points[0, i, :] = np.rad2deg(at_frames[field][:, side].astype(np.float64))
    points[3, :, :] = 1.0
    c3d["data"]["points"] = points

    c3d["parameters"]["ANALOG"]["RATE"]["value"] = [rate]
    events = [e for e in store.events(session_id)
              if e["cycle"] is not None and first_cycle <= int(e["cycle"]) <= last_cycle]
    channels = len(ANALOG_CHANNELS) + len(GAIT_EVENT_CHANNELS)
    c3d["parameters"]["ANALOG"]["LABELS"]["value"] = tuple(
        [c[0] for c in ANALOG_CHANNELS] + [c[0] for c in GAIT_EVENT_CHANNELS])
    c3d["parameters"]["ANALOG"]["UNITS"]["value"] = tuple(
        [c[3] for c in ANALOG_CHANNELS] + ["1"] * len(GAIT_EVENT_CHANNELS))
    analogs = np.zeros((1, channels, frames * k))
    for i, (_, field, index, _, scale) in enumerate(ANALOG_CHANNELS):
        column = telemetry[field] if index is None else telemetry[field][:, index]
        analogs[0, i, :] = column.astype(np.float64) * scale
    for j, (_, kind, side) in enumerate(GAIT_EVENT_CHANNELS):
        samples = [int(e["cycle"]) - first_cycle for e in events if e["kind"] == kind and e["side"] == side]
        analogs[0, len(ANALOG_CHANNELS) + j, samples] = 1.0
    c3d["data"]["analogs"] = analogs

    session = store.get_session(session_id)
    c3d.add_parameter("SUBJECTS", "NAMES", [session["patient_code"]])
    c3d.add_parameter("TRIAL", "SCENE", [session["scene_id"]])
    c3d.add_parameter("TRIAL", "FIRST_CYCLE", [first_cycle])
    c3d.add_parameter("TRIAL", "PADDED_SAMPLES", [padded])
    c3d.add_parameter("TRIAL", "SIMULATED", [1 if session["simulated"] else 0])

    c3d_events = []
    for event in events:
        if event["kind"] in GAIT_EVENT_LABELS:
            label, context = GAIT_EVENT_LABELS[event["kind"]], SIDE_CONTEXT.get(event["side"], "General")
        elif event["kind"] == "obstacle_outcome":
            label, context = f"Obstacle {event['outcome']}", "General"
        else:
            continue
        c3d_events.append(((int(event["cycle"]) - first_cycle) / rate, context, label))
    c3d.add_parameter("TRIAL", "EVENTS_LEFT_OUT", [max(0, len(c3d_events) - MAX_C3D_EVENTS)])
    for t, context, label in c3d_events[:MAX_C3D_EVENTS]:
        minutes = math.floor(t / 60.0)
        c3d.add_event(time=[minutes, t - 60.0 * minutes], context=context, label=label)
    c3d.write(str(out_path))
    os.chmod(out_path, 0o600)  # health data: owner-only, like the database
    return out_path
