"""Assist-as-needed: guidance follows the patient's tracking error from stride to stride.

The law is the error-based adaptation with forgetting of Emken et al. (2007):
    g[k+1] = F * g[k] + K * e[k]
with g the guidance as a fraction 0..1 of the prescribed guidance range, e[k] the RMS tracking
error (hip and knee of both legs, measured minus reference, radians) over stride k, F < 1 the
forgetting factor (less help when the patient does well) and K the error gain (more help when
they struggle). At a steady error e the guidance settles at K e / (1 - F); with F = 0.9 and
K = 0.5 per radian a steady 0.1 rad (5.7 degrees) error settles at 0.5. The result is bounded by
the therapist's minimum and maximum; when the therapist locks guidance it does not move.
"""

from __future__ import annotations

import math

FORGETTING = 0.9
GAIN_PER_RAD = 0.5


class AssistAsNeeded:
    """Accumulates tracking error over a stride and adapts the guidance fraction at its end."""

    def __init__(self, forgetting: float = FORGETTING, gain_per_rad: float = GAIN_PER_RAD) -> None:
        self.forgetting = forgetting
        self.gain_per_rad = gain_per_rad
        self.guidance = 0.5
        self.last_error_rad = math.nan
        self._sum_sq = 0.0
        self._n = 0

    def sample(self, error_sq_rad2: float) -> None:
        """Add one cycle's mean squared joint error (rad^2)."""
        self._sum_sq += error_sq_rad2
        self._n += 1

    def stride_end(self, enabled: bool, locked: bool, low: float, high: float) -> float:
        """Close the stride: update and return the guidance fraction (bounded by low..high)."""
        if self._n:
            self.last_error_rad = math.sqrt(self._sum_sq / self._n)
        self._sum_sq = 0.0
        self._n = 0
        if enabled and not locked and self.last_error_rad == self.last_error_rad:
            g = self.forgetting * self.guidance + self.gain_per_rad * self.last_error_rad
            self.guidance = low if g < low else high if g > high else g
        return self.guidance
