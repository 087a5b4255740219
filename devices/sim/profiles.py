"""Patient profiles for the virtual rig: one YAML file per profile (docs/patients.md, key by key).

A profile is loaded by name (a file in devices/sim/patients/) or by path. The first block of
keys is required (geometry, timing, variability, heart rate); the capacity, perception and
disease keys are optional and default to a healthy adult's values (the dataclass defaults), so a profile
written for an older version still loads. Pairs are [left, right].
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

PATIENTS_DIR = Path(__file__).resolve().parent / "patients"

# The label vocabulary a profile may use (docs/patients.md explains each; findings use them).
LABELS = (
    "healthy", "older", "frail", "slow", "asymmetry", "paretic_left", "paretic_right",
    "foot_drop_left", "foot_drop_right", "stiff_knee_left", "stiff_knee_right", "low_clearance",
    "shuffling", "festination", "freezing", "high_variability", "fatigue",
)


@dataclass(frozen=True)
class PatientProfile:
    """Parameters of the simulated patient; pairs are (left, right). Units in the names."""

    name: str  # (a file without one is named by its file name, where that is an identifier)
    body_mass_kg: float
    thigh_m: float
    shank_m: float
    foot_height_m: float
    foot_length_m: float
    walk_ratio_m_per_spm: float  # step length / cadence, ~constant across speeds for a person
    right_heel_strike_phase: float  # right heel strike as a fraction of the left stride (0.5 = symmetric)
    stance_fraction: tuple[float, float]
    swing_dorsiflexion_deg: tuple[float, float]
    joint_stiffness_nm_per_rad: tuple[float, float]
    stride_time_cv: float
    step_length_cv: float
    hr_rest_bpm: float
    hr_speed_gain_bpm_per_mps2: float
    hr_max_bpm: float
    fatigue_per_min: float
    # ---- optional (healthy-adult defaults): capacity, perception, obstacle crossing, disease
    labels: tuple[str, ...] = ()
    comfortable_speed_mps: float = 1.30
    speed_intent_cv: float = 0.04
    heel_to_ankle_m: float = 0.05
    mtc_m: tuple[float, float] = (0.013, 0.013)
    mtc_sd_m: tuple[float, float] = (0.0045, 0.0045)
    max_toe_clearance_m: tuple[float, float] = (0.30, 0.30)
    knee_flexion_max_deg: tuple[float, float] = (115.0, 115.0)
    hip_flexion_max_deg: tuple[float, float] = (85.0, 85.0)
    step_length_asymmetry: tuple[float, float] = (1.0, 1.0)
    reaction_time_s: float = 0.20
    crossing_clearance_25mm_m: float = 0.064
    crossing_clearance_plateau_m: float = 0.10
    trail_clearance_ratio: tuple[float, float] = (0.85, 0.85)
    take_off_distance_m: float = 0.22
    landing_distance_m: float = 0.20
    adjust_steps: float = 2.0
    freeze_probability: float = 0.0
    freeze_duration_median_s: float = 2.0
    festination_probability: float = 0.0
    # ---- optional, balance (devices/sim/plantar.py): medio-lateral centre-of-pressure SD under a
    # stance foot (placement offset and sway), and how readily each leg takes weight in double
    # support (1 normal; a paretic leg less: stroke survivors stand with ~60 % on the sound leg)
    cop_ml_sd_m: float = 0.003
    limb_loading: tuple[float, float] = (1.0, 1.0)
    # Appended (issue 12): share of the remaining gap to a healthy adult the patient closes per
    # training session (devices/sim/recovery.py; negative: declines). Read by the progression
    # bench between sessions; one session's walking does not use it.
    recovery_rate: float = 0.0
    # Appended (issue 10): the foot's pitch (toe down) when it leaves the ground, per leg. 52 deg
    # puts a healthy adult's trailing leg at Winter's toe-off hip and knee (about -10 and 35 deg;
    # his ankle angles imply ~60 deg in this sagittal model, which has no pelvic tilt); a weak
    # push-off leaves the foot flatter (the shipped patient profiles keep the earlier 40 deg: an
    # assumption, not a published figure).
    toe_off_pitch_deg: tuple[float, float] = (52.0, 52.0)
    # Unused since the joint angles follow from the planned foot path by inverse kinematics (issue
    # 10); still read and range-checked where a profile gives them, no longer required: a profile
    # written from docs/patients.md need not invent values that change nothing.
    hip_amplitude_deg: tuple[float, float] = (20.0, 20.0)
    knee_swing_peak_deg: tuple[float, float] = (60.0, 60.0)
    description: str = ""  # one line for people; optional (it was required)


def _required_names() -> list[str]:
    from dataclasses import MISSING

    return [f.name for f in fields(PatientProfile) if f.default is MISSING]


REQUIRED_KEYS = _required_names()
OPTIONAL_KEYS = [f.name for f in fields(PatientProfile) if f.name not in REQUIRED_KEYS]
PAIR_KEYS = {f.name for f in fields(PatientProfile) if "tuple[float, float]" in str(f.type)}

# Plausible ranges per key (a typo such as 1.2 for a thigh length in metres is refused).
RANGES: dict[str, tuple[float, float]] = {
    "body_mass_kg": (25.0, 250.0), "thigh_m": (0.25, 0.65), "shank_m": (0.25, 0.65),
    "foot_height_m": (0.04, 0.14), "foot_length_m": (0.10, 0.30), "walk_ratio_m_per_spm": (0.002, 0.010),
    "right_heel_strike_phase": (0.3, 0.7), "stance_fraction": (0.5, 0.85), "hip_amplitude_deg": (5.0, 35.0),
    "knee_swing_peak_deg": (10.0, 80.0), "swing_dorsiflexion_deg": (-25.0, 20.0),
    "joint_stiffness_nm_per_rad": (5.0, 400.0), "stride_time_cv": (0.0, 0.3), "step_length_cv": (0.0, 0.3),
    "hr_rest_bpm": (35.0, 120.0), "hr_speed_gain_bpm_per_mps2": (0.0, 120.0), "hr_max_bpm": (90.0, 220.0),
    "fatigue_per_min": (0.0, 1.0), "comfortable_speed_mps": (0.05, 2.5), "speed_intent_cv": (0.0, 0.3),
    "heel_to_ankle_m": (0.02, 0.10), "mtc_m": (-0.02, 0.06), "mtc_sd_m": (0.0, 0.03),
    "max_toe_clearance_m": (0.0, 0.6), "knee_flexion_max_deg": (10.0, 140.0),
    "hip_flexion_max_deg": (10.0, 120.0), "step_length_asymmetry": (0.6, 1.4), "reaction_time_s": (0.1, 2.0),
    "crossing_clearance_25mm_m": (0.0, 0.3), "crossing_clearance_plateau_m": (0.0, 0.4),
    "trail_clearance_ratio": (0.2, 1.5), "take_off_distance_m": (0.05, 0.8), "landing_distance_m": (0.0, 0.8),
    "adjust_steps": (1.0, 5.0), "freeze_probability": (0.0, 1.0), "freeze_duration_median_s": (0.2, 30.0),
    "festination_probability": (0.0, 1.0), "cop_ml_sd_m": (0.0, 0.03), "limb_loading": (0.2, 1.5),
    "recovery_rate": (-0.5, 0.5), "toe_off_pitch_deg": (20.0, 75.0),
}


# The leg lengths (thigh + shank + foot height) a prescription accepts: engine/control/prescription.py's
# HARD_LIMITS["leg_length_l_m"] (devices cannot import engine.control: a package cycle), held equal by
# tests/devices/test_patient.py
LEG_LENGTH_RANGE_M = (0.5, 1.2)
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def profile_names() -> list[str]:
    """Names of the profiles shipped in devices/sim/patients/."""
    return sorted(path.stem for path in PATIENTS_DIR.glob("*.yaml"))


def profile_path(name_or_path: str) -> Path:
    """The YAML file behind a profile name or path (ValueError naming the known ones if none)."""
    path = Path(name_or_path)
    given_path = bool(path.suffix) or "/" in name_or_path  # (a name is an identifier: no dot, no slash)
    if not given_path:
        path = PATIENTS_DIR / f"{name_or_path}.yaml"
    if not path.exists():  # what exists but is no regular file, read_text refuses by its kind
        if given_path:
            # a path was given: say that the file is missing, not that a profile name is unknown
            raise ValueError(f"{name_or_path}: no such patient profile file"
                             f"{' (a broken link)' if path.is_symlink() else ''}; shipped profiles: "
                             f"{', '.join(profile_names())}")
        raise ValueError(f"unknown patient profile {name_or_path!r}; known: {', '.join(profile_names())} "
                         "(or give the path of a profile YAML file)")
    return path


def load_profile(name_or_path: str) -> PatientProfile:
    """Load a profile by name (e.g. "hemiparetic-right") or by path to a YAML file.

    ValueError on a bad file, naming `file:line:col key` of the first thing wrong (and every other
    line wrong, one per line): the scenes' hardened YAML reader (devices/yaml_positions.py)
    refuses binary, oversized and non-regular files, alias bombs, tags and duplicate keys, and
    reads numbers as YAML 1.2 does."""
    from devices.yaml_positions import HostileInput, Pos, parse, read_text

    path = profile_path(name_or_path)
    display = str(path)
    try:
        doc = parse(read_text(path, display, "patient profile"), display, "patient profile")
    except HostileInput as exc:
        raise ValueError(f"{exc.pos} <root>: {exc.message}") from exc
    top = Pos(display, 1, 1)

    def at(*path) -> Pos:
        """Where the value at this key path is (else its key's value, else the file's start)."""
        return doc.values.get(path, doc.values.get(path[:1], top))

    errors = [f"{pos} {'.'.join(map(str, key)) or '<root>'}: {message}" for pos, key, message in doc.problems]
    data = doc.data
    if not isinstance(data, dict):
        raise ValueError("\n".join(errors + [f"{top} <root>: a profile is a mapping of keys to values"]))
    known = {f.name for f in fields(PatientProfile)}
    if "name" not in data and NAME_RE.fullmatch(path.stem):
        # a designer's file names its patient: my-patient.yaml is my-patient unless it says otherwise
        data = {**data, "name": path.stem}
    missing = sorted(set(REQUIRED_KEYS) - data.keys())
    if missing:
        unnamed = " (the file's name is no identifier to name it by)" if "name" in missing else ""
        errors.append(f"{top} <root>: missing keys {missing}{unnamed} (docs/patients.md lists every key)")
    for key in sorted(data.keys() - known, key=lambda k: doc.keys.get((k,), top).line):
        errors.append(f"{doc.keys.get((key,), top)} {key}: unknown key (docs/patients.md lists every key)")
    values: dict = {}
    for f in fields(PatientProfile):
        if f.name not in data or (f.name,) in doc.problem_paths():
            continue
        try:
            values[f.name] = _field(f.name, data[f.name], at)
        except ValueError as exc:
            errors.append(str(exc))
    if errors:
        raise ValueError("\n".join(errors))
    profile = PatientProfile(**values)
    leg_m = profile.thigh_m + profile.shank_m + profile.foot_height_m
    if not LEG_LENGTH_RANGE_M[0] <= leg_m <= LEG_LENGTH_RANGE_M[1]:
        raise ValueError(f"{at('thigh_m')} thigh_m: thigh_m + shank_m + foot_height_m = {leg_m:.3g} m, a leg outside the "
                         f"{LEG_LENGTH_RANGE_M[0]:g}..{LEG_LENGTH_RANGE_M[1]:g} m an exoskeleton prescription "
                         "can be fitted to (engine/control/prescription.py)")
    if profile.hr_max_bpm <= profile.hr_rest_bpm:
        # heart rate = rest + gain x speed^2, capped at the maximum: a cap at or below rest would
        # put the walk's heart rate under the resting one (both within their own ranges)
        raise ValueError(f"{at('hr_max_bpm')} hr_max_bpm: {profile.hr_max_bpm:g} is not above hr_rest_bpm "
                         f"{profile.hr_rest_bpm:g}")
    o = profile.right_heel_strike_phase
    left_stance, right_stance = profile.stance_fraction
    # Both double-support phases must exist, or the phase bookkeeping has a flight phase.
    if not (0.3 < o < 0.7 and left_stance > o and o + right_stance > 1.0):
        raise ValueError(f"{at('right_heel_strike_phase')} right_heel_strike_phase: {o:g} with stance fractions [{left_stance:g}, "
                         f"{right_stance:g}] leaves no double support (needs stance left > it and "
                         "it + stance right > 1)")
    return profile


def profile_to_yaml(profile: PatientProfile) -> str:
    """The profile as YAML that load_profile reads back to an equal profile."""
    data = {}
    for f in fields(PatientProfile):
        value = getattr(profile, f.name)
        data[f.name] = list(value) if isinstance(value, tuple) else value
    return yaml.safe_dump(data, sort_keys=False)


def _field(key: str, value, at) -> object:
    """One key's value checked and converted; ValueError "file:line:col key: message".
    at(key[, i]) is the position of the value (i: a list element's index)."""
    where = f"{at(key)} {key}"
    if key == "name":
        # an identifier: it names the simulated patient's code (sim-NAME), the bench's keys
        # (NAME.KEY) and lines on a terminal, so no dots, paths or control characters
        if not isinstance(value, str) or not NAME_RE.fullmatch(value):
            raise ValueError(f"{where}: letters, digits, '-' and '_' (up to 64, a letter or digit first), "
                             f"e.g. severe-stroke-slow; got {value!r:.60}")
        return value
    if key == "description":
        if not isinstance(value, str) or not value.isprintable() or len(value) > 500:
            raise ValueError(f"{where}: one line of printable text (up to 500 characters)")
        return value
    if key == "labels":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{where}: a list of labels, e.g. [asymmetry, slow]")
        unknown = sorted(set(value) - set(LABELS))
        if unknown:
            raise ValueError(f"{where}: unknown labels {unknown}; known: {', '.join(LABELS)}")
        return tuple(value)
    if key in PAIR_KEYS:
        if not isinstance(value, list):
            # one number for a symmetric patient: both legs take it, as `[v, v]` would
            number = _number(value, f"{where} (one number for both legs, or [left, right])")
            _check_range(key, number, where)
            return (number, number)
        if len(value) != 2:
            raise ValueError(f"{where}: needs [left, right] (or one number for both legs), not {len(value)} values")
        pair = tuple(_number(v, f"{at(key, i)} {key}[{i}]") for i, v in enumerate(value))
        for i, v in enumerate(pair):
            _check_range(key, v, f"{at(key, i)} {key}[{i}]")
        return pair
    if isinstance(value, list):
        raise ValueError(f"{where}: one number, not a list")
    number = _number(value, where)
    _check_range(key, number, where)
    return number


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _check_range(key: str, value: float, where: str) -> None:
    low, high = RANGES.get(key, (-1e9, 1e9))
    if not low <= value <= high:
        raise ValueError(f"{where}: {value:g} outside {low:g}..{high:g}")
