"""Exports of a recorded session: C3D for gait-lab tools, and CSV with a metadata sidecar.

Both formats share one time axis: seconds from the session's first telemetry record (the
database's sample time `t_s`, on the core's clock), and both take a window `start_s`..`end_s`
on that axis (the usual way to export a trial). docs/records.md describes every column and
parameter; this docstring says why the C3D is built the way it is.

C3D (written with ezc3d, read back in the tests with ezc3d and py-c3d):
- Time base. A C3D file has one uniform sample clock. The control core's records are stamped
  with their sample time, and their spacing is not exactly 1 ms (a loop period that is a little
  off, or stalls), so numbering records as if they were 1 ms apart drifts tens of milliseconds
  per minute against the database. The telemetry is therefore resampled onto a uniform grid at
  the nominal rate (the median record period's rate,
  snapped to a usual rate such as 1000 Hz within 2 %): grid sample i is at
  t0 + i / rate, and holds the latest record taken at or before that time (zero-order hold: no
  invented values, and phase signals that wrap stay valid). A grid sample with no record within
  1.5 periods before it (a gap in the recording) is invalid (see below). Every event is placed at
  its own database time `t_s - t0`, so events and samples agree to within one sample period.
- Rates. A C3D file holds at most 65535 frames, so the telemetry goes in as analog samples at
  the full rate and the points at rate / samples_per_frame (10 -> 100 Hz, the usual motion-
  capture rate; more samples per frame for sessions longer than 10.9 min).
- Points are the joint angles in the Plug-in-Gait convention (LHipAngles, LKneeAngles,
  RHipAngles, RKneeAngles, and `...Ref` for the reference trajectory), flexion in X, degrees,
  Y and Z zero (the exoskeleton is sagittal only), and are declared as angles: POINT:ANGLES
  lists them and POINT:ANGLE_UNITS is "deg". A frame whose angle is not a number, or that falls
  in a recording gap, gets the C3D standard's invalid-sample marker: residual -1 (coordinates 0).
- Analog channels carry no residual, so no channel holds NaN: `RecordValid` is 1 where the
  sample holds a record and 0 in gaps (every channel is 0 there), and a heart rate of 0 bpm means
  "no reading" (ANALOG:DESCRIPTIONS says so).
- Events. A C3D parameter dimension is one byte, so EVENT:TIMES, LABELS, CONTEXTS, ... hold at
  most 255 events each. Beyond 255 the export follows the C3D standard's rule for more than 255
  points (POINT:LABELS2, LABELS3, ...): EVENT:USED (a 16-bit integer) holds the total, the first
  255 events are in EVENT:TIMES/LABELS/CONTEXTS/DESCRIPTIONS/SUBJECTS/ICON_IDS/GENERIC_FLAGS,
  the next 255 in TIMES2/LABELS2/..., and so on; readers that know only the first parameters still
  see a consistent first 255. The whole parameter section may be at most 255 blocks of 512
  bytes (about 5000 events); a longer session is written as consecutive parts
  (export_c3d_parts). Every gait event is also an analog pulse channel (LFootStrike,
  LFootOff, RFootStrike, RFootOff: 1 at the event's sample), which every reader shows.
- Integer parameters (USED, ICON_IDS, GENERIC_FLAGS, counts, flags) are written as C3D
  integers, not floats.

CSV: telemetry.csv (one row per record), steps.csv, strides.csv, events.csv and metadata.json.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import os
from pathlib import Path

import numpy as np

from engine.control.layout import RunState
from engine.records.store import Store

LEFT, RIGHT = 0, 1
SIDE_NAMES = {LEFT: "left", RIGHT: "right"}
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
    # (label, telemetry field, index or None, unit, scale, description)
    *[(label.replace("Angles", "Angle"), field, side, "deg", 180.0 / math.pi,
       f"{field.replace('_rad', '')} {SIDE_NAMES[side]} flexion (deg)") for label, field, side in ANGLE_POINTS],
    ("BeltSpeed", "belt_speed_mps", None, "m/s", 1.0, "measured belt speed"),
    ("BeltSpeedCmd", "belt_speed_cmd_mps", None, "m/s", 1.0, "commanded belt speed"),
    ("RouteDistance", "s_m", None, "m", 1.0, "distance walked along the scene's route"),
    ("Guidance", "guidance", None, "1", 1.0,
     "exoskeleton guidance applied, fraction 0..1 of full stiffness (absolute)"),
    ("BodyWeightSupport", "bws_fraction", None, "1", 1.0,
     "body-weight support applied, fraction 0..1 of body weight (absolute)"),
    ("HeartRate", "heart_rate_bpm", None, "bpm", 1.0, "heart rate; 0 = no reading"),
    ("LToeHeight", "toe_height_m", LEFT, "m", 1.0, "left toe height above the belt"),
    ("RToeHeight", "toe_height_m", RIGHT, "m", 1.0, "right toe height above the belt"),
    ("LGaitPhase", "gait_phase", LEFT, "1", 1.0, "left gait phase 0..1 from heel strike"),
    ("RGaitPhase", "gait_phase", RIGHT, "1", 1.0, "right gait phase 0..1 from heel strike"),
]
VALID_CHANNEL = ("RecordValid", "1", "1 = a record was taken within 1.5 sample periods before this sample, 0 = gap")
GAIT_EVENT_CHANNELS = [
    ("LFootStrike", "heel_strike", LEFT),
    ("LFootOff", "toe_off", LEFT),
    ("RFootStrike", "heel_strike", RIGHT),
    ("RFootOff", "toe_off", RIGHT),
]
MAX_C3D_FRAMES = 65535
MAX_PARAMETER_ENTRIES = 255  # a C3D parameter dimension is one unsigned byte
MAX_C3D_EVENTS = 32767  # EVENT:USED is a signed 16-bit integer
MAX_PARAMETER_BLOCKS = 255  # the parameter section's 512-byte block count is one byte (py-c3d honours it)
SAMPLES_PER_FRAME_CHOICES = (10, 20, 25, 40, 50, 100, 200, 250, 500, 1000)
GAIT_EVENT_LABELS = {"heel_strike": "Foot Strike", "toe_off": "Foot Off"}
USUAL_RATES_HZ = (50.0, 60.0, 100.0, 120.0, 200.0, 240.0, 250.0, 500.0, 1000.0, 2000.0)
GAP_PERIODS = 1.5  # a grid sample with no record this many periods before it is a gap
CSV_FORMAT_VERSION = 2


class ExportError(ValueError):
    """The session cannot be exported as asked (no data in the window, too long for one file)."""


class TooManyEvents(ExportError):
    """The window's events do not fit one C3D parameter section; `blocks` says how many it needed."""

    def __init__(self, message: str, blocks: int) -> None:
        super().__init__(message)
        self.blocks = blocks


# ---------------------------------------------------------------------------------------------
# Shared: the session's time axis and windows
# ---------------------------------------------------------------------------------------------
def session_t0(store: Store, session_id: int, telemetry: np.ndarray | None = None) -> float:
    """Time zero of a session on the core's clock: its first telemetry record's sample time."""
    if telemetry is None:
        telemetry = store.telemetry(session_id)
    if len(telemetry):
        return float(telemetry["t_s"][0])
    times = [e["t_s"] for e in store.events(session_id)]
    return float(min(times)) if times else 0.0


def _check_window(start_s: float | None, end_s: float | None) -> None:
    for name, value in (("--from-s", start_s), ("--to-s", end_s)):
        if value is not None and not math.isfinite(value):
            raise ExportError(f"{name} must be a finite number of seconds, got {value}")
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise ExportError(f"the window ends ({end_s} s) before it starts ({start_s} s)")


def _in_window(t_rel: np.ndarray, start_s: float | None, end_s: float | None) -> np.ndarray:
    low = -np.inf if start_s is None else start_s
    high = np.inf if end_s is None else end_s
    return (t_rel >= low) & (t_rel <= high)


def telemetry_rate_hz(telemetry: np.ndarray) -> float:
    """The nominal rate the records were taken at: the median record period's rate, snapped to
    a usual sampling rate within 2 % (a 998.7 Hz loop is a 1 kHz loop), else rounded to 1 Hz."""
    if len(telemetry) < 2:
        return 1000.0
    dt = np.diff(telemetry["t_s"]) / np.maximum(1, np.diff(telemetry["cycle"].astype(np.int64)))
    measured = 1.0 / float(np.median(dt))
    for usual in USUAL_RATES_HZ:
        if abs(measured - usual) <= 0.02 * usual:
            return usual
    return float(round(measured))


def samples_per_frame_for(n_samples: int) -> int:
    """Analog samples per C3D frame: 10 (100 Hz points at 1 kHz) unless the session is too long."""
    for k in SAMPLES_PER_FRAME_CHOICES:
        if math.ceil(n_samples / k) <= MAX_C3D_FRAMES:
            return k
    raise ExportError(f"{n_samples} samples are too many for one C3D file; export windows (--from-s/--to-s)")


def resample_uniform(telemetry: np.ndarray, rate_hz: float, t0: float, t_end: float) -> tuple[np.ndarray, np.ndarray]:
    """Telemetry on the uniform grid t0 + i / rate_hz (i = 0.. while <= t_end): the latest record
    at or before each grid time. Returns (records, valid) where valid is False in gaps."""
    index, valid = resample_index(telemetry["t_s"], rate_hz, t0, t_end)
    return telemetry[index], valid


def resample_index(t: np.ndarray, rate_hz: float, t0: float, t_end: float) -> tuple[np.ndarray, np.ndarray]:
    """resample_uniform as indices: for each grid time, the index into t (sorted record times)
    of the latest record at or before it, and whether one is within GAP_PERIODS periods."""
    n = int(math.floor((t_end - t0) * rate_hz + 1e-6)) + 1
    grid = t0 + np.arange(n) / rate_hz
    index = np.searchsorted(t, grid + 1e-9, side="right") - 1
    valid = index >= 0
    np.clip(index, 0, len(t) - 1, out=index)
    valid &= (grid - t[index]) <= GAP_PERIODS / rate_hz
    return index, valid


# ---------------------------------------------------------------------------------------------
# C3D
# ---------------------------------------------------------------------------------------------
def _set_int_parameter(c3d, group: str, name: str, values, description: str = "") -> None:
    """Add a parameter stored as C3D integers (ezc3d's add_parameter turns lists into floats)."""
    import ezc3d

    array = np.atleast_1d(np.asarray(values, dtype=np.int64))
    if array.size and (array.min() < -32768 or array.max() > 32767):
        raise ExportError(f"{group}:{name} does not fit a 16-bit C3D integer: {array.min()}..{array.max()}")
    c3d.add_parameter(group, name, array.astype(np.float64), description)
    param = c3d["parameters"][group][name]
    param["type"] = ezc3d.ezc3d.INT
    param["value"] = array.astype(int)


def _c3d_events(events: list[dict], t0: float, start_s: float, end_s: float,
                until_s: float | None = None) -> list[tuple[float, str, str, str, int]]:
    """(time from the first exported sample, context, label, description, icon) per exported
    event from start_s to end_s (or up to, not including, until_s)."""
    out = []
    for event in events:
        t_rel = float(event["t_s"]) - t0
        inside = t_rel < until_s if until_s is not None else t_rel <= end_s + 1e-9
        if not (start_s - 1e-9 <= t_rel and inside):
            continue
        if event["kind"] in GAIT_EVENT_LABELS:
            label = GAIT_EVENT_LABELS[event["kind"]]
            context = SIDE_CONTEXT.get(event["side"], "General")
            description = ""  # the label and context say it all; bytes are scarce (MAX_PARAMETER_BLOCKS)
            icon = 0
        elif event["kind"] == "obstacle_outcome":
            label, context = f"Obstacle {event['outcome']}", "General"
            margin = event.get("margin_m")
            description = f"obstacle {event.get('obstacle')}" + (f", margin {margin * 100:.1f} cm" if margin is not None else "")
            icon = 0
        else:
            continue
        out.append((t_rel - start_s, context, label, description, icon))
    return out


def _event_blocks(events: list[tuple[float, str, str, str, int]]) -> list[list[tuple[float, str, str, str, int]]]:
    """Events in blocks of at most 255, each block one (label, context) in time order: a C3D
    string matrix is padded to its longest entry, so uniform blocks keep the parameter section
    (at most MAX_PARAMETER_BLOCKS x 512 bytes) as small as the events allow."""
    groups: dict[tuple[str, str], list] = {}
    for event in sorted(events):
        groups.setdefault((event[2], event[1]), []).append(event)
    blocks = []
    for key in sorted(groups):
        rows = groups[key]
        blocks += [rows[i:i + MAX_PARAMETER_ENTRIES] for i in range(0, len(rows), MAX_PARAMETER_ENTRIES)]
    return blocks


def _add_events(c3d, events: list[tuple[float, str, str, str, int]]) -> None:
    """Write the EVENT group, in blocks of 255 (TIMES, TIMES2, ...) beyond the first 255."""
    if len(events) > MAX_C3D_EVENTS:
        raise TooManyEvents(f"{len(events)} events exceed the C3D limit of {MAX_C3D_EVENTS}; export windows "
                            "(--from-s/--to-s)", blocks=len(events) * 24 // 512 + 1)  # ~24 bytes per event
    _set_int_parameter(c3d, "EVENT", "USED", [len(events)], "number of events in TIMES, TIMES2, ...")
    for block, chunk in enumerate(_event_blocks(events) or [[]]):
        suffix = "" if block == 0 else str(block + 1)
        minutes = [math.floor(t / 60.0) for t, *_ in chunk]
        seconds = [t - 60.0 * m for (t, *_), m in zip(chunk, minutes, strict=True)]
        times = np.array([minutes, seconds], dtype=np.float64).reshape(2, len(chunk))
        c3d.add_parameter("EVENT", f"TIMES{suffix}", times)
        c3d.add_parameter("EVENT", f"CONTEXTS{suffix}", [c for _, c, _, _, _ in chunk] or [""])
        c3d.add_parameter("EVENT", f"LABELS{suffix}", [label for _, _, label, _, _ in chunk] or [""])
        descriptions = [d for _, _, _, d, _ in chunk]
        if block == 0 or any(descriptions):
            c3d.add_parameter("EVENT", f"DESCRIPTIONS{suffix}", descriptions or [""])
        if block == 0:  # extension blocks leave out what carries nothing: "" subject, icon 0, flag 0
            c3d.add_parameter("EVENT", "SUBJECTS", [""] * len(chunk) or [""])  # "": the file's one subject
            _set_int_parameter(c3d, "EVENT", "ICON_IDS", [0] * len(chunk))
            _set_int_parameter(c3d, "EVENT", "GENERIC_FLAGS", [0] * len(chunk))
    c3d.add_parameter("EVENT_CONTEXT", "LABELS", ["Left", "Right", "General"])
    c3d.add_parameter("EVENT_CONTEXT", "DESCRIPTIONS", ["left side", "right side", "for both sides"])
    _set_int_parameter(c3d, "EVENT_CONTEXT", "USED", [3])
    _set_int_parameter(c3d, "EVENT_CONTEXT", "ICON_IDS", [0, 1, 2])
    _set_int_parameter(c3d, "EVENT_CONTEXT", "COLOURS", [[255, 0, 0], [0, 255, 0], [0, 0, 255]])


def export_c3d(
    store: Store, session_id: int, out_path: str | Path, start_s: float | None = None, end_s: float | None = None,
    events_until_s: float | None = None,
) -> Path:
    """Write the session (or the window start_s..end_s, seconds from its first record) as a C3D
    file; returns the path. Raises ExportError when there is nothing to export.

    events_until_s (for consecutive parts): take the events up to that time, not including it,
    instead of up to the window's last record, so an event between two parts' records is in one.

    Memory: ezc3d's Python writer turns every analog sample into a C++ object (a 20-minute
    session took 1.1 GB), so ezc3d writes the header and the parameter section from a one-frame
    file, and the data section is streamed here in chunks of frames, byte for byte what ezc3d
    writes (float32 frames: per point X Y Z and the residual word, then the analog samples
    subframe by subframe; zero-padded to a 512-byte block; tests/records/test_export_c3d.py
    compares the two). Telemetry is resampled as indices into the window, column by column."""
    _check_window(start_s, end_s)
    telemetry = store.telemetry(session_id)
    if not len(telemetry):
        raise ExportError(f"session {session_id} has no telemetry to export")
    t = np.ascontiguousarray(telemetry["t_s"])
    t0 = float(t[0])
    keep = np.flatnonzero(_in_window(t - t0, start_s, end_s))
    if not len(keep):
        raise ExportError(f"session {session_id} has no telemetry between {start_s} s and {end_s} s "
                          f"(it has 0 .. {float(t[-1] - t0):.3f} s)")
    rate = telemetry_rate_hz(telemetry)
    if keep[-1] - keep[0] + 1 == len(keep):
        window = telemetry[keep[0]:keep[-1] + 1]  # records are in time order: a view, no copy
        window_t = t[keep[0]:keep[-1] + 1]
    else:
        window = telemetry[keep]
        window_t = np.ascontiguousarray(window["t_s"])
    del keep
    first_s = float(window_t[0]) - t0
    last_s = float(window_t[-1]) - t0
    index, valid = resample_index(window_t, rate, t0 + first_s, t0 + last_s)
    del t, window_t
    n = len(index)
    k = samples_per_frame_for(n)
    frames = math.ceil(n / k)
    padded = frames * k - n
    if padded:  # pad the last frame with invalid samples (holding the last record)
        index = np.concatenate([index, np.repeat(index[-1:], padded)])
        valid = np.concatenate([valid, np.zeros(padded, dtype=bool)])
    events = _c3d_events(store.events(session_id), t0, first_s, last_s, events_until_s)
    pulses = []  # (analog channel, sample) of each gait event's pulse
    for j, (_, kind, side) in enumerate(GAIT_EVENT_CHANNELS):
        context, label = SIDE_CONTEXT[side], GAIT_EVENT_LABELS[kind]
        pulses += [(len(ANALOG_CHANNELS) + 1 + j, min(n - 1, int(round(t_ev * rate))))
                   for t_ev, c, lab, _, _ in events if c == context and lab == label]

    def frame_block(f0: int, f1: int) -> np.ndarray:
        """Frames f0..f1 as the data section stores them: float32, one row per frame."""
        rows = window[index[f0 * k:f1 * k]]
        ok_samples = valid[f0 * k:f1 * k]
        nf = f1 - f0
        n_points = len(ANGLE_POINTS)
        block = np.zeros((nf, 4 * n_points + k * n_analog), dtype=np.float32)
        at_frames, frame_ok = rows[::k], ok_samples[::k]
        for i, (_, field, side) in enumerate(ANGLE_POINTS):
            degrees = np.rad2deg(at_frames[field][:, side].astype(np.float64))
            ok = frame_ok & np.isfinite(degrees)
            block[:, 4 * i] = np.where(ok, degrees, 0.0)
            block[:, 4 * i + 3] = np.where(ok, 0.0, -1.0)  # C3D: a negative residual marks an invalid sample
        analog = block[:, 4 * n_points:].reshape(nf, k, n_analog)  # subframe by subframe, channels within
        for i, (_, field, column_index, _, scale, _) in enumerate(ANALOG_CHANNELS):
            column = (rows[field] if column_index is None else rows[field][:, column_index]).astype(np.float64) * scale
            if field == "heart_rate_bpm":
                column = np.where(column > 0, column, 0.0)
            analog[:, :, i] = np.where(ok_samples & np.isfinite(column), column, 0.0).reshape(nf, k)
        analog[:, :, len(ANALOG_CHANNELS)] = ok_samples.reshape(nf, k)
        for channel, sample in pulses:
            if f0 * k <= sample < f1 * k:
                analog[(sample - f0 * k) // k, (sample - f0 * k) % k, channel] = 1.0
        return block

    labels = [c[0] for c in ANALOG_CHANNELS] + [VALID_CHANNEL[0]] + [c[0] for c in GAIT_EVENT_CHANNELS]
    n_analog = len(labels)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # The header and parameters, from a one-frame C3D that ezc3d builds with every parameter.
    first = frame_block(0, 1)
    c3d = _c3d_template(store, session_id, rate, k, labels, first, events, window, first_s, padded,
                        int(n - valid[:n].sum()))
    c3d.write(str(out_path))
    os.chmod(out_path, 0o600)  # health data: owner-only, like the database
    blocks = parameter_blocks(out_path)
    if blocks > MAX_PARAMETER_BLOCKS:
        out_path.unlink()
        minutes = (last_s - first_s) / 60.0 * MAX_PARAMETER_BLOCKS / blocks
        raise TooManyEvents(
            f"{len(events)} events need {blocks} parameter blocks of 512 bytes, more than the C3D format's 255; "
            f"export windows of about {max(1, int(minutes * 0.9))} minutes (--from-s/--to-s)", blocks)
    _stream_frames(out_path, frames, first.shape[1] * 4, frame_block)
    return out_path


C3D_CHUNK_FRAMES = 2000  # frames built and written at a time (2000 x 20 samples x 25 channels: 4 MB)


def _c3d_template(store: Store, session_id: int, rate: float, k: int, labels: list[str], first: np.ndarray,
                  events: list, window: np.ndarray, first_s: float, padded: int, gap_samples: int):
    """The ezc3d object of the export with its first frame only (header and parameters are
    whole; _stream_frames writes the frames and fixes the frame counts)."""
    import ezc3d

    n_points = len(ANGLE_POINTS)
    c3d = ezc3d.c3d()
    c3d["parameters"]["POINT"]["RATE"]["value"] = [rate / k]
    c3d["parameters"]["POINT"]["LABELS"]["value"] = tuple(label for label, _, _ in ANGLE_POINTS)
    c3d["parameters"]["POINT"]["DESCRIPTIONS"]["value"] = tuple(
        f"{field.replace('_rad', '')} {SIDE_NAMES[side]}: X flexion (deg)" for _, field, side in ANGLE_POINTS
    )
    c3d.add_parameter("POINT", "ANGLES", [label for label, _, _ in ANGLE_POINTS], "points that are joint angles")
    c3d.add_parameter("POINT", "ANGLE_UNITS", ["deg"])
    row = first[0].astype(np.float64)
    points = np.zeros((4, n_points, 1))
    residuals = np.zeros((1, n_points, 1))
    for i in range(n_points):
        points[0, i, 0] = row[4 * i]
        residuals[0, i, 0] = row[4 * i + 3]
    points[3, :, :] = 1.0
    c3d["data"]["points"] = points
    c3d["data"]["meta_points"] = {"residuals": residuals,
                                  "camera_masks": np.zeros((7, n_points, 1), dtype=bool)}

    c3d["parameters"]["ANALOG"]["RATE"]["value"] = [rate]
    c3d["parameters"]["ANALOG"]["LABELS"]["value"] = tuple(labels)
    c3d["parameters"]["ANALOG"]["UNITS"]["value"] = tuple(
        [c[3] for c in ANALOG_CHANNELS] + [VALID_CHANNEL[1]] + ["1"] * len(GAIT_EVENT_CHANNELS))
    c3d.add_parameter("ANALOG", "DESCRIPTIONS", [c[5] for c in ANALOG_CHANNELS] + [VALID_CHANNEL[2]]
                      + [f"1 at the sample of each {kind.replace('_', ' ')} ({SIDE_NAMES[side]})"
                         for _, kind, side in GAIT_EVENT_CHANNELS])
    c3d["data"]["analogs"] = row[4 * n_points:].reshape(k, len(labels)).T.reshape(1, len(labels), k).copy()

    session = store.get_session(session_id)
    subject = pseudonym(store, session["patient_code"])
    c3d.add_parameter("SUBJECTS", "NAMES", [subject], "pseudonymised patient code")
    _set_int_parameter(c3d, "SUBJECTS", "USED", [1])
    c3d.add_parameter("TRIAL", "SCENE", [session["scene_id"]])
    c3d.add_parameter("TRIAL", "SESSION_START", [session["started_at"]], "wall-clock start of the session (UTC)")
    c3d.add_parameter("TRIAL", "WINDOW_START_S", [first_s], "first frame, seconds from the session's first record")
    c3d.add_parameter("TRIAL", "FIRST_CYCLE", [str(int(window["cycle"][0]))], "control cycle of the first record")
    _set_int_parameter(c3d, "TRIAL", "PADDED_SAMPLES", [padded], "invalid analog samples padding the last frame")
    _set_int_parameter(c3d, "TRIAL", "GAP_SAMPLES", [gap_samples], "analog samples in recording gaps")
    _set_int_parameter(c3d, "TRIAL", "SIMULATED", [1 if session["simulated"] else 0], "1 = simulated patient")
    _add_events(c3d, events)
    return c3d


def _c3d_parameter_offsets(section: bytes, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Byte offsets (in the parameter section) of the data of the wanted (GROUP, NAME) parameters."""
    groups: dict[int, str] = {}
    params: list[tuple[int, str, int]] = []
    pos = 4
    while pos + 2 <= len(section):
        name_len = abs(int.from_bytes(section[pos:pos + 1], "little", signed=True))  # negative: locked
        group_id = int.from_bytes(section[pos + 1:pos + 2], "little", signed=True)
        if name_len == 0 or group_id == 0:
            break
        name = section[pos + 2:pos + 2 + name_len].decode("ascii", "replace")
        link = pos + 2 + name_len
        next_offset = int.from_bytes(section[link:link + 2], "little", signed=True)
        if group_id < 0:
            groups[-group_id] = name
        else:
            params.append((group_id, name, link + 2))
        if next_offset == 0:
            break
        pos = link + next_offset
    out = {}
    for group_id, name, at in params:
        key = (groups.get(group_id, ""), name)
        if key in wanted:
            dims = section[at + 1]
            out[key] = at + 2 + dims  # after the type and the dimensions
    return out


def _stream_frames(path: Path, frames: int, frame_bytes: int, frame_block) -> None:
    """Replace the one-frame data section of the ezc3d file at path with `frames` frames from
    frame_block(f0, f1), and set the frame counts ezc3d wrote for one frame: header word 5
    (last frame), POINT:FRAMES and ROTATION:DATA_START (the block after the data, 16 bits as
    ezc3d writes it)."""
    with open(path, "r+b") as f:
        header = bytearray(f.read(512))
        first_parameter_block = header[0]
        data_start = int.from_bytes(header[16:18], "little")
        f.seek((first_parameter_block - 1) * 512)
        section = bytearray(f.read((data_start - first_parameter_block) * 512))
        data_bytes = frames * frame_bytes
        header[8:10] = frames.to_bytes(2, "little")
        offsets = _c3d_parameter_offsets(bytes(section), {("POINT", "FRAMES"), ("ROTATION", "DATA_START")})
        if ("POINT", "FRAMES") not in offsets:
            raise ExportError(f"{path}: ezc3d wrote no POINT:FRAMES parameter")
        at = offsets[("POINT", "FRAMES")]
        section[at:at + 2] = frames.to_bytes(2, "little")
        if ("ROTATION", "DATA_START") in offsets:
            at = offsets[("ROTATION", "DATA_START")]
            section[at:at + 2] = ((data_start + data_bytes // 512 + 1) & 0xFFFF).to_bytes(2, "little")
        f.seek(0)
        f.write(header)
        f.seek((first_parameter_block - 1) * 512)
        f.write(section)
        f.seek((data_start - 1) * 512)
        f.truncate()
        for f0 in range(0, frames, C3D_CHUNK_FRAMES):
            f.write(frame_block(f0, min(frames, f0 + C3D_CHUNK_FRAMES)).tobytes())
        f.write(bytes(-data_bytes % 512))


def export_c3d_parts(
    store: Store, session_id: int, out_path: str | Path, start_s: float | None = None, end_s: float | None = None
) -> list[Path]:
    """export_c3d, split into consecutive parts (NAME-part1.c3d, ...) of equal length when the
    events do not fit one file's parameter section, so that every event is exported however
    long the session; a window that fits gives one file at out_path."""
    try:
        return [export_c3d(store, session_id, out_path, start_s, end_s)]
    except TooManyEvents as exc:
        needed = exc.blocks
    t_rel = store.telemetry(session_id)["t_s"]
    t_rel = t_rel - t_rel[0]
    first = max(0.0, start_s if start_s is not None else 0.0)
    last = min(float(t_rel[-1]), end_s if end_s is not None else math.inf)
    parts = math.ceil(needed / (MAX_PARAMETER_BLOCKS * 0.9))  # 10 % spare: events are not spread evenly
    out_path = Path(out_path)
    while True:
        edges = np.linspace(first, last, parts + 1)
        paths = []
        try:
            for k in range(parts):
                # Part k holds the records before the next part's first record, and the events up
                # to that record: every record and every event in exactly one part.
                name = out_path.with_name(f"{out_path.stem}-part{k + 1}{out_path.suffix}")
                if k == parts - 1:
                    paths.append(export_c3d(store, session_id, name, float(edges[k]), float(last)))
                    continue
                next_first = float(t_rel[np.searchsorted(t_rel, edges[k + 1])])
                paths.append(export_c3d(store, session_id, name, float(edges[k]), next_first - 1e-9,
                                        events_until_s=next_first))
            return paths
        except TooManyEvents:
            for path in paths:
                path.unlink()
            parts += 1


def parameter_blocks(path: str | Path) -> int:
    """512-byte blocks of a C3D file's parameter section, from its header (first parameter block,
    word 1) and the first data block (word 9): the format allows at most 255."""
    with open(path, "rb") as f:
        header = f.read(18)
    first_parameter_block = header[0]
    data_start = int.from_bytes(header[16:18], "little")
    return data_start - first_parameter_block


# ---------------------------------------------------------------------------------------------
# Pseudonyms and metadata
# ---------------------------------------------------------------------------------------------
def pseudonym(store: Store, patient_code: str) -> str:
    """A stable pseudonym for a patient code: keyed HMAC-SHA256 with this database's secret, so
    exports from one database can be linked to each other but not to the code without the
    database."""
    from engine.records.pseudonym import pseudonym as keyed_pseudonym  # one definition, also in SQL

    return keyed_pseudonym(store, patient_code)


def software_version() -> str:
    """StepSync's version (pyproject.toml) and the git commit when the tree is a checkout."""
    root = Path(__file__).resolve().parents[2]
    version = "unknown"
    try:
        import tomllib

        version = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    except Exception:  # an installed copy without pyproject.toml: fall back to the package metadata
        try:
            from importlib.metadata import version as dist_version

            version = dist_version("stepsync")
        except Exception:
            pass
    try:
        head = (root / ".git").read_text().strip() if (root / ".git").is_file() else ""
        git_dir = Path(head.split(": ", 1)[1]) if head.startswith("gitdir:") else root / ".git"
        ref = (git_dir / "HEAD").read_text().strip()
        if ref.startswith("ref: "):
            ref_path = git_dir / ref[5:]
            if not ref_path.exists():
                common = (git_dir / "commondir").read_text().strip() if (git_dir / "commondir").exists() else None
                ref_path = (git_dir / common / ref[5:]) if common else ref_path
            ref = ref_path.read_text().strip()
        return f"{version}+g{ref[:10]}"
    except Exception:
        return version


def _affected_side(store: Store, patient_code: str) -> int:
    rx = store.current_prescription(patient_code)
    return -1 if rx is None else int(rx.affected_side)


def side_role(side: int | None, affected_side: int) -> str:
    """'paretic' / 'non-paretic' for a side when the prescription names an affected side, else ''."""
    if affected_side not in (LEFT, RIGHT) or side not in (LEFT, RIGHT):
        return ""
    return "paretic" if side == affected_side else "non-paretic"


def metadata(store: Store, session_id: int, telemetry: np.ndarray, start_s: float | None = None,
             end_s: float | None = None, files: dict | None = None) -> dict:
    """The sidecar of an export: who (pseudonymised), what, when, devices, rates, software."""
    session = store.get_session(session_id)
    rx = store.current_prescription(session["patient_code"])
    affected = -1 if rx is None else rx.affected_side
    rate = telemetry_rate_hz(telemetry) if len(telemetry) else None
    settings = session.get("settings") or {}
    devices = settings.get("devices") or [
        {"name": "treadmill", "role": "belt speed and position"},
        {"name": "exoskeleton", "role": "hip and knee angles, guidance"},
        {"name": "body-weight support", "role": "unloading"},
        {"name": "heart-rate sensor", "role": "heart rate"},
    ]
    rates = {"telemetry_hz": rate}
    if len(telemetry) > 1:
        rates["telemetry_measured_hz"] = round((len(telemetry) - 1) / float(telemetry["t_s"][-1] - telemetry["t_s"][0]), 3)
    rates.update(settings.get("sample_rates_hz") or {})
    return {
        "format": "stepsync-export",
        "format_version": CSV_FORMAT_VERSION,
        "software": {"name": "StepSync", "version": software_version()},
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "patient": {
            "pseudonym": pseudonym(store, session["patient_code"]),
            "pseudonymisation": "HMAC-SHA256 of the patient code with a secret kept in the records database",
            "affected_side": SIDE_NAMES.get(affected, "none"),
        },
        "session": {
            "id": session_id,
            "scene": session["scene_id"],
            "started_at_utc": session["started_at"],
            "ended_at_utc": session["ended_at"],
            "outcome": session["outcome"],
            "simulated": session["simulated"],
            "time_zero": "time_s = 0 at the session's first telemetry record (its sample time on the "
                         "control core's clock); started_at_utc is the wall-clock time the session was opened",
        },
        "window_s": {"from": start_s, "to": end_s},
        "devices": devices,
        "sample_rates_hz": rates,
        "settings_units": {
            "guidance": "fraction 0..1 of full exoskeleton stiffness (absolute)",
            "bws": "fraction 0..1 of body weight (absolute)",
        },
        "files": files or {},
    }


# Telemetry columns: (CSV name, field, index or None, unit, scale, description)
def _telemetry_columns() -> list[tuple[str, str, int | None, str, float, str]]:
    deg = 180.0 / math.pi
    columns = [
        ("belt_speed_mps", "belt_speed_mps", None, "m/s", 1.0, "measured belt speed"),
        ("belt_speed_cmd_mps", "belt_speed_cmd_mps", None, "m/s", 1.0, "commanded belt speed"),
        ("route_distance_m", "s_m", None, "m", 1.0, "distance along the scene's route"),
    ]
    for field, name in (("hip_rad", "hip_angle"), ("knee_rad", "knee_angle"), ("hip_ref_rad", "hip_angle_ref"),
                        ("knee_ref_rad", "knee_angle_ref")):
        for side in (LEFT, RIGHT):
            columns.append((f"{name}_{SIDE_NAMES[side]}_deg", field, side, "deg", deg, f"{name.replace('_', ' ')}, flexion +"))
    columns += [
        ("guidance_fraction", "guidance", None, "1", 1.0, "guidance applied, fraction of full stiffness"),
        ("bws_fraction", "bws_fraction", None, "1", 1.0, "body-weight support applied, fraction of body weight"),
    ]
    for field, name, unit, description in (("gait_phase", "gait_phase", "1", "gait phase 0..1 from heel strike"),
                                           ("toe_height_m", "toe_height", "m", "toe height above the belt"),
                                           ("clearance_boost", "clearance_boost", "1", "extra swing flexion, fraction")):
        for side in (LEFT, RIGHT):
            suffix = "_m" if unit == "m" else "_fraction"
            columns.append((f"{name}_{SIDE_NAMES[side]}{suffix}", field, side, unit, 1.0, description))
    columns += [
        ("heart_rate_bpm", "heart_rate_bpm", None, "1/min", 1.0, "heart rate; empty = no reading"),
        ("loop_lateness_s", "lateness_us", None, "s", 1e-6, "control-loop lateness of this cycle"),
        ("loop_compute_s", "compute_us", None, "s", 1e-6, "control-loop compute time of this cycle"),
    ]
    return columns


CONTACT_COLUMNS = [("heel_contact_left", 1), ("toe_contact_left", 2), ("heel_contact_right", 4), ("toe_contact_right", 8)]


CSV_CHUNK_RECORDS = 20_000  # telemetry rows formatted at once (vectorised, bounded memory)
_STATE_NAMES = np.array([RunState(i).name.lower() if i in RunState._value2member_map_ else str(i) for i in range(256)])


def _format_column(values: np.ndarray, digits: int) -> list[str]:
    """Numbers as text with `digits` significant digits (float32 data needs 9, float64 17);
    NaN and infinity as an empty field (x - x is 0 only for finite x)."""
    spec = f".{digits}g"
    return [format(x, spec) if x - x == 0 else "" for x in values.tolist()]


def _telemetry_lines(records: np.ndarray, t0: float, columns: list) -> list[str]:
    """CSV lines (without line ends) of a block of telemetry records, built column-wise."""
    parts = [_format_column(records["t_s"] - t0, 17), [str(c) for c in records["cycle"].tolist()],
             _STATE_NAMES[records["run_state"].astype(np.intp)].tolist()]
    for _, field, index, _, scale, _ in columns:
        raw = records[field] if index is None else records[field][:, index]
        values = raw.astype(np.float64) * scale
        if field == "heart_rate_bpm":
            values = np.where(values > 0, values, np.nan)
        parts.append(_format_column(values, 17 if raw.dtype.itemsize == 8 else 9))
    contacts = records["contacts"].astype(np.int64)
    parts += [["1" if c else "0" for c in ((contacts & bit) != 0).tolist()] for _, bit in CONTACT_COLUMNS]
    parts.append([str(a) for a in records["alarms"].tolist()])
    return [",".join(row) for row in zip(*parts, strict=True)]


def _fmt_number(value) -> str:
    if value is None:
        return ""
    value = float(value)
    return repr(value) if math.isfinite(value) else ""


def _write_csv(path: Path, header: list[str], rows) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def export_csv(store: Store, session_id: int, out_dir: str | Path, start_s: float | None = None,
               end_s: float | None = None) -> list[Path]:
    """Write telemetry.csv, steps.csv, strides.csv, events.csv and metadata.json into out_dir
    (the window start_s..end_s, seconds from the session's first record); returns the paths.

    Every CSV has one header row whose names carry their SI unit (`_s`, `_m`, `_mps`, `_deg`,
    `_bpm`, `_fraction` for ratios); times are `time_s` from the session's first record (the
    sidecar gives the wall-clock start); sides are named; `detail` is JSON."""
    _check_window(start_s, end_s)
    store.get_session(session_id)  # KeyError for an unknown session
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    session = store.get_session(session_id)
    affected = _affected_side(store, session["patient_code"])
    telemetry = store.telemetry(session_id)
    t0 = session_t0(store, session_id, telemetry)
    t_rel = telemetry["t_s"] - t0
    window = telemetry[_in_window(t_rel, start_s, end_s)]
    if (start_s is not None or end_s is not None) and len(telemetry) and not len(window):
        raise ExportError(f"session {session_id} has no telemetry between {start_s} s and {end_s} s "
                          f"(it has 0 .. {float(t_rel[-1]):.3f} s)")
    columns = _telemetry_columns()
    header = ["time_s", "cycle", "run_state"] + [c[0] for c in columns] + [c[0] for c in CONTACT_COLUMNS] + ["alarm_bits"]
    path = out_dir / "telemetry.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        f.write(",".join(header) + "\r\n")  # the csv module's line ending, as in the other files
        for first in range(0, len(window), CSV_CHUNK_RECORDS):
            lines = _telemetry_lines(window[first:first + CSV_CHUNK_RECORDS], t0, columns)
            f.write("\r\n".join(lines) + "\r\n")
    paths = [path]

    def in_window(row: dict) -> bool:
        t = float(row["t_s"]) - t0
        return (start_s is None or t >= start_s) and (end_s is None or t <= end_s)

    def side_name(side) -> str:
        return SIDE_NAMES.get(side, "")

    steps = [s for s in store.steps(session_id) if in_window(s)]
    paths.append(_write_csv(out_dir / "steps.csv",
                            ["time_s", "cycle", "side", "side_role", "step_length_m", "step_time_s", "toe_clearance_m"],
                            ([repr(float(s["t_s"]) - t0), s["cycle"], side_name(s["side"]), side_role(s["side"], affected),
                              _fmt_number(s["step_length_m"]), _fmt_number(s["step_time_s"]),
                              _fmt_number(s["toe_clearance_m"])] for s in steps)))
    from engine.records.metrics import steady_strides

    all_strides = store.strides(session_id)
    steady = steady_strides(all_strides, telemetry, store.events(session_id))
    strides = [(s, ok) for s, ok in zip(all_strides, steady, strict=True) if in_window(s)]
    paths.append(_write_csv(out_dir / "strides.csv",
                            ["time_s", "cycle", "side", "side_role", "stride_time_s", "stance_fraction",
                             "stride_length_m", "steady"],
                            ([repr(float(s["t_s"]) - t0), s["cycle"], side_name(s["side"]), side_role(s["side"], affected),
                              _fmt_number(s["stride_time_s"]), _fmt_number(s["stance_fraction"]),
                              _fmt_number(s["stride_length_m"]), int(ok)] for s, ok in strides)))
    events = [e for e in store.events(session_id) if in_window(e)]

    def detail(e: dict) -> str:
        data = {k: e[k] for k in ("outcome", "obstacle", "margin_m", "reason", "text", "priority", "run_state") if k in e}
        data.update(e.get("data") or {})
        return json.dumps(data, sort_keys=True, default=str)

    paths.append(_write_csv(out_dir / "events.csv",
                            ["time_s", "cycle", "kind", "side", "side_role", "code", "v1", "v2", "v3", "detail"],
                            ([repr(float(e["t_s"]) - t0), "" if e["cycle"] is None else e["cycle"], e["kind"],
                              side_name(e["side"]), side_role(e["side"], affected),
                              "" if e["code"] is None else e["code"], _fmt_number(e["v1"]), _fmt_number(e["v2"]),
                              _fmt_number(e["v3"]), detail(e)] for e in events)))
    files = {
        "telemetry.csv": {"rows": len(window), "columns": {
            "time_s": "s, from the session's first record", "cycle": "control cycle number",
            "run_state": "idle, running, paused, stopping, stopped",
            **{name: f"{unit}: {description}" for name, _, _, unit, _, description in columns},
            **{name: "1 = in contact" for name, _ in CONTACT_COLUMNS},
            "alarm_bits": "bit (1 << AlarmReason) per active alarm"}},
        "steps.csv": {"rows": len(steps)},
        "strides.csv": {"rows": len(strides), "steady": "1 = stride counted in variability (docs/records.md)"},
        "events.csv": {"rows": len(events), "detail": "JSON object"},
    }
    meta = metadata(store, session_id, telemetry, start_s, end_s, files)
    meta_path = out_dir / "metadata.json"
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    paths.append(meta_path)
    for written in paths:
        os.chmod(written, 0o600)  # health data: owner-only, like the database
    return paths
