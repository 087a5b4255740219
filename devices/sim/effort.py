"""The simulated patient's effort: capacity, heart rate, fatigue and strain above capacity.

Everything derives from the profile's required keys, so a profile the project has never seen
gets a capacity from its age and its gait (docs/patients.md has no extra key to fill in):

- Age: Tanaka, Monahan & Seals 2001 (HRmax = 208 - 0.7 x age) inverted from `hr_max_bpm`,
  clamped to 20..95 y.
- Healthy walking speed for that age: Bohannon & Andrews 2011 (REFERENCES.md section 1: 1.35 m/s
  in the 20s, 1.29 in the 60s, 1.195 in the 70s, 0.955 at 80-99; men and women averaged).
  The patient's *gait-speed deficit* is 1 - comfortable / that speed (0 for a healthy walker).
  It is the "condition" the defaults come from, and it shrinks as a patient recovers (training
  raises `comfortable_speed_mps`, devices/sim/recovery.py), so capacity rises with recovery and
  stays put for a stable patient.
- Maximal (fast) walking speed: comfortable x a ratio that grows with function. After stroke,
  Jonkers, Delp & Patten 2009 (Gait Posture 29:129) found lower-functioning walkers go from 0.52
  to 0.72 leg lengths/s (x1.38), higher-functioning ones from 0.88 to 1.40 (x1.59). Between
  those comfortable speeds the ratio is interpolated; outside them it stays at the end value.
  Healthy adults' 1.37-1.73 (Bohannon 1997, REFERENCES.md) bracket the upper one.
- Aerobic capacity (VO2peak, ml/kg/min): FRIEND registry 50th percentiles (Kaminsky, Arena &
  Myers 2015, Mayo Clin Proc 90:1515): 48.0 (men) and 37.6 (women) at 20-29 y, 24.4 and 18.3 at
  70-79 y; linear in age between the decade midpoints, men and women averaged. Scaled down by the
  gait-speed deficit: 1 - 0.55 x deficit. The 0.55 maps two published group values onto each
  other (project's fit): VO2peak 61.7 % of age norms one month after stroke (MacKay-Lyons &
  Makrides 2004, Arch Phys Med Rehabil 85:1608, mean age 64) and the subacute walking speed of
  0.39 m/s (Tilson 2010, REFERENCES.md section 4), a deficit of 0.70 at 64 y.
- Oxygen cost of walking: the ACSM walking equation (ACSM's Guidelines for Exercise Testing and
  Prescription, 10th ed., table 6.3): VO2 = 3.5 + 0.1 S + 1.8 S G (S in m/min, G the grade as a
  fraction). Its stated range is 50-100 m/min; below, it is used as is. Body-weight support
  scales the cost above rest by (1 - BWS) (project's choice, as the model before it).
- Impaired gait costs more per metre: the net cost above is multiplied by healthy speed for the
  age / comfortable speed (at least 1), so a patient at its own comfortable speed takes oxygen at
  the rate a healthy adult of its age does at theirs. The published comparison: at self-selected
  speed over 5 min, stroke survivors 10.18 +/- 2.14 and healthy adults 9.61 +/- 1.90 ml/kg/min, the
  cost per metre 0.40 vs 0.18 ml/kg/m (Arch Phys Med Rehabil 2003;84:1774, 20 stroke, 39 healthy):
  about the same rate at a much slower pace. With their speeds (0.50 and 0.90 m/s) the factor is
  1.8 and predicts 8.9 ml/kg/min for the stroke group, still under the 10.2 measured (within one
  SD). Until issue 12's third round the cost was the healthy one, and the simulated mild
  hemiparetic patient's heart rate stayed at 38 % of its reserve at 1.05 m/s, 0.15 m/s above its
  comfortable speed, where a stable patient should feel the pace.
- Heart rate: % of the heart-rate reserve = % of the VO2 reserve (Swain & Leutholtz 1997, Med
  Sci Sports Exerc 29:410; treadmill: Swain et al. 1998, 30:318): HR = rest + (max - rest) x
  (VO2 - 3.5) / (VO2peak - 3.5), reached with the first-order HR_TAU_S lag of the patient model,
  plus the model's cardiovascular drift with fatigue (20 bpm at fatigue 1), never above HRmax.

Strain: above the comfortable speed, the share of the speed reserve in use,
x = (v - comfortable) / (maximal - comfortable), 0..1. What it does (magnitudes at x = 1 are the
project's choice; no published figure for a patient held at its own maximal speed was found):
shorter steps at the same belt speed (STEP_LENGTH_DROP: a quicker cadence), more variable steps
(stride-time and step-length CV x (1 + VARIABILITY_GAIN x): variability is lowest near the
preferred speed, Jordan, Challis & Newell 2007, Gait Posture 26:128), a lower and more variable
minimum toe clearance (CLEARANCE_DROP, the SD x (1 + VARIABILITY_GAIN x)), which the core's
assist-as-needed sees as tracking error and answers with more guidance, and faster fatigue
(FATIGUE_GAIN), which lowers clearance further and drifts the heart rate up over the session.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.sim.profiles import PatientProfile

VO2_REST_ML_KG_MIN = 3.5  # 1 MET (ACSM)
# Bohannon & Andrews 2011 via REFERENCES.md section 1 (decade midpoints; men and women averaged)
NORM_SPEED_BY_AGE = ((25.0, 1.35), (65.0, 1.29), (75.0, 1.195), (85.0, 0.955))
# FRIEND 2015 50th percentiles, men and women averaged: 20-29 y (48.0 + 37.6) / 2, 70-79 y (24.4 + 18.3) / 2
VO2PEAK_BY_AGE = ((25.0, 42.8), (75.0, 21.35))
VO2PEAK_MIN_ML_KG_MIN = 7.0  # 2 METs: keeps the reserve positive for the oldest, slowest profiles
FITNESS_PER_DEFICIT = 0.55  # VO2peak share lost per unit of gait-speed deficit (fit above)
# Jonkers, Delp & Patten 2009: comfortable -> fast in leg lengths per second after stroke
FAST_RATIO_LOW = (0.52, 0.72 / 0.52)
FAST_RATIO_HIGH = (0.88, 1.40 / 0.88)
AGE_RANGE_Y = (20.0, 95.0)
# Effects of strain at x = 1 (project's choice, see the module docstring)
STEP_LENGTH_DROP = 0.15
VARIABILITY_GAIN = 1.0
CLEARANCE_DROP = 0.5
FATIGUE_GAIN = 3.0
FATIGUE_HR_DRIFT_BPM = 20.0  # the patient model's drift at fatigue 1 (kept)


def _interp(x: float, points: tuple[tuple[float, float], ...]) -> float:
    """Piecewise-linear through points (sorted by x), held flat beyond the ends (two points: the
    line extended, as for FRIEND's decline with age)."""
    if len(points) == 2:
        (x0, y0), (x1, y1) = points
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


def walking_vo2_ml_kg_min(speed_mps: float, grade: float = 0.0, bws_fraction: float = 0.0,
                          cost_factor: float = 1.0) -> float:
    """Oxygen uptake of walking (ACSM walking equation), the part above rest scaled by (1 - BWS)
    and by the gait's cost factor (1: a healthy gait; see Capacity.cost_factor)."""
    s = 60.0 * max(0.0, speed_mps)
    net = (0.1 * s + 1.8 * s * max(0.0, grade)) * max(1.0, cost_factor)
    return VO2_REST_ML_KG_MIN + net * (1.0 - min(max(bws_fraction, 0.0), 1.0))


@dataclass(frozen=True)
class Capacity:
    """What a profile can do, from its age and its gait (see the module docstring)."""

    age_y: float
    hr_rest_bpm: float
    hr_max_bpm: float
    comfortable_speed_mps: float
    max_speed_mps: float
    norm_speed_mps: float
    speed_deficit: float
    vo2peak_ml_kg_min: float

    @classmethod
    def of(cls, profile: PatientProfile) -> Capacity:
        age = min(max((208.0 - profile.hr_max_bpm) / 0.7, AGE_RANGE_Y[0]), AGE_RANGE_Y[1])
        norm = _interp(age, NORM_SPEED_BY_AGE)
        comfortable = profile.comfortable_speed_mps
        deficit = min(max(1.0 - comfortable / norm, 0.0), 1.0)
        leg_m = profile.thigh_m + profile.shank_m + profile.foot_height_m
        ll_per_s = comfortable / leg_m
        (a, ra), (b, rb) = FAST_RATIO_LOW, FAST_RATIO_HIGH
        ratio = ra + (rb - ra) * min(max((ll_per_s - a) / (b - a), 0.0), 1.0)
        vo2peak = max(VO2PEAK_MIN_ML_KG_MIN, _interp(age, VO2PEAK_BY_AGE) * (1.0 - FITNESS_PER_DEFICIT * deficit))
        return cls(age_y=age, hr_rest_bpm=profile.hr_rest_bpm, hr_max_bpm=profile.hr_max_bpm,
                   comfortable_speed_mps=comfortable, max_speed_mps=comfortable * ratio, norm_speed_mps=norm,
                   speed_deficit=deficit, vo2peak_ml_kg_min=vo2peak)

    @property
    def cost_factor(self) -> float:
        """Net oxygen cost per metre against a healthy gait: healthy speed for the age over the
        comfortable speed, at least 1 (see the module docstring)."""
        return max(1.0, self.norm_speed_mps / max(self.comfortable_speed_mps, 1e-3))

    def vo2_reserve_share(self, speed_mps: float, grade: float = 0.0, bws_fraction: float = 0.0) -> float:
        """Share of the VO2 reserve walking takes (may exceed 1: beyond what can be sustained)."""
        vo2 = walking_vo2_ml_kg_min(speed_mps, grade, bws_fraction, self.cost_factor)
        return (vo2 - VO2_REST_ML_KG_MIN) / (self.vo2peak_ml_kg_min - VO2_REST_ML_KG_MIN)

    def steady_heart_rate_bpm(self, speed_mps: float, grade: float = 0.0, bws_fraction: float = 0.0,
                              fatigue: float = 0.0) -> float:
        """Steady-state heart rate at this pace (%HRR = %VO2R), with the fatigue drift, <= HRmax."""
        share = max(0.0, self.vo2_reserve_share(speed_mps, grade, bws_fraction))
        hr = self.hr_rest_bpm + (self.hr_max_bpm - self.hr_rest_bpm) * share + FATIGUE_HR_DRIFT_BPM * fatigue
        return min(self.hr_max_bpm, hr)

    def strain(self, speed_mps: float) -> float:
        """Share of the speed reserve in use above the comfortable speed, 0..1."""
        room = max(self.max_speed_mps - self.comfortable_speed_mps, 1e-6)
        return min(max((speed_mps - self.comfortable_speed_mps) / room, 0.0), 1.0)

    def to_dict(self) -> dict:
        return {k: round(v, 4) for k, v in self.__dict__.items()}


class Effort:
    """Heart rate, fatigue and strain of one walking patient, stepped with the patient model."""

    __slots__ = ("capacity", "fatigue_per_min", "heart_rate_bpm", "fatigue", "strain", "hr_tau_s")

    def __init__(self, profile: PatientProfile, hr_tau_s: float) -> None:
        self.capacity = Capacity.of(profile)
        self.fatigue_per_min = profile.fatigue_per_min
        self.heart_rate_bpm = profile.hr_rest_bpm
        self.fatigue = 0.0
        self.strain = 0.0
        self.hr_tau_s = hr_tau_s

    def step(self, dt_s: float, speed_mps: float, bws_fraction: float = 0.0, grade: float = 0.0) -> None:
        """Advance by dt_s walking at speed_mps (the belt's speed) with this body-weight support."""
        self.strain = self.capacity.strain(speed_mps)
        # fatigue: the patient model's law (speed squared, unloaded by BWS), faster under strain
        load = speed_mps * speed_mps * (1.0 - bws_fraction) * (1.0 + FATIGUE_GAIN * self.strain)
        self.fatigue += dt_s * self.fatigue_per_min / 60.0 * load * (1.0 - self.fatigue)
        target = self.capacity.steady_heart_rate_bpm(speed_mps, grade, bws_fraction, self.fatigue)
        self.heart_rate_bpm += (target - self.heart_rate_bpm) * min(1.0, dt_s / self.hr_tau_s)

    # multipliers the patient model applies to its gait (1 at or below the comfortable speed)
    @property
    def step_length_factor(self) -> float:
        return 1.0 - STEP_LENGTH_DROP * self.strain

    @property
    def variability_factor(self) -> float:
        return 1.0 + VARIABILITY_GAIN * self.strain

    @property
    def clearance_factor(self) -> float:
        return 1.0 - CLEARANCE_DROP * self.strain
