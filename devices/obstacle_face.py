"""Where a swinging toe meets an obstacle's near face: one definition for the control core
(engine/control/clearance.py) and the simulated patient's ground truth
(devices/sim/patient_truth.py), docs/validation.md "Crossing outcomes". It lives under devices
because the core may import devices and devices may not import the engine.

The two sides sample the foot at different instants (the core at its insole and encoder reports,
the truth every rig tick), so the height of the sole in the first sample over the face depends on
when that sample fell: a toe rising 2 cm in 4 ms met the face 1.4 cm below the top in one and more
than 1.5 cm below it in the other (parkinsonian-freezing seed 5). The height at the instant the toe
reaches the face, interpolated along its path between the samples around that instant, is a
property of the path, nearly the same for both."""

from __future__ import annotations

import math


def toe_height_at_face_m(prev_toe_x_m: float, prev_toe_z_m: float, toe_x_m: float, toe_z_m: float,
                         face_x_m: float) -> float:
    """Height of the toe at the instant it reached route x = face_x_m, interpolated linearly
    between the previous sample (toe before the face) and this one (toe at or past it); NaN when
    the toe did not reach the face between these two samples."""
    if not prev_toe_x_m < face_x_m <= toe_x_m:
        return math.nan
    return prev_toe_z_m + (toe_z_m - prev_toe_z_m) * (face_x_m - prev_toe_x_m) / (toe_x_m - prev_toe_x_m)
