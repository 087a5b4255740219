"""The UI's own safety alarms, raised by a thread instead of the frame loop.

The therapist must see a high alarm within 200 ms of the control core's death (CORE_LOST) and
be told at once when the recorder exits (RECORDER_FAILED). Checked once a frame, at its start,
the alarm waited for the frame loop: on a loaded machine with a software renderer a frame took
up to 270 ms (p99), and the alarm came 227-516 ms after the fault (tests/faults/
test_app_faults.py, load 8-12). This thread checks every CHECK_PERIOD_S whatever the frame loop
is doing, raises the alarm (the `CoreWatch` / `RecorderWatch` state that the banner shows),
records it and wakes the frame loop, which then draws it.

Like the liveness beat (liveness.py) it runs at SCHED_FIFO BEAT_RT_PRIORITY where allowed (a
normal-priority thread waits behind a CPU hog for tens of milliseconds) and does microseconds of
work a period: a seqlock read of the state block's counter and a `poll()` of the recorder.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from engine.control import layout
from engine.render.alarms import CoreWatch, RecorderWatch, ShownAlarm
from engine.render.liveness import favour_watch_thread

log = logging.getLogger(__name__)

# 10 ms: the core is declared lost CORE_LOST_AFTER_S (100 ms) after its last cycle; a check every
# 10 ms adds at most that to the 200 ms the alarm may take.
CHECK_PERIOD_S = 0.01

# on_raise(alarm, now_s, details): called from this thread once per alarm raised.
RaiseHook = Callable[[ShownAlarm, float, dict], None]


class UiAlarmWatch:
    """A daemon thread that feeds `core_watch` from the state block and `recorder_of()` (the
    recorder watch of the moment, or None) and calls `on_raise` when either raises its alarm.

    It is the only writer of the two watches' alarm state (the frame loop reads them and sets
    `acked`)."""

    def __init__(self, state_block, core_watch: CoreWatch, recorder_of: Callable[[], RecorderWatch | None],
                 on_raise: RaiseHook, period_s: float = CHECK_PERIOD_S, start: bool = True) -> None:
        """start=False: no thread (tests call `check` by hand)."""
        self.state_block = state_block
        self.core_watch = core_watch
        self.recorder_of = recorder_of
        self.on_raise = on_raise
        self.period_s = period_s
        self.checks = 0
        self._state = np.zeros((), dtype=layout.STATE_DTYPE)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ui-alarm-watch", daemon=True)
        if start:
            self._thread.start()

    def check(self, now_s: float) -> list[ShownAlarm]:
        """One check (the thread's body; callable directly in tests): the alarms raised now."""
        raised = []
        try:
            self.state_block.read(self._state, timeout_s=0.002)
        except TimeoutError:
            pass  # a writer frozen mid-write: the counter stays where it was, and ages
        cycle = int(self._state["cycle"])
        was_lost = self.core_watch.lost
        if self.core_watch.update(cycle, now_s, float(self._state["t_s"])) and not was_lost:
            alarm = self.core_watch.alarm()
            if alarm is not None:
                raised.append(alarm)
                self._raise(alarm, now_s, {"last_cycle": cycle})
        recorder = self.recorder_of()
        if recorder is not None and recorder.update_newly_failed(now_s):
            alarm = recorder.alarm()
            if alarm is not None:
                raised.append(alarm)
                self._raise(alarm, now_s, {"exit_code": recorder.exit_code()})
        self.checks += 1
        return raised

    def _raise(self, alarm: ShownAlarm, now_s: float, details: dict) -> None:
        try:
            self.on_raise(alarm, now_s, details)
        except Exception:  # noqa: BLE001 - the alarm state is set; recording it is best effort
            log.exception("raising %s", layout.AlarmReason(alarm.reason).name)

    def _run(self) -> None:
        favour_watch_thread()
        # Absolute deadlines: a late wake-up does not push every later check back.
        next_s = time.monotonic()
        while True:
            next_s += self.period_s
            now = time.monotonic()
            if next_s < now:
                next_s = now
            if self._stop.wait(next_s - now):
                return
            self.check(time.monotonic())

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)
