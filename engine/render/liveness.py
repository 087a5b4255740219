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

Frozen time is what this thread saw (`FrozenClock`): while it cannot run itself (another thread
holds the GIL, and the main thread may be queued for it too) it learns nothing about the main
thread, so a late sample adds at most OBSERVED_GAP_MAX_S. Before, a UI whose main thread waited
on the GIL behind a preempted thread was taken for hung by the first sample after the wait (the
whole wait counted as frozen): this thread then named no UI process, which took away the time
the core gives a starved UI, and the core stopped a live session (docs/control.md, "A slow view
taken for a hung one").
"""

from __future__ import annotations

import faulthandler
import gc
import logging
import os
import sys
import threading
import time

log = logging.getLogger(__name__)

BEAT_RT_PRIORITY = 10  # SCHED_FIFO for this thread alone: below the rig (50) and the core (80)
HUNG_S = 0.06  # frozen this long outside a long stage: hung (the core stops 100 ms after the last beat)
BEAT_PERIOD_S = 0.02
# The most one sample adds to the frozen time: a sample this thread takes late (it waited for the
# GIL or a CPU) says nothing about the time it could not look. 1.5 periods: an on-time sample
# (20 ms plus its wake-up) counts whole, so a hang is judged after HUNG_S as before.
OBSERVED_GAP_MAX_S = 1.5 * BEAT_PERIOD_S
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


def freeze_collector() -> int:
    """Before the belt moves (the core ignores the beat then): one full collection, then every
    object alive now (modules, Panda3D's wrappers, the world, the app) moved out of the cyclic
    collector's sight (`gc.freeze`); returns how many.

    A collection holds the GIL from start to end, and this thread cannot beat meanwhile: a full
    one walked the ~150 000 objects of the UI process (measured: 23-59 ms of CPU, 0.3 s of wall
    time on the loaded 2-CPU VM), close to the core's 100 ms. Frozen, a walk's collections see
    only what the walk itself made."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def thaw_collector() -> None:
    """After the belt stopped: the frozen objects back to the collector (the menu's process lives
    on across sessions; what died meanwhile is collected again)."""
    gc.unfreeze()


class FrozenClock:
    """How long the main thread has been seen frozen: the sum, over this thread's samples since
    it last moved, of each sample's interval (at most `gap_max_s`) less the time the main thread
    spent waiting for a CPU in it (a starved loop is slow, not hung)."""

    def __init__(self, gap_max_s: float = OBSERVED_GAP_MAX_S) -> None:
        self.gap_max_s = gap_max_s
        self.frozen_s = 0.0
        self._last_s: float | None = None
        self._last_wait_s: float | None = None

    def observe(self, now_s: float, moved: bool, runqueue_wait_s: float | None) -> float:
        """One sample: `moved` when the main thread progressed (or is in a long stage) since the
        last one; `runqueue_wait_s` its total run-queue wait so far (None: unknown). Returns the
        frozen time."""
        if moved or self._last_s is None:
            self.frozen_s = 0.0
        else:
            seen_s = min(now_s - self._last_s, self.gap_max_s)
            starved_s = 0.0
            if runqueue_wait_s is not None and self._last_wait_s is not None:
                starved_s = max(0.0, runqueue_wait_s - self._last_wait_s)
            self.frozen_s += max(0.0, seen_s - starved_s)
        self._last_s = now_s
        self._last_wait_s = runqueue_wait_s
        return self.frozen_s


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
        clock = FrozenClock(1.5 * self.period_s)  # = OBSERVED_GAP_MAX_S at the default period
        clock.observe(time.monotonic(), True, self._runqueue_wait_s())
        # Diagnosis (STEPSYNC_LIVENESS_DUMP=1): when this thread itself cannot run for 90 ms (C
        # code holding the GIL), faulthandler's C watchdog prints every thread's stack.
        dump = os.environ.get("STEPSYNC_LIVENESS_DUMP") == "1"
        while not self._stop.wait(self.period_s):
            if dump:
                faulthandler.dump_traceback_later(0.09, exit=False)
            now = time.monotonic()
            where = self._where()
            moved = where != last or self.stage in LONG_STAGES
            last = where
            # Frozen time excludes the time the main thread was runnable but got no CPU: a main
            # loop starved by a loaded machine is slow, not hung (its view is graded by the core).
            # Measured: under a hog on every CPU the main thread sat preempted at one instruction
            # for 162 ms and this beat stopped a live UI. Nor does it count the time this thread
            # could not look (FrozenClock). Blocked (a deadlock, a call that never returns) or
            # running C code without progress still counts.
            frozen_s = clock.observe(now, moved, self._runqueue_wait_s())
            if frozen_s <= self.hung_s:
                if self.hung_since_s is not None:
                    self._vouch(True)
                self.writer.heartbeat()
                self.beats += 1
                self.hung_since_s = None
            elif self.hung_since_s is None:
                self.hung_since_s = now - frozen_s
                # Judged hung: the core is told this process no longer vouches for itself (no UI
                # pid), so it does not give the silent beat the time it gives a starved UI
                # (engine/control/starvation.py): a hung loop stops 100 ms after the last beat.
                self._vouch(False)
                log.warning("UI main loop frozen for %.0f ms (%s): liveness beat stopped",
                            frozen_s * 1000.0, self._describe())
        if dump:
            faulthandler.cancel_dump_traceback_later()

    def _vouch(self, alive: bool) -> None:
        """Name this process to the core as the UI again, or name none while judged hung."""
        set_ui_pid = getattr(self.writer, "set_ui_pid", None)
        if set_ui_pid is not None:
            set_ui_pid(os.getpid() if alive else 0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        faulthandler.cancel_dump_traceback_later()  # after the join: the thread re-arms it each sample
