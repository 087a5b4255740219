"""Which CPUs the hypervisor has taken, from /proc/stat.

On a virtual machine the host may stop running one of the guest's CPUs (a throttled or
overcommitted host: measured on the CI machines, a vCPU taken for 100 ms several times a minute
under a CPU hog, `steal` +100 ms each time). Every thread on it stops, asleep or runnable, and the
guest's scheduler cannot see it: nothing waits on a run queue, so `starvation.StarvationWatch`'s
wait times do not grow. From another CPU it shows as that CPU's /proc/stat counters standing
still: a running CPU adds a clock tick (10 ms) to one of user, system, idle, iowait, irq or
softirq every 10 ms (idle time of a tickless idle CPU is computed at each read), and a taken one
adds nothing until it runs again, when its steal grows by the time taken.

`CpuClock.still_s(cpu, t)` is how long a CPU's counters have stood still at the last sample;
`STILL_MIN_S` of that (three ticks: each field rounds down on its own) means the CPU is not
running now. The control core reads this only while something is overdue, and its own CPU's
steal after one of its own stalls (`OwnFreezes`). Where /proc/stat cannot be read nothing is
ever still (another kernel: no excuse, the rules stay as strict as without this).
"""

from __future__ import annotations

import os

STILL_MIN_S = 0.03  # counters unchanged this long: the CPU is not running
CLOCK_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")  # /proc/stat's unit (USER_HZ)
_STEAL = 7  # user nice system idle iowait irq softirq steal guest guest_nice
PROCESSOR_FIELD = 36  # /proc/PID/stat field 39 (the CPU it last ran on), counted from field 3


def parse_cpu_lines(text: bytes) -> dict[int, tuple[int, int]]:
    """Each CPU's (sum of its time counters, steal) in clock ticks from /proc/stat's text
    (guest time is already counted in user time, so it is left out of the sum)."""
    out: dict[int, tuple[int, int]] = {}
    for line in text.split(b"\n"):
        if not line.startswith(b"cpu") or line[3:4] == b" ":
            if out:
                break  # the per-CPU lines come together, first
            continue
        fields = line.split()
        try:
            values = [int(v) for v in fields[1:_STEAL + 2]]
            out[int(fields[0][3:])] = (sum(values), values[_STEAL] if len(values) > _STEAL else 0)
        except (ValueError, IndexError):
            continue
    return out


class CpuClock:
    """Per-CPU /proc/stat counters, sampled on demand: when each CPU last advanced, and its steal."""

    def __init__(self, path: str = "/proc/stat") -> None:
        self.path = path  # opened per sample (rare: nothing held open by a core that is never closed)
        self._counts: dict[int, tuple[int, int]] = {}
        self._advanced_t_s: dict[int, float] = {}
        self._sample_t_s = float("nan")

    def sample(self, t: float) -> None:
        """Read the counters at time t (time.monotonic); about 25 microseconds."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                counts = parse_cpu_lines(os.read(fd, 8192))
            finally:
                os.close(fd)
        except OSError:
            return
        for cpu, (total, _steal) in counts.items():
            before = self._counts.get(cpu)
            if before is None or total != before[0]:
                self._advanced_t_s[cpu] = t
        self._counts = counts
        self._sample_t_s = t

    def still_s(self, cpu: int, t: float) -> float:
        """How long `cpu`'s counters had stood still at the last sample (0 when it advanced then,
        or when that sample is older than STILL_MIN_S at t: it no longer tells what happens now)."""
        if not t - self._sample_t_s <= STILL_MIN_S:
            return 0.0
        advanced = self._advanced_t_s.get(cpu)
        return 0.0 if advanced is None else self._sample_t_s - advanced

    def frozen(self, cpu: int, t: float) -> bool:
        """`cpu` is not running at the last sample (taken by the hypervisor)."""
        return self.still_s(cpu, t) >= STILL_MIN_S

    def steal_s(self, cpu: int) -> float:
        """The time the hypervisor has taken from `cpu` since boot, at the last sample (nan if unknown)."""
        counts = self._counts.get(cpu)
        return float("nan") if counts is None else counts[1] * CLOCK_TICK_S

    def cpus(self) -> list[int]:
        """The CPUs the last sample saw."""
        return list(self._counts)


FREEZE_REPORT_MIN_S = 0.03  # a gap between the core's cycles this long is reported
STEAL_SETTLE_S = 0.02  # the guest adds steal at its CPU's next tick after it runs again
BASELINE_EVERY_S = 1.0  # the core's CPU's steal is read this often (25 us each)


def current_cpu() -> int:
    """The CPU this process runs on now (/proc/self/stat field 39; -1 if unreadable)."""
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2:].split()[PROCESSOR_FIELD])
    except (OSError, ValueError, IndexError):
        return -1


class OwnFreezes:
    """The control core's own stalls, and how much of each the hypervisor took.

    The core is SCHED_FIFO: a gap of tens of ms between its cycles means it did not run at all.
    When its CPU's steal grew by about the gap, the machine took it (a virtual machine's host),
    and the devices' own watchdogs (90-100 ms) may stop the belt: a true stop, since the core
    really fell silent, that the therapist and the clinic's IT should see explained. `cycle`
    returns (cpu, gap s, steal s, window s) once per gap, STEAL_SETTLE_S after it, where steal is
    what the hypervisor took of that CPU in the window since the last baseline read before it."""

    def __init__(self, clock: CpuClock) -> None:
        self.clock = clock
        self._baseline_t_s = float("nan")  # when the steal below was read, before the next gap
        self._baseline: dict[int, float] = {}  # CPU -> its steal s then
        self._pending: tuple[float, float] | None = None  # (gap end t, gap s)
        self.due_s = float("-inf")  # cycle() has work at or after this (else only for a gap)
        self.count = 0
        self.longest_s = 0.0
        self.longest_steal_s = 0.0

    def _read_baseline(self, t: float) -> None:
        self.clock.sample(t)
        self._baseline_t_s = t
        self._baseline = {cpu: self.clock.steal_s(cpu) for cpu in self.clock.cpus()}
        self.due_s = t + BASELINE_EVERY_S

    def cycle(self, t: float, gap_s: float) -> tuple[int, float, float, float] | None:
        """Call with the time since the last cycle whenever gap_s >= FREEZE_REPORT_MIN_S or
        t >= due_s (the core's hot path skips the call otherwise); a report when one is due."""
        if gap_s >= FREEZE_REPORT_MIN_S and self._pending is None:
            self._pending = (t, gap_s)
            self.due_s = t + STEAL_SETTLE_S
            return None
        pending = self._pending
        if pending is not None:
            if t - pending[0] < STEAL_SETTLE_S:
                return None
            self._pending = None
            cpu = current_cpu()  # pinned: the CPU it stalled on
            self.clock.sample(t)
            steal_s = self.clock.steal_s(cpu) - self._baseline.get(cpu, float("nan"))
            window_s = t - self._baseline_t_s
            self._read_baseline(t)
            self.count += 1
            if pending[1] > self.longest_s:
                self.longest_s = pending[1]
                self.longest_steal_s = steal_s
            return cpu, pending[1], steal_s, window_s
        if t >= self.due_s:
            self._read_baseline(t)
        return None
