"""The idle therapist menu is cheap by construction (issue 15): it polls input at IDLE_POLL_HZ
instead of the session's 60 Hz and redraws only on change. Measured under Xvfb through bench.ui.

Its CPU cost (target: at most 5 % of a core) is a speed figure and lives in `python -m bench ui`:
CPU time per second grows when other processes share the caches and the cores, so a cap on it in
the suite failed on a busy CI machine (5.4 %) although nothing in the menu had changed. What makes
the cost low, the pass rate and the redraw rate, does not depend on the machine's load (a busy
machine can only lower them), and that is what this test holds."""

from __future__ import annotations

import pytest

from bench.ui import IDLE_S, _child
from engine.session.desktop import IDLE_NUMBERS_HZ, IDLE_POLL_HZ, IDLE_REDRAW_S

pytestmark = pytest.mark.timeout(300)


def test_the_idle_menu_polls_slowly_and_draws_only_on_change(xdisplay):
    idle = _child(xdisplay, IDLE_S, busy=False)
    assert idle["wall_s"] >= IDLE_S
    passes_per_s = idle["passes"] / idle["wall_s"]
    # At the session's 60 Hz the menu cost 20-30 % of a core; it must sleep between passes.
    assert passes_per_s <= IDLE_POLL_HZ * 1.25, idle
    # Nothing changes on an idle menu: only the slow numbers and the cursor redraw it.
    assert idle["draws_per_s"] <= max(IDLE_NUMBERS_HZ, 1.0 / IDLE_REDRAW_S) + 0.2, idle
