"""What the exoskeleton applies to the simulated patient this instant (after the firmware's mode logic)."""

from __future__ import annotations


class ExoDrive:
    """What the exoskeleton applies this instant (after the firmware's mode logic)."""

    __slots__ = ("modes", "stiffness", "ref_angle_rad", "ref_velocity_radps", "clearance_boost")

    def __init__(self, modes=(0, 0, 0, 0), stiffness: float = 0.0, ref_angle_rad=(0.0, 0.0, 0.0, 0.0),
                 ref_velocity_radps=(0.0, 0.0, 0.0, 0.0), clearance_boost=(0.0, 0.0)) -> None:
        self.modes = tuple(modes)
        self.stiffness = stiffness
        self.ref_angle_rad = tuple(ref_angle_rad)
        self.ref_velocity_radps = tuple(ref_velocity_radps)
        self.clearance_boost = tuple(clearance_boost)
