"""The rig's slip perturbation (devices/sim/balance_perturbation.py) on the patient model alone:
the slipping heel slides as far as asked, the body is pushed back (the pendulum), a small slip
keeps the margin of stability positive and a large one records a loss of balance."""

from __future__ import annotations

import math

import pytest

from devices.sim.balance_perturbation import SlipPerturbation
from devices.sim.patient import ExoDrive, PatientModel
from devices.sim.profiles import load_profile

PROFILE = "devices/sim/patients/healthy.yaml"


def _walk(slips, duration_s: float = 14.0):
    profile = load_profile(PROFILE)
    model = PatientModel(profile, 1)
    pert = SlipPerturbation(slips)
    model.perturbation = pert
    drive = ExoDrive()
    heel_x = []
    for k in range(int(duration_s / 0.002) + 1):
        model.step(k * 0.002, profile.comfortable_speed_mps, drive)
        heel_x.append((k * 0.002, [leg.heel_x for leg in model.legs], [leg.in_stance for leg in model.legs]))
    return model, pert, heel_x


@pytest.mark.parametrize("distance_m", [0.03, 0.3])
def test_the_slipping_heel_slides_as_far_as_asked(distance_m):
    model, pert, trace = _walk([(10.0, distance_m)])
    (slip,) = pert.perturbations
    side = slip["side"]
    stance = [(t, x[side]) for t, x, down in trace if down[side] and slip["t_s"] <= t <= slip["t_s"] + 0.35]
    assert stance[-1][1] - stance[0][1] == pytest.approx(distance_m, abs=1e-3)
    truth = model.ground_truth()
    assert truth["perturbations"][0]["distance_m"] == distance_m


def test_a_small_slip_keeps_the_balance_and_a_large_one_loses_it():
    _, small, _ = _walk([(10.0, 0.03)])
    assert small.perturbations[0]["min_mos_m"] > 0.05
    assert not [b for b in small.balance_losses if b["cause"] == "slip"]
    _, large, _ = _walk([(10.0, 0.3)])
    slip = large.perturbations[0]
    assert slip["loss_of_balance"] and slip["min_mos_m"] < 0.0
    (loss,) = [b for b in large.balance_losses if b["cause"] == "slip"]
    assert slip["t_s"] < loss["t_s"] < slip["t_s"] + 1.0


def test_undisturbed_walking_keeps_a_positive_margin():
    # the monitor without slips: a healthy walk at its comfortable speed never loses balance
    model, pert, _ = _walk([], duration_s=20.0)
    assert pert.perturbations == [] and pert.balance_losses == []
    assert pert.mos_m > 0.0 and not math.isnan(pert.mos_m)


def test_bad_slips_are_refused():
    with pytest.raises(ValueError, match="distance"):
        SlipPerturbation([(1.0, -0.1)])
    with pytest.raises(ValueError, match="duration"):
        SlipPerturbation([(1.0, 0.1)], duration_s=0.0)
