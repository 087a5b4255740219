"""The UI side of the command block: what the therapist asks the control core to do.

Every method writes under the block's sequence lock (and the writer lock of this process, so a
UI watchdog thread may send heartbeats beside the main thread). The writer validates what it can
see (numbers, ranges); the core clamps everything again against the prescription, because the
core never trusts a command it did not check itself.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from engine.control import layout
from engine.control.prescription import Prescription
from engine.control.shm import SeqLockBlock

# Settings that are fractions 0..1 (of the prescription range) and those that are switches.
_FRACTIONS = ("speed_fraction", "guidance", "guidance_min", "guidance_max", "bws_fraction")
_SWITCHES = ("assist_as_needed", "guidance_locked", "pace_mode")
# Goals are capped so a typo cannot make a session endless in a way the UI cannot display.
_GOAL_LIMITS = {"steps": 100_000.0, "distance_m": 100_000.0, "time_s": 86_400.0}


class SettingError(ValueError):
    """A setting is not a number (or NaN); the message names the field."""


def _number(name: str, value: object) -> float:
    """The value as a float, or SettingError naming the field."""
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, numbers.Real):
        raise SettingError(f"{name}: must be a number, got {value!r}")
    result = float(value)
    if math.isnan(result):
        raise SettingError(f"{name}: must be a number, got NaN")
    return result


def _clamp01(value: float) -> float:
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else value


class CommandWriter:
    """Writes therapist commands into the command block (the UI process is its only writer)."""

    def __init__(self, block: SeqLockBlock) -> None:
        if block.dtype != layout.COMMAND_DTYPE:
            raise ValueError("CommandWriter needs a block of COMMAND_DTYPE")
        self.block = block

    def _write(self, **fields) -> None:
        block = self.block
        with block.writing():
            block.begin_write()
            try:
                for name, value in fields.items():
                    block.data[name] = value
            finally:
                block.end_write()

    def _bump(self, name: str, **fields) -> None:
        """Increment a counter field (wrapping) together with other fields, atomically."""
        block = self.block
        with block.writing():
            block.begin_write()
            try:
                counter = block.data[name]
                block.data[name] = (int(counter) + 1) & (0xFFFFFFFF if counter.dtype.itemsize == 4 else 0xFFFFFFFFFFFFFFFF)
                for key, value in fields.items():
                    block.data[key] = value
            finally:
                block.end_write()

    # -- liveness -------------------------------------------------------------------------------
    def heartbeat(self) -> None:
        """Tell the core the UI is alive; call every frame (the core stops after 100 ms without)."""
        self._bump("ui_heartbeat")

    def frame(self) -> None:
        """A patient-view frame was drawn (the core grades a late view, see ViewPolicy)."""
        self._bump("ui_frame")

    def set_ui_pid(self, pid: int) -> None:
        """The UI process the core watches (pidfd): its death stops the belt at once."""
        self._write(ui_pid=int(pid))

    # -- limits and settings --------------------------------------------------------------------
    def set_prescription(self, rx: Prescription) -> None:
        """Hand the patient's limits to the core (it accepts them only while the belt stands)."""
        self._write(
            rx_max_speed_mps=rx.max_speed_mps,
            rx_max_accel_mps2=rx.max_accel_mps2,
            rx_max_decel_mps2=rx.max_decel_mps2,
            rx_guidance_min=rx.guidance_min,
            rx_guidance_max=rx.guidance_max,
            rx_bws_min=rx.bws_min,
            rx_bws_max=rx.bws_max,
            rx_clearance_boost_max=rx.clearance_boost_max,
            leg_length_l_m=rx.leg_length_l_m,
            leg_length_r_m=rx.leg_length_r_m,
            affected_side=rx.affected_side,
            rx_max_heart_rate_bpm=rx.max_heart_rate_bpm,
            rx_max_jerk_mps3=rx.max_jerk_mps3,
        )

    def set_settings(
        self,
        *,
        speed_fraction=None,
        guidance=None,
        guidance_min=None,
        guidance_max=None,
        assist_as_needed=None,
        guidance_locked=None,
        bws_fraction=None,
        pace_mode=None,
    ) -> dict[str, tuple[float, float]]:
        """Set live therapist settings (fractions of the prescription) and return, per field
        given, (requested, applied) for the audit log.

        Fractions are clamped to 0..1 (inf and huge values included); guidance_min/max are kept
        ordered. Raises SettingError for non-numbers and NaN, before anything is written.
        """
        given = {
            "speed_fraction": speed_fraction,
            "guidance": guidance,
            "guidance_min": guidance_min,
            "guidance_max": guidance_max,
            "assist_as_needed": assist_as_needed,
            "guidance_locked": guidance_locked,
            "bws_fraction": bws_fraction,
            "pace_mode": pace_mode,
        }
        requested = {name: _number(name, value) for name, value in given.items() if value is not None}
        applied: dict[str, float] = {}
        for name, value in requested.items():
            if name == "pace_mode":
                if int(value) != value or int(value) not in tuple(layout.PaceMode):
                    raise SettingError(f"pace_mode: {value!r} is not a PaceMode (0 scene, 1 fixed, 2 self)")
                applied[name] = float(int(value))
            elif name in _FRACTIONS:
                applied[name] = _clamp01(value)
            else:
                applied[name] = 1.0 if value >= 0.5 else 0.0
        current = self.block.data.copy()
        low = applied.get("guidance_min", float(current["guidance_min"]))
        high = applied.get("guidance_max", float(current["guidance_max"]))
        if low > high:
            # Keep the bound the therapist just moved, and move the other one to meet it.
            if "guidance_min" in applied and "guidance_max" not in applied:
                applied["guidance_max"] = low
            else:
                applied["guidance_min"] = high
        if applied:
            self._write(**{name: (int(v) if name in _SWITCHES else v) for name, v in applied.items()})
        # A bound moved only to keep min <= max reports its previous value as the request.
        return {name: (requested.get(name, float(current[name])), applied[name]) for name in applied}

    def set_goals(self, *, steps=None, distance_m=None, time_s=None) -> None:
        """Session goals (0 = none); non-numbers raise SettingError, negatives become 0."""
        fields: dict[str, float] = {}
        for name, value in (("steps", steps), ("distance_m", distance_m), ("time_s", time_s)):
            if value is None:
                continue
            number = _number(f"goal_{name}", value)
            number = min(max(number, 0.0), _GOAL_LIMITS[name])
            fields[f"goal_{name}"] = int(number) if name == "steps" else number
        if fields:
            self._write(**fields)

    def load_timeline(self, timeline: np.ndarray, route_length_m: float, base_speed_fraction: float) -> None:
        """Hand the active scene's obstacle timeline (TIMELINE_DTYPE rows) to the core.

        The core resets the route distance s to 0 when it sees the new generation. Raises
        ValueError for too many rows, a wrong dtype or non-finite values.
        """
        rows = np.asarray(timeline)
        if rows.dtype != layout.TIMELINE_DTYPE:
            rows = rows.astype(layout.TIMELINE_DTYPE) if rows.dtype.names else None
            if rows is None:
                raise ValueError("timeline: rows must be of TIMELINE_DTYPE")
        rows = rows.reshape(-1)
        if len(rows) > layout.MAX_OBSTACLES:
            raise ValueError(f"timeline: {len(rows)} obstacles, at most {layout.MAX_OBSTACLES}")
        for name in layout.TIMELINE_DTYPE.names:
            if rows.dtype[name].kind == "f" and not np.all(np.isfinite(rows[name])):
                raise ValueError(f"timeline: {name} has a non-finite value")
        route = _number("route_length_m", route_length_m)
        base = _number("base_speed_fraction", base_speed_fraction)
        if not math.isfinite(route) or route < 0.0:
            raise ValueError(f"route_length_m: must be finite and >= 0, got {route_length_m!r}")
        table = np.zeros(layout.MAX_OBSTACLES, dtype=layout.TIMELINE_DTYPE)
        table[: len(rows)] = rows
        self._bump(
            "scene_generation",
            route_length_m=route,
            base_speed_fraction=_clamp01(base),
            obstacle_count=len(rows),
            timeline=table,
        )

    # -- run state --------------------------------------------------------------------------
    def _request(self, state: layout.RunState) -> None:
        self._bump("request_counter", run_request=int(state))

    def start(self) -> None:
        """Ask the core to start walking (from IDLE)."""
        self._request(layout.RunState.RUNNING)

    def pause(self) -> None:
        """Belt to a stop, scene clock frozen; resume() continues."""
        self._request(layout.RunState.PAUSED)

    def resume(self) -> None:
        """Continue after pause()."""
        self._request(layout.RunState.RUNNING)

    def stop(self) -> None:
        """Controlled stop, then IDLE."""
        self._request(layout.RunState.STOPPING)

    def rearm(self) -> None:
        """The therapist confirms re-arming after a fault stop (devices re-armed, core to IDLE)."""
        self._bump("rearm_counter")

    def ack_alarms(self) -> None:
        """Acknowledge every alarm shown."""
        self._bump("ack_counter")
