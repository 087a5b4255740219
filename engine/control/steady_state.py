"""Which strides are steady-state walking, the only ones stride-time variability is taken over.

A stride (heel strike to the next heel strike of the same leg) is steady when
- the belt speed stayed within SPEED_TOL_MPS + SPEED_TOL_SHARE of its mean over the stride
  (no speed change by the therapist, the scene or a stop);
- no obstacle acted on the walk during it: no yield obstacle or step-over approach limiting the
  speed, no clearance boost, no raised guidance, no pause;
- it is not in the warm-up: at least WARMUP_STRIDES earlier strides of that leg and WARMUP_S
  of walking since the session started or resumed.
Variability norms are measured on steady walking (Hausdorff et al. 1999: 1.3 % in young adults
over minutes of steady walking); acceleration to a steady speed takes the first steps (Lindemann
et al. 2008: about 2.5 m overground), and on a treadmill the belt itself sets the speed, so a
few strides after each start or speed change are enough.
"""

from __future__ import annotations

SPEED_TOL_MPS = 0.02
SPEED_TOL_SHARE = 0.03
WARMUP_STRIDES = 3
WARMUP_S = 5.0


class StrideSteadiness:
    """Per leg: belt-speed range and disturbances since that leg's last heel strike."""

    def __init__(self) -> None:
        self.reset(0.0)

    def reset(self, t_s: float) -> None:
        """A start or resume: the warm-up begins again."""
        self.walk_start_s = t_s
        self.v_min = [1e9, 1e9]
        self.v_max = [-1e9, -1e9]
        self.disturbed = [True, True]  # the stride in progress at a start is not steady
        self.strides = [0, 0]

    def cycle(self, belt_speed_mps: float, disturbed: bool) -> None:
        """Once per control cycle while walking."""
        v_min, v_max = self.v_min, self.v_max
        for side in (0, 1):
            if belt_speed_mps < v_min[side]:
                v_min[side] = belt_speed_mps
            if belt_speed_mps > v_max[side]:
                v_max[side] = belt_speed_mps
            if disturbed:
                self.disturbed[side] = True

    def heel_strike(self, side: int, t_s: float) -> bool:
        """The stride of `side` ends now: was it steady? Starts the next one."""
        mean = 0.5 * (self.v_min[side] + self.v_max[side])
        speed_ok = self.v_max[side] - self.v_min[side] <= SPEED_TOL_MPS + SPEED_TOL_SHARE * mean
        steady = (
            speed_ok and not self.disturbed[side] and self.strides[side] >= WARMUP_STRIDES
            and t_s - self.walk_start_s >= WARMUP_S and mean > 0.05
        )
        self.strides[side] += 1
        self.v_min[side] = 1e9
        self.v_max[side] = -1e9
        self.disturbed[side] = False
        return steady
