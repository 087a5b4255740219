"""A simulated patient across training sessions: recovery toward a healthy adult's gait.

`recovered(profile, progress)` is the profile after part of its gap to the healthy profile
(devices/sim/patients/healthy.yaml) has closed: progress 0 is the profile as written, 1 the healthy
adult's gait on the patient's own body (geometry, mass and heart-rate range never change).
`progress_after(rate, sessions)` is 1 - (1 - rate)^sessions for the profile's `recovery_rate`
(a share of the remaining gap closed per session: fast early gains that level off, the usual
shape of recovery curves; the rate itself is an assumption, not a published figure).
`toward(profile, target, share)` moves it toward any other profile (a decline: toward a more
impaired one). Interpolating between two valid profiles keeps every key in range and the double-support
constraint (it is linear), so the result always loads.
"""

from __future__ import annotations

from dataclasses import fields, replace

from devices.sim.profiles import PatientProfile, load_profile

# What training changes: gait and capacity. Not the body (lengths, mass), not the heart's range.
TRAINABLE = (
    "right_heel_strike_phase", "stance_fraction", "hip_amplitude_deg", "knee_swing_peak_deg",
    "swing_dorsiflexion_deg", "joint_stiffness_nm_per_rad", "stride_time_cv", "step_length_cv",
    "hr_speed_gain_bpm_per_mps2", "fatigue_per_min", "comfortable_speed_mps", "mtc_m", "mtc_sd_m",
    "max_toe_clearance_m", "knee_flexion_max_deg", "hip_flexion_max_deg", "step_length_asymmetry",
    "reaction_time_s", "crossing_clearance_plateau_m", "trail_clearance_ratio", "walk_ratio_m_per_spm",
)


def progress_after(rate: float, sessions: int) -> float:
    """Share of the gap closed after `sessions` sessions at `rate` per session (negative: lost)."""
    return 1.0 - (1.0 - rate) ** max(0, sessions)


def toward(profile: PatientProfile, target: PatientProfile, share: float) -> PatientProfile:
    """The profile with `share` (0..1) of its trainable gap to `target` closed (a decline is a
    step toward a more impaired profile)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share {share} outside 0..1")
    names = {f.name for f in fields(PatientProfile)}
    changes = {}
    for name in TRAINABLE:
        if name not in names:
            continue
        a, b = getattr(profile, name), getattr(target, name)
        if isinstance(a, tuple):
            changes[name] = tuple(x + share * (y - x) for x, y in zip(a, b, strict=True))
        else:
            changes[name] = a + share * (b - a)
    return replace(profile, **changes)


def recovered(profile: PatientProfile, progress: float, healthy: PatientProfile | None = None) -> PatientProfile:
    """The profile with `progress` (0..1) of its trainable gap to the healthy profile closed."""
    return toward(profile, healthy or load_profile("healthy"), progress)
