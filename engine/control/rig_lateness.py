"""How late the virtual rig has been: time left out of a simulated device's silence.

Real devices have their own processors and are never late; the virtual rig is a process on a
busy PC (devices/sim/rig_clock.py). It publishes each tick's time and the total of its late gaps;
the core notes that total whenever it reads a device's frame. A simulated device's silence then
leaves out exactly the rig's lateness since its newest frame (late gaps since, and a tick now
overdue unless the rig is halted: stopped or killed, i.e. failed devices), never more than
`max_s`. Nothing else is excused: a link cut while the rig was late stays silent for the full
limit of the time the rig was ticking (the rule before, silence timed from the rig's next tick,
left out the whole silence before a late tick as well: a cut detected 43 ms after it, issue 17).
"""

from __future__ import annotations

from devices.sim.rig_clock import LATE_GAP_S, TICK_S, RigClockReader
from engine.control.starvation import StarvationWatch

DEVICES = ("tm", "exo", "ins")
HALT_CHECK_CYCLES = 5  # how often to ask /proc whether a late rig is halted


class RigLateness:
    """The virtual rig's lateness per device, from its tick clock (none: real devices)."""

    def __init__(self, pid: int, watch: StarvationWatch, max_s: float) -> None:
        self.clock = RigClockReader(pid)
        self.watch = watch  # the rig's process, for halted()
        self.max_s = max_s
        self.longest_s = 0.0  # the longest lateness left out of a device's silence
        self._at_rx = dict.fromkeys(DEVICES, 0.0)  # the clock's late total at each newest frame
        self._halted = False
        self._halt_checked_cycle = -HALT_CHECK_CYCLES

    @property
    def available(self) -> bool:
        return self.clock.available

    def frames_read(self, tm: int, exo: int, ins: int) -> None:
        """Frames were just read from these devices (counts; 0: none)."""
        total = self.clock.late_total_s()
        at_rx = self._at_rx
        if tm:
            at_rx["tm"] = total
        if exo:
            at_rx["exo"] = total
        if ins:
            at_rx["ins"] = total

    def late_s(self, device: str, t: float, cycle: int) -> float:
        """Seconds the rig was late since `device`'s newest frame was read, at time t (cycle:
        the core's, to ask /proc at most every HALT_CHECK_CYCLES); 0.0 without a clock."""
        clock = self.clock
        if not clock.available:
            return 0.0
        late = clock.late_total_s() - self._at_rx[device]
        overdue = t - clock.last_tick_s()
        if overdue > LATE_GAP_S:
            if cycle - self._halt_checked_cycle >= HALT_CHECK_CYCLES:
                self._halted = self.watch.halted()
                self._halt_checked_cycle = cycle
            if not self._halted:
                late += overdue - TICK_S
        late = min(late, self.max_s)
        if late > self.longest_s:
            self.longest_s = late
        return late

    def close(self) -> None:
        self.clock.close()
