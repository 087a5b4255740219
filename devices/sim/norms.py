"""Published free-walking ranges each shipped profile must fall inside (docs/patients.md cites them).

Ranges are for free walking on the belt at the profile's own comfortable speed; the test
(tests/devices/test_patient_scene.py) and `bench clinical` compare the simulated patient's ground
truth with them. A range is (low, high); sources are in /work/shared/REFERENCES.md sections.
"""

from __future__ import annotations

_MODERATE_STROKE = {
    "speed_mps": (0.4, 0.8, "limited community walker (Perry 1995)"),
    "step_length_ratio": (1.08, 1.6, "asymmetric above 1.08 (Patterson 2010)"),
}
_MILD_STROKE = {
    "speed_mps": (0.8, 1.2, "community walker (Perry 1995)"),
    "step_length_ratio": (1.02, 1.3, "mild spatial asymmetry (Patterson 2008)"),
}
_PARKINSON = {
    "cadence_spm": (115.0, 140.0, "higher cadence than controls (Zanardi 2021)"),
    "step_length_m": (0.35, 0.55, "shorter strides (Zanardi 2021)"),
}

# profile -> key -> (low, high, source)
NORMS: dict[str, dict[str, tuple[float, float, str]]] = {
    "healthy": {
        "cadence_spm": (103.0, 126.0, "117 +/- 9.3 (PMC10851523); 113.8 +/- 4.3 (Pistacchi 2017)"),
        "step_length_m": (0.60, 0.80, "Perry & Burnfield; Nagano 2021 (adults 50s)"),
        "mtc_mean_cm": (1.0, 1.6, "Winter 1992: 1.29 +/- 0.45 cm; Winter 1991: 13 mm young"),
        "mtc_sd_cm": (0.3, 0.65, "Winter 1992: SD 0.45 cm"),
        "stride_cv_pct": (1.0, 3.0, "Hausdorff 1999: 1.3 +/- 0.1 % young adults"),
    },
    "healthy-older": {
        "cadence_spm": (100.0, 125.0, "no age effect on cadence (Oberg 1993)"),
        "step_length_m": (0.55, 0.75, "6 cm shorter in the 70s (Nagano 2021)"),
        "mtc_mean_cm": (0.8, 1.4, "Winter 1991: 11 mm elderly"),
        "stride_cv_pct": (1.5, 3.5, "Hausdorff 2001: SD 49 ms in non-fallers ~ 4 %"),
    },
    **{f"hemiparetic-{side}": _MODERATE_STROKE for side in ("left", "right")},
    **{f"hemiparetic-{side}-mild": _MILD_STROKE for side in ("left", "right")},
    "parkinsonian": {**_PARKINSON, "stride_cv_pct": (3.0, 7.0, "raised stride-time variability in PD (Hausdorff)")},
    "parkinsonian-freezing": _PARKINSON,
    "frail-older": {
        "speed_mps": (0.4, 0.76, "Fried 2001 slowness: 4.57 m in >= 6-7 s"),
        "cadence_spm": (75.0, 105.0, "slow walkers (Studenski 2011 speed, Oberg 1993 cadence)"),
        "step_length_m": (0.30, 0.50, "short steps of slow older walkers"),
    },
}
