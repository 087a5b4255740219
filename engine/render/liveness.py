"""The UI's liveness beat: how the control core tells a hung UI from a slow one.

The UI sends the core two beats (docs/control.md, "A slow patient view"):
- the frame counter (`CommandWriter.frame`), bumped after each patient-view frame is drawn; the
  core grades its age (supervisor.ViewPolicy): late -> belt slowed, stale beyond a limit -> stop;
- the liveness beat (`CommandWriter.heartbeat`), from the `MainLoopWatch` thread here every
  20 ms, as long as the process runs and its main loop is not hung. The core stops the belt
  100 ms after the last one (and at once when the process is gone: it watches a pidfd).

"Hung" is judged from the main thread's progress: the thread samples where the main thread is
(its innermost Python frame and instruction) and which stage of the frame loop it is in. A main
thread that executes Python, or that sits in a stage known to make one long call into Panda3D
(drawing, building scenery, the pacing sleep), is progressing however slowly: that is a slow
view, for the core to grade. A main thread frozen anywhere else for HUNG_S (a deadlock, a
blocking call in a menu handler, a wait that never returns) is hung: the beat stops. SIGSTOP
stops this thread with the process, a crash ends it, and C code that holds the GIL starves it:
all of those fail safe (no beat).
"""

from __future__ import annotations

import faulthandler
import logging
import os
import sys
import threading
import time

log = logging.getLogger(__name__)

BEAT_RT_PRIORITY = 10  # SCHED_FIFO for this thread alone: below the rig (50) and the core (80)
HUNG_S = 0.06  # frozen this long outside a long stage: hung (the core stops 100 ms after the last beat)
BEAT_PERIOD_S = 0.02
# Stages in which the main thread makes one long call into C (it does not run Python meanwhile).
LONG_STAGES = frozenset({"start", "pace", "world", "draw", "covered"})


def favour_watch_thread() -> None:
    """Run the calling thread (only) at SCHED_FIFO BEAT_RT_PRIORITY, else nice -10, where allowed.

    For the UI's watch threads (this liveness beat, alarm_watch.UiAlarmWatch): they wake every
    10-20 ms for microseconds of work; at real-time priority they get a CPU at once and ask for
    the GIL, which Python then hands over within its 5 ms switch interval."""
    tid = threading.get_native_id()
    try:
        os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(BEAT_RT_PRIORITY))
        return
    except (OSError, AttributeError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, tid, -10)
    except OSError:
        pass


class MainLoopWatch:
    """A daemon thread beating `writer.heartbeat()` while the main loop is alive."""

    def __init__(self, writer, hung_s: float = HUNG_S, period_s: float = BEAT_PERIOD_S) -> None:
        self.writer = writer
        self.hung_s = hung_s
        self.period_s = period_s
        self.stage = "start"
        self._stage_count = 0
        self.hung_since_s: float | None = None  # for tests and logs: when the beat stopped
        self.beats = 0
        self._main_ident = threading.main_thread().ident
        # The main thread's scheduler statistics: time it spent runnable but waiting for a CPU.
        self._schedstat_path = f"/proc/self/task/{threading.main_thread().native_id}/schedstat"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ui-liveness", daemon=True)
        self._thread.start()

    def enter(self, stage: str) -> None:
        """The main thread enters a stage of its frame loop (cheap: two attribute writes)."""
        self.stage = stage
        self._stage_count += 1

    def _where(self) -> tuple:
        frame = sys._current_frames().get(self._main_ident)
        if frame is None:
            return (None,)
        return (id(frame.f_code), frame.f_lasti, self._stage_count)

    def _describe(self) -> str:
        frame = sys._current_frames().get(self._main_ident)
        if frame is None:
            return "no main thread"
        return f"stage {self.stage!r}, {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"

    def _runqueue_wait_s(self) -> float | None:
        """The main thread's total wait on a run queue (runnable, no CPU), or None if unknown."""
        try:
            with open(self._schedstat_path) as f:
                return int(f.read().split()[1]) * 1e-9
        except (OSError, ValueError, IndexError):
            return None

    def _favour_this_thread(self) -> None:
        """Measured: under a CPU hog, with the scenery builder thread and the main thread both
        busy, this thread waited over 90 ms for a CPU and the GIL (faulthandler stacks in the
        soak) and a live UI was stopped as dead (see favour_watch_thread)."""
        favour_watch_thread()

    def _run(self) -> None:
        self._favour_this_thread()
        last = self._where()
        changed_s = time.monotonic()
        wait_at_change = self._runqueue_wait_s()
        # Diagnosis (STEPSYNC_LIVENESS_DUMP=1): when this thread itself cannot run for 90 ms (C
        # code holding the GIL), faulthandler's C watchdog prints every thread's stack.
        dump = os.environ.get("STEPSYNC_LIVENESS_DUMP") == "1"
        while not self._stop.wait(self.period_s):
            if dump:
                faulthandler.dump_traceback_later(0.09, exit=False)
            now = time.monotonic()
            where = self._where()
            wait = self._runqueue_wait_s()
            if where != last or self.stage in LONG_STAGES:
                last = where
                changed_s = now
                wait_at_change = wait
            # Frozen time excludes the time the main thread was runnable but got no CPU: a main
            # loop starved by a loaded machine is slow, not hung (its view is graded by the core).
            # Measured: under a hog on every CPU the main thread sat preempted at one instruction
            # for 162 ms and this beat stopped a live UI. Blocked (a deadlock, a call that never
            # returns) or running C code without progress still counts.
            starved_s = wait - wait_at_change if wait is not None and wait_at_change is not None else 0.0
            if now - changed_s - starved_s <= self.hung_s:
                if self.hung_since_s is not None:
                    self._vouch(True)
                self.writer.heartbeat()
                self.beats += 1
                self.hung_since_s = None
            elif self.hung_since_s is None:
                self.hung_since_s = changed_s
                # Judged hung: the core is told this process no longer vouches for itself (no UI
                # pid), so it does not give the silent beat the time it gives a starved UI
                # (engine/control/starvation.py): a hung loop stops 100 ms after the last beat.
                self._vouch(False)
                log.warning("UI main loop frozen for %.0f ms (%s): liveness beat stopped",
                            (now - changed_s) * 1000.0, self._describe())

    def _vouch(self, alive: bool) -> None:
        """Name this process to the core as the UI again, or name none while judged hung."""
        set_ui_pid = getattr(self.writer, "set_ui_pid", None)
        if set_ui_pid is not None:
            set_ui_pid(os.getpid() if alive else 0)

    def stop(self) -> None:
        faulthandler.cancel_dump_traceback_later()
        self._stop.set()
        self._thread.join(timeout=1.0)
