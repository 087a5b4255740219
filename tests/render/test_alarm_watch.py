"""The UI's alarm thread: core lost and recorder failed raised without the frame loop."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from engine.control import layout
from engine.control.shm import SeqLockBlock
from engine.render.alarm_watch import UiAlarmWatch
from engine.render.alarms import CORE_LOST_AFTER_S, CoreWatch, RecorderWatch

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def state_block():
    block = SeqLockBlock.create(layout.STATE_DTYPE, "test-alarm-watch")
    try:
        yield block
    finally:
        block.close()


def _publish(block: SeqLockBlock, cycle: int, t_s: float) -> None:
    record = np.zeros((), layout.STATE_DTYPE)
    record["cycle"] = cycle
    record["t_s"] = t_s
    block.write(record)


class Raised:
    """on_raise hook that remembers what it was given and when."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.event = threading.Event()

    def __call__(self, alarm, now_s, details) -> None:
        self.calls.append((alarm, now_s, details, threading.current_thread().name))
        self.event.set()


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_core_lost_is_raised_once_by_the_thread_counting_from_the_core_last_cycle(state_block):
    raised = Raised()
    watch = UiAlarmWatch(state_block, CoreWatch(), lambda: None, raised)
    try:
        last_t_s = time.monotonic()
        _publish(state_block, 41, last_t_s)  # then the core stops publishing
        assert raised.event.wait(30.0), "no CORE_LOST"
        assert watch.checks > 0
        time.sleep(0.05)  # more checks while the core stays lost: no second alarm
    finally:
        watch.stop()
    assert len(raised.calls) == 1, raised.calls
    alarm, now_s, details, thread = raised.calls[0]
    assert thread == "ui-alarm-watch"  # not the caller's (frame loop's) thread
    assert alarm.reason == layout.AlarmReason.CORE_LOST and alarm.priority == layout.Priority.HIGH
    assert details == {"last_cycle": 41}
    assert now_s - last_t_s > CORE_LOST_AFTER_S  # never before the limit on the core's clock
    assert watch.core_watch.lost


def test_a_core_that_keeps_publishing_is_never_lost(state_block):
    raised = Raised()
    core = CoreWatch()
    watch = UiAlarmWatch(state_block, core, lambda: None, raised, period_s=0.001)
    try:
        # Checks are counted by the watch itself: wait for 50 of them, whatever the load.
        for cycle in range(1, 10_000):
            _publish(state_block, cycle, time.monotonic())
            time.sleep(0.002)
            if watch.checks >= 50:
                break
        assert watch.checks >= 50
    finally:
        watch.stop()
    assert raised.calls == [] and not core.lost


def test_recorder_death_is_raised_once_with_its_exit_code(state_block):
    proc = _sleeper()
    recorder = RecorderWatch(lambda: proc.poll() is None, proc.poll)
    raised = Raised()
    watch = UiAlarmWatch(state_block, CoreWatch(lost_after_s=1e9), lambda: recorder, raised)
    try:
        proc.send_signal(signal.SIGKILL)
        assert raised.event.wait(30.0), "no RECORDER_FAILED"
        time.sleep(0.05)
    finally:
        watch.stop()
        proc.wait()
    assert len(raised.calls) == 1
    alarm, now_s, details, _ = raised.calls[0]
    assert alarm.reason == layout.AlarmReason.RECORDER_FAILED and alarm.priority == layout.Priority.MEDIUM
    assert details == {"exit_code": -signal.SIGKILL}
    assert recorder.failed and recorder.failed_at_s == now_s


def test_a_retired_recorder_stopped_on_purpose_is_not_a_failure(state_block):
    proc = _sleeper()
    recorder = RecorderWatch(lambda: proc.poll() is None, proc.poll)
    raised = Raised()
    watch = UiAlarmWatch(state_block, CoreWatch(lost_after_s=1e9), lambda: recorder, raised, start=False)
    assert watch.check(1.0) == []
    recorder.retire()
    proc.kill()
    proc.wait()
    assert watch.check(2.0) == [] and raised.calls == [] and not recorder.failed
    # A new recorder that then dies is a failure again.
    second = _sleeper()
    recorder.retired = False
    recorder.watch(lambda: second.poll() is None, second.poll)
    second.kill()
    second.wait()
    assert [a.reason for a in watch.check(3.0)] == [layout.AlarmReason.RECORDER_FAILED]
