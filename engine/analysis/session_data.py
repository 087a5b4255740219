"""What the findings read of one recorded session, gathered through the store's public API.

Findings never query SQL and never touch the control core's hot path: they read steps, strides,
events and telemetry back from a `Store` (or any repository with the same methods) after the
session. This module turns those rows into arrays and works out which strides were steady
walking, the only ones variability and symmetry are taken over.

Steady-state rule (the same as the core's, engine/control/steady_state.py, recomputed here from
the recorded telemetry so that records from any core version can be judged): the belt speed stayed
within 0.02 m/s + 3 % of its mean over the stride, the session was running, no clearance boost
or obstacle planning acted during it, and it is not within the first 5 s or 3 strides of a leg
after a start (Hausdorff et al. 1999 measure variability over steady walking).

Stumble responses (the core slowed the belt to a protective fraction and raised guidance until
the alarm was acknowledged) are left out of the gait data: steps, strides and stances in them are
dropped and the telemetry there does not count as walking (`protective_windows`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engine.control.layout import RunState

SPEED_TOL_MPS = 0.02
SPEED_TOL_SHARE = 0.03
WARMUP_S = 5.0
WARMUP_STRIDES = 3
WALKING_SPEED_MPS = 0.05
# events that start the core's protective response (the STUMBLE alarm, its acknowledgement ends it)
RESPONSE_EVENTS = ("stumble", "balance_loss")
OBSTACLE_GUARD_S = 1.0  # a stride this close to an obstacle decision is not steady


@dataclass
class SessionData:
    """Arrays of one session (times in session seconds as recorded; sides 0 left, 1 right)."""

    session_id: int
    patient_code: str
    scene_id: str
    simulated: bool
    # steps
    step_t_s: np.ndarray
    step_side: np.ndarray
    step_length_m: np.ndarray
    step_time_s: np.ndarray
    toe_clearance_m: np.ndarray
    # strides
    stride_t_s: np.ndarray
    stride_side: np.ndarray
    stride_time_s: np.ndarray
    stance_fraction: np.ndarray
    stride_steady: np.ndarray
    # telemetry (walking only where named)
    tel_t_s: np.ndarray
    belt_speed_mps: np.ndarray
    walking: np.ndarray
    heart_rate_bpm: np.ndarray
    # obstacles: one dict per leg crossing or per obstacle outcome
    obstacle_results: list[dict] = field(default_factory=list)
    self_selected_speed_mps: float | None = None
    self_selected_speed_source: str = ""
    prescription: dict = field(default_factory=dict)
    patient: dict = field(default_factory=dict)
    affected_side: int = -1
    # balance per stance from the insoles (Store.stances rows; empty for records without them)
    stances: list[dict] = field(default_factory=list)
    # stumble responses left out of the gait findings, and what they took out
    protective_windows: list = field(default_factory=list)
    excluded: dict = field(default_factory=dict)
    # the whole session's steps (t_s, time_s, length_m arrays) and walking mask, stumble responses
    # included: a freeze is an event of the session, like a trip, and a stumble response does not
    # end it (the freezing detector reads these; empty: the same as the step arrays above)
    whole_steps: dict = field(default_factory=dict)
    whole_walking: np.ndarray | None = None

    @property
    def walking_time_s(self) -> float:
        if len(self.tel_t_s) < 2:
            return 0.0
        dt = np.diff(self.tel_t_s, prepend=self.tel_t_s[0])
        return float(dt[self.walking].sum())

    @property
    def age_years(self) -> float | None:
        value = self.patient.get("age_years")
        return float(value) if value is not None else None


def _col(rows: list[dict], key: str, dtype=float) -> np.ndarray:
    return np.array([math.nan if r.get(key) is None else r[key] for r in rows], dtype=dtype)


def steady_strides(stride_t_s: np.ndarray, stride_time_s: np.ndarray, stride_side: np.ndarray,
                   tel_t_s: np.ndarray, belt_speed_mps: np.ndarray, running: np.ndarray,
                   disturbed: np.ndarray, walk_starts_s: np.ndarray) -> np.ndarray:
    """Boolean per stride: steady-state walking (module docstring)."""
    n = len(stride_t_s)
    out = np.zeros(n, dtype=bool)
    if n == 0 or len(tel_t_s) == 0:
        return out
    count = {0: 0, 1: 0}
    last_start = -math.inf
    for i in range(n):
        t1 = stride_t_s[i]
        t0 = t1 - stride_time_s[i] if math.isfinite(stride_time_s[i]) else math.nan
        side = int(stride_side[i])
        starts_before = walk_starts_s[walk_starts_s <= t1]
        start = starts_before[-1] if len(starts_before) else -math.inf
        if start != last_start:  # a new walking bout: warm-up again
            count = {0: 0, 1: 0}
            last_start = start
        count[side] = count.get(side, 0) + 1
        if not math.isfinite(t0):
            continue
        a, b = np.searchsorted(tel_t_s, [t0, t1])
        if b - a < 2:
            continue
        v = belt_speed_mps[a:b]
        mean = float(v.mean())
        ok = (float(v.max() - v.min()) <= SPEED_TOL_MPS + SPEED_TOL_SHARE * mean and mean > WALKING_SPEED_MPS
              and bool(running[a:b].all()) and not bool(disturbed[a:b].any())
              and count[side] > WARMUP_STRIDES and t0 - start >= WARMUP_S)
        out[i] = ok
    return out


def _obstacle_kinds(scene_id: str) -> dict[int, str]:
    """Obstacle index (the core's timeline order) -> kind, from the scene library; {} if unknown."""
    try:
        from engine.scene.loader import find_scene

        scene = find_scene(scene_id)
    except Exception:  # a deleted or renamed scene: results keep their index, kind 'unknown'
        return {}
    return {i: o.kind for i, o in enumerate(scene.obstacles_in_timeline_order())}


def protective_windows(events: list[dict], end_s: float) -> list[tuple[float, float]]:
    """(start, end) of each stumble response: from the core's STUMBLE or BALANCE_LOSS event until
    the therapist acknowledged its (STUMBLE) alarm (or the session ended). The belt runs at a
    protective fraction of its speed and guidance is at its maximum meanwhile
    (engine/control/stumble.py; balance_loss.py answers a loss of balance with the same
    response): walking then is the response, not the patient's gait at the session's speed, so
    gait findings leave it out."""
    windows: list[tuple[float, float]] = []
    start = None
    for e in events:
        if e["kind"] in RESPONSE_EVENTS and start is None:
            start = e["t_s"]
        elif start is not None and e["kind"] == "alarm_acked" and e.get("reason") == "stumble":
            windows.append((start, e["t_s"]))
            start = None
    if start is not None:
        windows.append((start, max(end_s, start)))
    return windows


def _outside(t_s: np.ndarray, windows: list[tuple[float, float]]) -> np.ndarray:
    keep = np.ones(len(t_s), dtype=bool)
    for a, b in windows:
        keep &= ~((t_s >= a) & (t_s <= b))
    return keep


def _obstacle_results(events: list[dict], kinds: dict[int, str]) -> list[dict]:
    """Per-leg crossings (`obstacle_leg`, v2 1 cleared 2 touched 3 tripped) when the core sends
    them, else per-obstacle outcomes (cleared / hit). Yield obstacles ('passed') are left out."""
    legs = [e for e in events if e["kind"] == "obstacle_leg"]
    out = []
    if legs:
        names = {1: "cleared", 2: "touched", 3: "tripped"}
        for e in legs:
            index = int(e["code"]) if e["code"] is not None else -1
            outcome = names.get(int(e["v2"]) if e["v2"] is not None else 0, "unknown")
            out.append({"obstacle": index, "kind": kinds.get(index, "unknown"), "side": e["side"], "t_s": e["t_s"],
                        "margin_m": e["v1"], "outcome": outcome, "failed": outcome in ("touched", "tripped")})
        return out
    for e in events:
        if e["kind"] != "obstacle_outcome" or e.get("outcome") not in ("cleared", "hit"):
            continue
        index = int(e["code"]) if e.get("obstacle") is None else int(e["obstacle"])
        out.append({"obstacle": index, "kind": kinds.get(index, "unknown"), "side": -1, "t_s": e["t_s"],
                    "margin_m": e.get("margin_m"), "outcome": e["outcome"], "failed": e["outcome"] == "hit"})
    return out


def _self_selected_speed(session: dict, events: list[dict]) -> tuple[float | None, str]:
    """A self-selected speed measure recorded with the session (comfortable-speed test or a
    self-paced bout), never the belt set-point. None when the session has none."""
    for holder, where in ((session.get("summary") or {}, "session summary"), (session.get("settings") or {}, "session settings")):
        for key in ("self_selected_speed_mps", "comfortable_speed_mps"):
            value = holder.get(key)
            if isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
                return float(value), f"{where} ({key})"
    for e in events:
        if e["kind"] in ("self_selected_speed", "comfortable_speed_test") and e.get("v1"):
            return float(e["v1"]), f"event {e['kind']} at {e['t_s']:.1f} s"
    return None, ""


# The telemetry columns load_session reads (store.telemetry loads only these).
TELEMETRY_FIELDS = ("t_s", "belt_speed_mps", "run_state", "clearance_boost", "heart_rate_bpm")

def load_session(store, session_id: int) -> SessionData:
    """Gather one session's records through the store's public methods."""
    session = store.get_session(session_id)
    steps = store.steps(session_id)
    strides = store.strides(session_id)
    events = store.events(session_id)
    # only the columns read below: the whole records of a 22-minute session are 156 MB, and the
    # session report loads them once already (its peak was +392 MB: issue 17's soak)
    tel = store.telemetry(session_id, TELEMETRY_FIELDS)
    code = session["patient_code"]
    rx = store.current_prescription(code)
    rx_dict = rx.to_dict() if rx is not None else {}
    patient = store.get_patient(code) or {}

    tel_t = tel["t_s"].astype(float) if len(tel) else np.zeros(0)
    belt = tel["belt_speed_mps"].astype(float) if len(tel) else np.zeros(0)
    running = tel["run_state"] == int(RunState.RUNNING) if len(tel) else np.zeros(0, dtype=bool)
    walking = running & (belt > WALKING_SPEED_MPS)
    disturbed = np.zeros(len(tel), dtype=bool)
    if len(tel):
        disturbed |= (tel["clearance_boost"] > 0.0).any(axis=1)
        decisions = np.array([e["t_s"] for e in events if e["kind"] in ("obstacle_plan", "obstacle_outcome", "obstacle_leg")])
        if len(decisions):
            idx = np.searchsorted(tel_t, decisions)
            near = np.zeros(len(tel) + 1, dtype=np.int64)
            guard = int(OBSTACLE_GUARD_S / max(1e-4, float(np.median(np.diff(tel_t))) if len(tel_t) > 1 else 1e-3))
            for k in idx:
                near[max(0, k - guard)] += 1
                near[min(len(tel), k + guard)] -= 1
            disturbed |= np.cumsum(near)[:-1] > 0
    starts = np.zeros(0)
    if len(tel):
        edges = np.flatnonzero(np.diff(walking.astype(np.int8)) == 1) + 1
        starts = np.concatenate(([tel_t[0]] if walking[0] else [], tel_t[edges]))

    # gait during a stumble response is not judged (protective_windows): drop its steps, strides
    # and stances (a stride that ends inside one began before it: also dropped by its end time)
    end_s = float(tel_t[-1]) if len(tel_t) else max([r["t_s"] for r in steps + strides] or [0.0])
    windows = protective_windows(events, end_s)
    excluded = {"steps": 0, "strides": 0}
    whole_steps = {"t_s": _col(steps, "t_s"), "time_s": _col(steps, "step_time_s"), "length_m": _col(steps, "step_length_m")}
    whole_walking = walking.copy()
    if windows:
        keep = _outside(_col(steps, "t_s"), windows)
        excluded["steps"] = int(np.count_nonzero(~keep))
        steps = [r for r, k in zip(steps, keep, strict=True) if k]
        keep = _outside(_col(strides, "t_s"), windows)
        excluded["strides"] = int(np.count_nonzero(~keep))
        strides = [r for r, k in zip(strides, keep, strict=True) if k]
    stances = store.stances(session_id) if hasattr(store, "stances") else []
    if windows and len(tel_t):
        walking = walking & _outside(tel_t, windows)  # no akinesia read into the left-out stretch
    if windows and stances:
        keep = _outside(_col(stances, "t_s"), windows)
        stances = [r for r, k in zip(stances, keep, strict=True) if k]
    stride_t = _col(strides, "t_s")
    stride_time = _col(strides, "stride_time_s")
    stride_side = _col(strides, "side", dtype=np.int64) if strides else np.zeros(0, dtype=np.int64)
    steady = steady_strides(stride_t, stride_time, stride_side, tel_t, belt, running, disturbed, starts)
    hr = tel["heart_rate_bpm"].astype(float) if len(tel) else np.zeros(0)
    ssv, ssv_src = _self_selected_speed(session, events)
    return SessionData(
        session_id=session_id, patient_code=code, scene_id=session["scene_id"], simulated=session["simulated"],
        step_t_s=_col(steps, "t_s"), step_side=_col(steps, "side", dtype=np.int64) if steps else np.zeros(0, dtype=np.int64),
        step_length_m=_col(steps, "step_length_m"), step_time_s=_col(steps, "step_time_s"),
        toe_clearance_m=_col(steps, "toe_clearance_m"),
        stride_t_s=stride_t, stride_side=stride_side, stride_time_s=stride_time,
        stance_fraction=_col(strides, "stance_fraction"), stride_steady=steady,
        tel_t_s=tel_t, belt_speed_mps=belt, walking=walking, heart_rate_bpm=hr,
        obstacle_results=_obstacle_results(events, _obstacle_kinds(session["scene_id"])),
        self_selected_speed_mps=ssv, self_selected_speed_source=ssv_src,
        prescription=rx_dict, patient=patient, affected_side=int(rx_dict.get("affected_side", -1)),
        stances=stances, protective_windows=windows, excluded=excluded,
        whole_steps=whole_steps, whole_walking=whole_walking,
    )
