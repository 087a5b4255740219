"""A raised device-silence alarm clears only when the device is heard again (ControlCore._device_heard).

The silence rule restarts its 20 ms count after a stall of the core itself (it cannot vouch for
silence it was not awake to see). Before session 13 that restart also cleared a raised alarm:
on this VM a stalled exoskeleton's alarm was cleared and raised again every 20-100 ms while
nothing came, and a re-arm and Start pressed in such a gap moved the belt with the link cut.

Here the real core runs on the simulated clock (engine/sim), the exoskeleton's line is cut while
walking, and once its alarm is up the core is told of a stall of its own at every probe (every
10 ms), as `ControlCore.step` records one (`host_stall_end_s`): the count restarts each time,
and the alarm must stay up (it is one of START_BLOCKERS: while it shows, a Start is refused)
until the line is restored, during the controlled stop, and a frame arrives. Deterministic:
simulated time, no wall clock. (The simulation ends once the core has stopped, so the line is
restored while it is stopping.)
"""

from __future__ import annotations

from engine.control.layout import AlarmReason, RunState
from engine.sim.session import SimOptions, run_simulation
from tests.sim.scenes import short_scene_dir

CUT_AT_S = 2.0
RESTORE_AFTER_S = 0.4  # the line stays cut this long after the alarm showed


class _CutStallRestore:
    """The probe: cuts the exoskeleton's line, then tells the core of a stall of its own at every
    probe while the line is cut, then restores the line; notes what the core showed at each probe."""

    def __init__(self) -> None:
        self.alarm_at_s: float | None = None
        self.restored_at_s: float | None = None
        self.rows: list[tuple[float, bool, int]] = []  # (t, alarm active, run state)

    def __call__(self, t_s: float, core, rig) -> None:
        active = core.alarms.is_active(AlarmReason.EXO_SILENT)
        self.rows.append((t_s, active, int(core.run_state)))
        if t_s < CUT_AT_S:
            return
        if self.alarm_at_s is None:
            rig.inject("cut", "exoskeleton")
            if active:
                self.alarm_at_s = t_s
            return
        if self.restored_at_s is None:
            if t_s - self.alarm_at_s < RESTORE_AFTER_S:
                core.host_stall_end_s = core.t_s  # as step() records a stall of the core
            else:
                rig.inject("restore", "exoskeleton")
                self.restored_at_s = t_s


def test_a_silence_alarm_stays_up_through_stalls_of_the_core_until_a_frame_arrives(tmp_path):
    probe = _CutStallRestore()
    run_simulation(SimOptions(scene="short", profile="healthy", duration_s=30.0, seed=3, db=None,
                              scenes_dir=short_scene_dir(tmp_path), probe=probe))
    assert probe.alarm_at_s is not None, "the cut exoskeleton was never reported silent"
    assert probe.restored_at_s is not None, "the run ended before the line was restored"
    cut = [row for row in probe.rows if probe.alarm_at_s <= row[0] < probe.restored_at_s]
    assert len(cut) >= 30
    flapped = [round(t, 3) for t, active, _ in cut if not active]
    assert flapped == [], f"the alarm cleared with the line still cut at {flapped} s"
    assert all(state == int(RunState.STOPPING) for _, _, state in cut[1:]), "no controlled stop on the cut line"
    heard_again = [t for t, active, _ in probe.rows if t > probe.restored_at_s and not active]
    assert heard_again and heard_again[0] - probe.restored_at_s <= 0.05, "the alarm did not clear once frames came"
