"""The exoskeleton firmware's drive from a command: modes checked, values clamped, NaN = 0.

`ExoFirmware.command_drive` is built every rig tick and written for speed; this holds it to the
plain rule (min/max clamps, NaN to zero, unknown modes transparent) on any command values.
"""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from devices import protocol as p
from devices.base import JointMode
from devices.sim.endpoint import Endpoint
from devices.sim.firmware import ExoFirmware

values = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.sampled_from([0.0, -0.0, 1.0]))


def _reference(fields: tuple, lo: tuple, hi: tuple) -> tuple:
    def clamp(x, a, b):
        return min(max(x, a), b) if x == x else 0.0

    modes = tuple(m if m in (0, 1, 2) else JointMode.TRANSPARENT for m in fields[4:8])
    return (modes, clamp(fields[8], 0.0, 1.0), tuple(clamp(a, lo[i], hi[i]) for i, a in enumerate(fields[9:13])),
            tuple(v if v == v else 0.0 for v in fields[13:17]), tuple(clamp(b, 0.0, 1.0) for b in fields[17:19]))


class _NoLine(Endpoint):
    def __init__(self) -> None:  # no pseudo-terminal: the firmware only needs an object here
        self._init_line(random.Random(0))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=4, max_size=4), st.lists(values, min_size=11, max_size=11))
def test_command_drive_clamps_as_the_plain_rule_says(modes, numbers):
    fw = ExoFirmware(_NoLine(), "SIM-EXO-T", patient=None, safe_mode=JointMode.TRANSPARENT)
    body = p.encode_body(p.EXO_COMMAND, p.Msg.EXO_COMMAND, 1, 0, *modes, *numbers)
    fields = p.decode_body(body)  # float32 on the wire, as the firmware receives them
    fw.command(0.0, p.Msg.EXO_COMMAND, fields)
    d = fw.command_drive
    got = (d.modes, d.stiffness, d.ref_angle_rad, d.ref_velocity_radps, d.clearance_boost)
    want = _reference(fields, fw.info.joint_min_rad, fw.info.joint_max_rad)
    # the same values, signed zeros included
    assert repr(got) == repr(want)
    assert all(not math.isnan(x) for x in (d.stiffness, *d.ref_angle_rad, *d.ref_velocity_radps, *d.clearance_boost))
