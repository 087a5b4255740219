"""The state of one simulated foot, as the insole simulation and the ground truth read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FootState:
    """One foot now (`PatientModel.foot_state(side)`), from forward kinematics of the true joints.

    Positions are along the route in metres (the belt's frame: a planted foot keeps its x while
    the belt carries it; subtract `PatientModel.belt_route_m` for the treadmill's frame); heights
    are above the walkway's zero (curbs raise and lower the ground: `ground_m` is the ground
    under the heel). `pitch_rad` is toe-down positive, `pitch_rate_radps` its rate. The
    accelerations are of the midfoot in the treadmill (lab, inertial) frame, gravity excluded,
    m/s^2: what an IMU's accelerometer reads minus gravity, before rotating into the foot frame.
    Loads are the vertical force under the heel, midfoot and toe regions, newtons (body weight
    less the body-weight support, shared between the feet in contact). `t_s` is the time of the
    state on the rig's clock (the devices' clock: frames carry it as device_time_us).
    """

    t_s: float = 0.0
    heel_x_m: float = 0.0
    heel_z_m: float = 0.0
    toe_x_m: float = 0.0
    toe_z_m: float = 0.0
    ground_m: float = 0.0
    pitch_rad: float = 0.0
    pitch_rate_radps: float = 0.0
    accel_forward_mps2: float = 0.0
    accel_vertical_mps2: float = 0.0
    heel_load_n: float = 0.0
    midfoot_load_n: float = 0.0
    toe_load_n: float = 0.0
    in_contact: bool = True
    # force on the lateral half of the heel, midfoot and toe regions (devices/sim/plantar.py)
    lateral_n: tuple[float, float, float] = (0.0, 0.0, 0.0)
