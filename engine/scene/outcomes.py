"""How obstacle outcomes are counted: one rule for the HUD, the session summary and the report.

An obstacle counts once it has an outcome: a step-over is cleared or touched (hit), a yield
obstacle is waited for (passed). Obstacles with no outcome (not reached yet, or walked past
beside the walking lane: see engine.control.planner.in_walking_lane) count nowhere. "Done well"
is cleared + waited for, out of all decided. Outcomes come as ObstacleOutcome values (the state
block) or as their names ("cleared", "hit", "passed": recorded events); both count the same.

engine/records/metrics.py (the report) counts the recorded outcome events with `count_outcomes`
too (tests/records/test_outcome_counts.py checks the three on one simulated session).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.control.layout import ObstacleOutcome

_NAMES = {"cleared": ObstacleOutcome.CLEARED, "hit": ObstacleOutcome.HIT, "passed": ObstacleOutcome.PASSED,
          "pending": ObstacleOutcome.PENDING}


@dataclass(frozen=True)
class OutcomeCounts:
    cleared: int = 0  # step-overs cleared
    touched: int = 0  # step-overs hit
    waited: int = 0  # yield obstacles waited for and passed

    @property
    def decided(self) -> int:
        """Obstacles with an outcome."""
        return self.cleared + self.touched + self.waited

    @property
    def done_well(self) -> int:
        """Cleared or waited for."""
        return self.cleared + self.waited

    def text(self) -> str:
        """The one line the HUD summary (and the report) shows."""
        if not self.decided:
            return "Obstacles: none on the way"
        parts = [f"cleared {self.cleared}", f"touched {self.touched}"]
        if self.waited:
            parts.append(f"waited {self.waited}")
        return f"Obstacles {self.done_well} of {self.decided} done well ({', '.join(parts)})"

    def as_dict(self) -> dict[str, int]:
        """Figures for a stored summary."""
        return {"obstacles": self.decided, "obstacles_done_well": self.done_well, "obstacles_cleared": self.cleared,
                "obstacles_touched": self.touched, "obstacles_waited": self.waited}


def _code(value) -> int:
    if isinstance(value, str):
        return int(_NAMES.get(value.strip().lower(), ObstacleOutcome.PENDING))
    return int(value)


def count_outcomes(outcomes: Iterable) -> OutcomeCounts:
    """Count ObstacleOutcome values or names; PENDING (and unknown names) count nowhere."""
    codes = [_code(v) for v in outcomes]
    return OutcomeCounts(cleared=codes.count(ObstacleOutcome.CLEARED), touched=codes.count(ObstacleOutcome.HIT),
                         waited=codes.count(ObstacleOutcome.PASSED))


__all__ = ["OutcomeCounts", "count_outcomes"]
