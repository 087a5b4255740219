"""Patient profiles for the virtual rig: one YAML file per profile in devices/sim/patients/."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import yaml

PATIENTS_DIR = Path(__file__).resolve().parent / "patients"


@dataclass(frozen=True)
class PatientProfile:
    """Parameters of the simulated patient; pairs are (left, right)."""

    name: str
    description: str
    body_mass_kg: float
    thigh_m: float
    shank_m: float
    foot_height_m: float
    foot_length_m: float
    walk_ratio_m_per_spm: float  # step length / cadence, ~constant across speeds for a person
    right_heel_strike_phase: float  # right heel strike as a fraction of the left stride (0.5 = symmetric)
    stance_fraction: tuple[float, float]
    hip_amplitude_deg: tuple[float, float]
    knee_swing_peak_deg: tuple[float, float]
    swing_dorsiflexion_deg: tuple[float, float]
    joint_stiffness_nm_per_rad: tuple[float, float]
    stride_time_cv: float
    step_length_cv: float
    hr_rest_bpm: float
    hr_speed_gain_bpm_per_mps2: float
    hr_max_bpm: float
    fatigue_per_min: float


def profile_names() -> list[str]:
    """Names of the profiles shipped in devices/sim/patients/."""
    return sorted(path.stem for path in PATIENTS_DIR.glob("*.yaml"))


def load_profile(name_or_path: str) -> PatientProfile:
    """Load a profile by name (e.g. "hemiparetic-right") or by path to a YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PATIENTS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown patient profile {name_or_path!r}; known: {', '.join(profile_names())}")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a profile is a mapping of keys to values")
    known = {f.name for f in fields(PatientProfile)}
    missing = known - data.keys()
    extra = data.keys() - known
    if missing or extra:
        raise ValueError(f"{path}: missing keys {sorted(missing)}, unknown keys {sorted(extra)}")
    values = {}
    for f in fields(PatientProfile):
        value = data[f.name]
        if f.name in ("name", "description"):
            values[f.name] = str(value)
        elif isinstance(value, list):
            if len(value) != 2:
                raise ValueError(f"{path}: {f.name} needs [left, right]")
            values[f.name] = (float(value[0]), float(value[1]))
        else:
            values[f.name] = float(value)
    profile = PatientProfile(**values)
    o = profile.right_heel_strike_phase
    left_stance, right_stance = profile.stance_fraction
    # Both double-support phases must exist, or the phase bookkeeping has a flight phase.
    if not (0.3 < o < 0.7 and left_stance > o and o + right_stance > 1.0):
        raise ValueError(f"{path}: stance fractions and right_heel_strike_phase leave no double support")
    return profile
