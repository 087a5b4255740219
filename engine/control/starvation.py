"""Whether another process is starved (runnable, but without a CPU), from /proc.

The control core asks this only when something that process should have sent is overdue (the
UI's liveness beat, the virtual rig's device frames): a process that waits for a CPU on a busy
machine is late, not dead, and a safety rule meant for a dead or hung peer must not stop a
session for it (issue 17). Every thread counts: in a Python process the thread that holds the
GIL may be any of them, and while it waits for a CPU every other thread waits for the GIL,
asleep on a futex (measured: a UI stopped with its main thread asleep, not runnable). A process
is starved over an interval when one of its threads waited on a run queue for at least half of
it (`schedstat`'s wait time, which the kernel adds when the thread gets a CPU), or was runnable
(state R) at both ends and did not run at all (a wait still going on), or the CPU it last ran on
is not running at all (a vCPU the hypervisor has taken: cpu_freeze.CpuClock; its threads, asleep
or runnable, cannot run, and no run-queue wait shows it). Not "runnable now and ran
little": a healthy periodic thread (the rig ticks every 2 ms at 14 % of a CPU) is often caught
runnable just after waking, and a first version that counted that excused a stalled device for
0.5 s (test_device_faults). Sampled every `SAMPLE_CYCLES` control cycles, only while something is
overdue: two preads of /proc files per thread (kept open), a few microseconds each. A stopped (T) process, or one
whose threads all sleep or block (S, D) or run, or one with SIGKILL or SIGSTOP pending (dying or
stopping), is not starved. Where /proc cannot tell (the
process gone, another kernel), nothing is starved.
"""

from __future__ import annotations

import os

from engine.control.cpu_freeze import PROCESSOR_FIELD, CpuClock

SAMPLE_CYCLES = 10
WAIT_FRACTION = 0.5
IDLE_RUN_FRACTION = 0.02
_STATE_R = ord("R")
_KILL_OR_STOP = (1 << (9 - 1)) | (1 << (19 - 1))  # SIGKILL, SIGSTOP in /proc's pending masks

Sample = tuple[int, float, float, int]  # a thread's state, run time s, run-queue wait s, last CPU


def _starved(before: Sample, now: Sample, dt: float) -> bool:
    """One thread over one interval: it waited on a run queue for at least WAIT_FRACTION of it
    (the kernel adds a wait when the thread gets its CPU), or it was runnable at both ends and
    did not run at all meanwhile (a wait still going on is not added yet)."""
    if now[2] - before[2] >= WAIT_FRACTION * dt:
        return True
    return now[0] == _STATE_R and before[0] == _STATE_R and now[1] - before[1] < IDLE_RUN_FRACTION * dt


class StarvationWatch:
    """A process watched for starvation between marks."""

    def __init__(self, cpus: CpuClock | None = None) -> None:
        self.cpus = cpus  # which CPUs the hypervisor has taken (None: not asked)
        self.pid = 0
        self._fds: dict[str, tuple[int, int]] = {}  # thread id -> its open stat and schedstat
        self._mark = float("nan")  # the event the current count belongs to (e.g. the last beat)
        self._starved_s = 0.0
        self._sample_t_s = 0.0
        self._sample: dict[str, Sample] = {}
        self.starved_now = False  # the last sample found it starved
        self.longest_s = 0.0  # the longest count reached (reported at the end of a run)

    def watch(self, pid: int) -> None:
        """Watch `pid` from now on (0: nothing)."""
        self.close()
        self.pid = pid if pid > 0 else 0
        self._mark = float("nan")
        self._sample = {}
        self.starved_now = False

    def close(self) -> None:
        for fds in self._fds.values():
            for fd in fds:
                os.close(fd)
        self._fds = {}

    def _threads(self) -> dict[str, Sample]:
        """Each thread's (state, run time, run-queue wait time in seconds, last CPU); files kept open."""
        out: dict[str, Sample] = {}
        try:
            tids = os.listdir(f"/proc/{self.pid}/task")
        except OSError:
            return out
        fds = self._fds
        for tid in [tid for tid in fds if tid not in tids]:
            for fd in fds.pop(tid):
                os.close(fd)
        for tid in tids:
            try:
                pair = fds.get(tid)
                if pair is None:
                    stat_fd = os.open(f"/proc/{self.pid}/task/{tid}/stat", os.O_RDONLY)
                    try:
                        pair = fds[tid] = (stat_fd, os.open(f"/proc/{self.pid}/task/{tid}/schedstat", os.O_RDONLY))
                    except OSError:
                        os.close(stat_fd)
                        raise
                stat = os.pread(pair[0], 512, 0)
                run_ns, wait_ns = os.pread(pair[1], 64, 0).split()[:2]
                rest = stat[stat.rindex(b")") + 2:]
                out[tid] = (rest[0], int(run_ns) * 1e-9, int(wait_ns) * 1e-9, int(rest.split()[PROCESSOR_FIELD]))
            except (OSError, ValueError, IndexError):
                continue
        return out

    def _stopping(self) -> bool:
        """SIGKILL or SIGSTOP pending: the process is dying or stopping, and runnable only to do
        that (a killed process waiting for a CPU to die is not a starved one: measured, a UI
        stopped 279 ms after its kill; its pidfd turns readable only once it has exited)."""
        try:
            with open(f"/proc/{self.pid}/status", "rb") as f:
                status = f.read()
        except OSError:
            return True  # gone
        for line in status.splitlines():
            if line.startswith((b"SigPnd:", b"ShdPnd:")) and int(line.split()[1], 16) & _KILL_OR_STOP:
                return True
        return False

    def halted(self) -> bool:
        """The process is stopped (T), exiting or a zombie, gone, or has SIGKILL or SIGSTOP
        pending: not late but dead or frozen (a halted virtual rig is a device that failed)."""
        if self.pid <= 0:
            return True
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as f:
                stat = f.read()
            state = stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3]
        except (OSError, ValueError):
            return True
        return state in (b"T", b"t", b"Z", b"X") or self._stopping()

    def starved_s(self, mark: float, t: float, cycle: int) -> float:
        """Seconds found starved since `mark` was first passed in (a new mark starts a new count
        from t); call it every cycle while the thing is overdue."""
        if self.pid <= 0:
            return 0.0
        new = self._mark != mark
        if not new and cycle % SAMPLE_CYCLES:
            return self._starved_s
        sample = self._threads()
        cpus = self.cpus
        if cpus is not None:
            cpus.sample(t)
        if new:
            self._mark = mark
            self._starved_s = 0.0
            self.starved_now = False
        else:
            dt = t - self._sample_t_s
            before = self._sample
            self.starved_now = (any(tid in before and _starved(before[tid], now, dt) for tid, now in sample.items())
                                or (cpus is not None and any(cpus.frozen(now[3], t) for now in sample.values())))
            self.starved_now = self.starved_now and not self._stopping()
            if self.starved_now:
                self._starved_s += dt
                if self._starved_s > self.longest_s:
                    self.longest_s = self._starved_s
        self._sample_t_s = t
        self._sample = sample
        return self._starved_s
