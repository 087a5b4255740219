"""A tripped swing foot is stopped by the obstacle (the physical signature the stumble warning
detects): it stays where the obstacle caught it, moving with the belt, for CATCH_S."""

from __future__ import annotations

from devices.sim.patient import CATCH_S, ExoDrive, PatientModel
from devices.sim.profiles import load_profile
from engine.scene.loader import find_scene


def test_a_tripped_foot_is_held_where_the_obstacle_caught_it():
    # hemiparetic left without boost: the weak leg cannot lift over the 15 cm box at 20 m
    model = PatientModel(load_profile("hemiparetic-left"), seed=0, obstacles=find_scene("sidewalk-curb-crossing"))
    drive = ExoDrive()
    dt = 0.002
    heel = {}
    t = 0.0
    model.step(t, 0.55, drive)
    while t < 60.0 and not model.trips:
        t += dt
        model.step(t, 0.55, drive)
    assert model.trips, "no trip: the scenario no longer tests anything"
    trip = model.trips[0]
    side = trip["side"]
    before = model.foot_state(side).heel_x_m
    for _ in range(int(CATCH_S / dt) - 5):
        t += dt
        model.step(t, 0.55, drive)
        heel[t] = model.foot_state(side).heel_x_m
    # over the belt (route coordinates) the caught foot moves less than 3 cm in 110 ms, where a
    # swinging foot covers 10-30 cm
    assert max(abs(x - before) for x in heel.values()) < 0.03
    assert not model.foot_state(side).in_contact  # held in the air by the obstacle, not landed
