"""An intended-speed schedule for the simulated patient (self-paced tests and bench).

Piecewise linear in the rig's time; after the last point the last speed holds. Set on
`PatientModel.intent_schedule` (in process) or through `RigHandle.set_intent` (rig process).
"""

from __future__ import annotations

from collections.abc import Sequence


class IntentSchedule:
    """Intended speed (m/s) at time t (s): linear between (t, speed) points, picklable."""

    def __init__(self, points: Sequence[Sequence[float]]) -> None:
        # (pairs of any kind: the rig's control channel brings JSON lists, not tuples)
        if not points:
            raise ValueError("intent schedule: at least one (t_s, speed_mps) point")
        pts = [(float(t), float(v)) for t, v in points]
        for (t0, _), (t1, _) in zip(pts, pts[1:], strict=False):
            if t1 < t0:
                raise ValueError(f"intent schedule: times must not decrease ({t0} then {t1})")
        if any(v < 0.0 or v != v for _, v in pts):
            raise ValueError("intent schedule: speeds must be >= 0")
        self.points = pts

    def shifted(self, t0_s: float) -> IntentSchedule:
        """The same schedule starting at t0_s instead of 0."""
        return IntentSchedule([(t0_s + t, v) for t, v in self.points])

    def __call__(self, t_s: float) -> float:
        pts = self.points
        if t_s <= pts[0][0]:
            return pts[0][1]
        for (t0, v0), (t1, v1) in zip(pts, pts[1:], strict=False):
            if t_s <= t1:
                return v0 + (v1 - v0) * (t_s - t0) / (t1 - t0) if t1 > t0 else v1
        return pts[-1][1]
