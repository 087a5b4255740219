"""The idle therapist menu costs at most 5 % of a core (issue 15), measured as CPU time of the UI
process over 10 s under Xvfb (bench.ui does the measuring; `python -m bench ui` reports it)."""

from __future__ import annotations

import pytest

from bench.ui import IDLE_S, _child

pytestmark = pytest.mark.timeout(300)


def test_the_idle_menu_uses_at_most_five_percent_of_a_core(xdisplay):
    idle = _child(xdisplay, IDLE_S, busy=False)
    assert idle["wall_s"] >= IDLE_S
    assert idle["cpu_fraction"] <= 0.05, idle
    assert idle["draws_per_s"] < 5, idle  # drawn on change (here: nothing changes), not every pass
