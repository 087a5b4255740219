"""The simulated patient's effort (devices/sim/effort.py): capacity per profile from published
exercise physiology, heart rate against the reserve, and strain when the belt asks more than the
patient's comfortable pace."""

from __future__ import annotations

import statistics
from dataclasses import replace

import pytest

from devices.sim import effort as ef
from devices.sim.effort import Capacity
from devices.sim.patient import simulate
from devices.sim.profiles import load_profile, profile_names, profile_to_yaml
from devices.sim.recovery import recovered


def test_capacity_of_every_shipped_profile_lies_in_the_published_ranges():
    for name in profile_names():
        c = Capacity.of(load_profile(name))
        assert 20.0 <= c.age_y <= 95.0, name
        assert c.comfortable_speed_mps < c.max_speed_mps, name
        # fast / comfortable: 1.38-1.59 after stroke (Jonkers 2009), 1.37-1.73 healthy (Bohannon 1997)
        assert 1.37 <= c.max_speed_mps / c.comfortable_speed_mps <= 1.73, name
        # VO2peak: from the oldest stroke survivors (~8 ml/kg/min) to FRIEND's 20-29 y men (48)
        assert 7.0 <= c.vo2peak_ml_kg_min <= 48.0, name
    healthy = Capacity.of(load_profile("healthy"))
    assert healthy.age_y == pytest.approx(40.0)  # Tanaka 2001 inverted: 208 - 0.7 x 40 = 180 bpm
    assert 1.75 <= healthy.max_speed_mps <= 2.55  # Bohannon 1997's maximal speeds of 20-79 y adults
    mild = Capacity.of(load_profile("hemiparetic-right-mild"))
    # mild stroke ~70 y: 18.4 +/- 4.6 ml/kg/min vs 26.8 +/- 5.5 in controls (Oxford cohort);
    # 14.8-17.3 in the first months after stroke (MacKay-Lyons & Makrides 2004)
    assert 13.8 <= mild.vo2peak_ml_kg_min <= 23.0
    assert mild.vo2peak_ml_kg_min < Capacity.of(load_profile("healthy-older")).vo2peak_ml_kg_min


def test_heart_rate_rises_with_speed_above_comfortable_and_with_grade():
    c = Capacity.of(load_profile("hemiparetic-right-mild"))
    speeds = [0.5, c.comfortable_speed_mps, 1.1, 1.3]
    hrs = [c.steady_heart_rate_bpm(v) for v in speeds]
    assert hrs == sorted(hrs) and hrs[-1] > hrs[1] + 5.0
    assert c.steady_heart_rate_bpm(1.0, grade=0.05) > c.steady_heart_rate_bpm(1.0) + 5.0
    assert c.steady_heart_rate_bpm(1.0, bws_fraction=0.3) < c.steady_heart_rate_bpm(1.0)
    assert c.steady_heart_rate_bpm(0.0) == pytest.approx(c.hr_rest_bpm)
    assert c.steady_heart_rate_bpm(5.0) == c.hr_max_bpm  # never above the maximum
    # the same pace is harder for the less fit: %HRR at 1.0 m/s, frail older > healthy adult
    frail, healthy = Capacity.of(load_profile("frail-older")), Capacity.of(load_profile("healthy"))
    assert frail.vo2_reserve_share(1.0) > 2.0 * healthy.vo2_reserve_share(1.0)


def test_the_walking_patient_heart_rate_follows_the_pace():
    profile = load_profile("hemiparetic-right-mild")
    at_ease = simulate(profile, 0, profile.comfortable_speed_mps, 150.0, dt_s=0.01)
    pushed = simulate(profile, 0, 1.35, 150.0, dt_s=0.01)
    assert at_ease.ground_truth()["strain"] == 0.0
    assert pushed.ground_truth()["strain"] > 0.7
    assert pushed.heart_rate_bpm > at_ease.heart_rate_bpm + 5.0
    assert pushed.fatigue > at_ease.fatigue


def _stride_cv_and_clearance(model) -> tuple[float, float, float]:
    truth = model.ground_truth()
    factors = [s["factor"] for s in truth["strides"] if s["t_s"] > 5.0]
    clearance = [s["clearance_m"] for s in truth["toe_clearance"] if s["t_s"] > 5.0]
    steps = [s["length_m"] for s in truth["steps"] if s["t_s"] > 5.0]
    return statistics.pstdev(factors), statistics.median(clearance), statistics.median(steps)


def test_strain_makes_steps_shorter_more_variable_and_clearance_lower(monkeypatch):
    """The same patient at the same belt speed above its comfortable pace, with and without the
    strain effects: the difference is the strain hook in the patient model."""
    profile = load_profile("hemiparetic-right-mild")
    strained = _stride_cv_and_clearance(simulate(profile, 3, 1.35, 90.0, dt_s=0.005))
    for name in ("STEP_LENGTH_DROP", "VARIABILITY_GAIN", "CLEARANCE_DROP", "FATIGUE_GAIN"):
        monkeypatch.setattr(ef, name, 0.0)
    plain = _stride_cv_and_clearance(simulate(profile, 3, 1.35, 90.0, dt_s=0.005))
    assert strained[0] > 1.3 * plain[0]  # stride-time variability
    assert strained[1] < plain[1] - 0.002  # median toe clearance
    assert strained[2] < 0.95 * plain[2]  # step length at the same belt speed


def test_recovery_raises_capacity_and_a_stable_patient_keeps_it():
    base = load_profile("hemiparetic-right-mild")
    before, after = Capacity.of(base), Capacity.of(recovered(base, 0.6))
    assert after.max_speed_mps > before.max_speed_mps + 0.1
    assert after.vo2peak_ml_kg_min > before.vo2peak_ml_kg_min
    assert Capacity.of(recovered(base, 0.0)) == before


def test_a_profile_never_seen_gets_defaults_from_its_age_and_gait(tmp_path):
    # an older, slow patient with only the required keys (optional ones at their defaults)
    data = load_profile("healthy")
    unseen = replace(data, name="unseen", hr_max_bpm=150.0, hr_rest_bpm=80.0, comfortable_speed_mps=0.45,
                     labels=())
    path = tmp_path / "unseen.yaml"
    path.write_text(profile_to_yaml(unseen))
    c = Capacity.of(load_profile(str(path)))
    assert c.age_y == pytest.approx((208.0 - 150.0) / 0.7)
    assert c.speed_deficit > 0.5  # 0.45 m/s at ~83 y
    assert c.max_speed_mps / c.comfortable_speed_mps == pytest.approx(ef.FAST_RATIO_LOW[1])
    assert ef.VO2PEAK_MIN_ML_KG_MIN <= c.vo2peak_ml_kg_min < Capacity.of(load_profile("frail-older")).vo2peak_ml_kg_min + 5
    model = simulate(load_profile(str(path)), 0, 0.45, 60.0, dt_s=0.01)
    assert c.hr_rest_bpm < model.heart_rate_bpm < c.hr_max_bpm


def test_an_impaired_gait_costs_more_per_metre_as_published():
    """At self-selected speed over 5 min, 20 stroke survivors took 10.18 +/- 2.14 ml/kg/min at about
    0.50 m/s and 39 healthy adults 9.61 +/- 1.90 at about 0.90 m/s (Arch Phys Med Rehabil
    2003;84:1774): about the same rate at a much slower pace. A profile walking 0.50 m/s at that
    group's age (~60 y) lands within one SD of the stroke group; the healthy cost (before issue 12's
    third round) gave 6.5 ml/kg/min, below it."""
    base = load_profile("hemiparetic-right-mild")
    stroke = Capacity.of(replace(base, comfortable_speed_mps=0.50, hr_max_bpm=208.0 - 0.7 * 60.0))
    rate = ef.walking_vo2_ml_kg_min(0.50, cost_factor=stroke.cost_factor)
    assert 10.18 - 2.14 <= rate <= 10.18 + 2.14
    assert not 10.18 - 2.14 <= ef.walking_vo2_ml_kg_min(0.50) <= 10.18 + 2.14
    # a healthy gait keeps the healthy cost
    assert Capacity.of(load_profile("healthy")).cost_factor == pytest.approx(1.0, abs=0.03)
