"""A patient's prescription: the limits no command path may exceed.

The therapist sets it per patient (stored, versioned, in the records database); the UI hands it
to the control core in the command block; the core's safety supervisor clamps every command to
it. Therapist settings and scene requests are fractions of it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

# Absolute bounds a prescription itself must respect (a typo must not prescribe 15 m/s).
HARD_LIMITS: dict[str, tuple[float, float]] = {
    "max_speed_mps": (0.05, 3.0),
    "max_accel_mps2": (0.05, 1.5),
    "max_decel_mps2": (0.05, 2.0),
    "guidance_min": (0.0, 1.0),
    "guidance_max": (0.0, 1.0),
    "bws_min": (0.0, 0.6),
    "bws_max": (0.0, 0.6),
    "clearance_boost_max": (0.0, 1.0),
    "leg_length_l_m": (0.5, 1.2),
    "leg_length_r_m": (0.5, 1.2),
    "max_heart_rate_bpm": (0.0, 220.0),  # 0 = no limit set; else at least MIN_HEART_RATE_LIMIT_BPM
    "max_jerk_mps3": (0.2, 5.0),
}
# The belt's jerk limit when a prescription does not set one (older versions): the self-paced
# controller's comfort limit (docs/control.md "Self-paced mode").
DEFAULT_MAX_JERK_MPS3 = 1.5
MIN_HEART_RATE_LIMIT_BPM = 60.0  # a limit below resting heart rate would be a typo


class PrescriptionError(ValueError):
    """A prescription field is missing, not a number, or outside its bounds; names the field."""


@dataclass(frozen=True)
class Prescription:
    max_speed_mps: float = 1.2
    max_accel_mps2: float = 0.5
    max_decel_mps2: float = 0.8
    guidance_min: float = 0.0  # fraction 0..1 of full exoskeleton stiffness
    guidance_max: float = 1.0
    bws_min: float = 0.0  # body-weight-support unloading, fraction of body weight
    bws_max: float = 0.4
    clearance_boost_max: float = 0.6  # extra swing flexion, fraction 0..1
    leg_length_l_m: float = 0.9
    leg_length_r_m: float = 0.9
    affected_side: int = -1  # -1 none, 0 left, 1 right
    # Heart-rate limit (bpm) for this patient: the top of the reports' heart-rate zones and the
    # high-heart-rate alarm's threshold. 0 = not set (older prescriptions: no zones, no alarm).
    max_heart_rate_bpm: float = 0.0
    # Appended (issue 12): the patient's jerk limit (m/s^3) on the belt's acceleration in
    # self-paced mode; prescriptions stored before it read the default.
    max_jerk_mps3: float = DEFAULT_MAX_JERK_MPS3

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "affected_side":
                if value not in (-1, 0, 1):
                    raise PrescriptionError(f"affected_side: must be -1 (none), 0 (left) or 1 (right), got {value!r}")
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise PrescriptionError(f"{f.name}: must be a finite number, got {value!r}")
            low, high = HARD_LIMITS[f.name]
            if not low <= value <= high:
                raise PrescriptionError(f"{f.name}: {value} is outside the allowed range {low}..{high}")
        if 0.0 < self.max_heart_rate_bpm < MIN_HEART_RATE_LIMIT_BPM:
            raise PrescriptionError(
                f"max_heart_rate_bpm: {self.max_heart_rate_bpm} is below {MIN_HEART_RATE_LIMIT_BPM:.0f} (0 = no limit)")
        if self.guidance_min > self.guidance_max:
            raise PrescriptionError("guidance_min: must not exceed guidance_max")
        if self.bws_min > self.bws_max:
            raise PrescriptionError("bws_min: must not exceed bws_max")

    def to_dict(self) -> dict:
        """Plain dict (for JSON, the database and the command block)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Prescription:
        """Build from a dict, ignoring unknown keys; raises PrescriptionError naming a bad field."""
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise PrescriptionError(str(exc)) from exc
