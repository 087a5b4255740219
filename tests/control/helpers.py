"""Shared pieces of the control-core tests: a real rig + real core process session."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from devices.sim.rig import start_rig
from engine.control import layout
from engine.control.channels import Channels
from engine.control.commands import CommandWriter
from engine.control.config import CoreConfig
from engine.control.prescription import Prescription
from engine.control.process import start_core
from engine.control.supervisor import STOP_REASONS
from engine.render.liveness import BEAT_RT_PRIORITY

# The rig's profiles: leg length (thigh + shank + foot height) for the prescription.
LEG_LENGTH_M = {"healthy": 0.98, "hemiparetic-right": 0.95, "hemiparetic-left": 0.95}

# The stops a loaded machine can cause on a healthy session: the core, the virtual rig or the
# test's UI stand-in starved (device silence, loop overruns, the UI's liveness beat), no device
# and no UI failing. A test whose subject is not one of these safety paths walks again after
# one (`walk_again_on_load_stop`); a test of the safety path itself must not, so that it keeps
# failing when the alarm is wrong.
LOAD_ALARMS = frozenset({
    layout.AlarmReason.TREADMILL_SILENT,
    layout.AlarmReason.EXO_SILENT,
    layout.AlarmReason.INSOLES_SILENT,
    layout.AlarmReason.LOOP_OVERRUNS,
    layout.AlarmReason.UI_HEARTBEAT_LOST,
    # the devices' own watchdogs: the host's commands held up (the tty worker starved)
    layout.AlarmReason.TREADMILL_WATCHDOG,
    layout.AlarmReason.EXO_WATCHDOG,
})
# Load alarms only beside a device-silence alarm: an exoskeleton heard from no more for 150 ms
# also reads as a frozen sensor.
_WITH_SILENCE = frozenset({layout.AlarmReason.SENSOR_FROZEN})
_SILENCE = frozenset({layout.AlarmReason.TREADMILL_SILENT, layout.AlarmReason.EXO_SILENT,
                      layout.AlarmReason.INSOLES_SILENT})
LOAD_STOP_TRIES = 3  # live runs in a row (ac69812's rule for the simulate test)
_T = TypeVar("_T")


class LoadStop(RuntimeError):
    """The live session stopped itself on a load alarm (`alarms`): the run says nothing about
    the test's subject; walk again (`walk_again_on_load_stop`)."""

    def __init__(self, alarms: list[str], where: str = "") -> None:
        super().__init__(f"the session stopped on a load alarm {alarms}{' ' + where if where else ''}")
        self.alarms = alarms


def load_stop_alarms(state: np.ndarray) -> list[str]:
    """The load alarms a stopping or stopped session raised (any slot, also one cleared since: a
    late device that resumed clears its alarm, yet it stopped the belt); [] while it runs, or
    when another stop reason was raised too (a fault, the e-stop, a stop request: not load)."""
    if int(state["run_state"]) not in (layout.RunState.STOPPING, layout.RunState.STOPPED):
        return []
    raised = {int(a["reason"]) for a in state["alarms"] if a["reason"]}
    load = LOAD_ALARMS | (_WITH_SILENCE if raised & _SILENCE else frozenset())
    if raised & {int(r) for r in STOP_REASONS - load}:
        return []
    return sorted(layout.AlarmReason(r).name for r in raised & {int(r) for r in load})


def walk_again_on_load_stop(attempt: Callable[[], _T], tries: int = LOAD_STOP_TRIES) -> _T:
    """attempt() is one whole live run (its own Session, closed before it returns); a LoadStop
    from it walks again, at most `tries` runs; `tries` load stops in a row fail the test."""
    stops = []
    for _ in range(tries):
        try:
            return attempt()
        except LoadStop as exc:
            stops.append(exc.alarms)
            print(f"walking again: {exc}", flush=True)
    raise AssertionError(f"{tries} live runs in a row stopped on a load alarm (machine overloaded): {stops}")


class Heartbeat:
    """A UI stand-in thread: heartbeats every 10 ms until stopped; remembers the last one."""

    def __init__(self, writer: CommandWriter) -> None:
        self.writer = writer
        self.last_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        # The core watches this process as the UI (its pidfd, and its main thread's state when a
        # beat is overdue): this thread needs the GIL to beat, and a test's main thread preempted
        # while holding it on a loaded machine is a starved UI, not a dead one (core.py,
        # UI_STARVED_MAX_S; the disk-full case stopped with UI_HEARTBEAT_LOST that way).
        writer.set_ui_pid(os.getpid())
        self._thread.start()

    def _run(self) -> None:
        # Like the real UI's liveness beat (engine/render/liveness.py): SCHED_FIFO for this
        # thread alone, or normal-priority load on a busy test machine starves it past the
        # core's 100 ms limit and a test of something else ends in a heartbeat stop.
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(BEAT_RT_PRIORITY))
        except (OSError, AttributeError):
            pass
        while not self._stop.is_set():
            self.writer.heartbeat()
            self.last_s = time.monotonic()
            self._stop.wait(0.01)

    def stop(self) -> float:
        """Stop heartbeating; returns time.monotonic() of the last heartbeat written."""
        self._stop.set()
        self._thread.join(1.0)
        return self.last_s


class Session:
    """Rig process + core process + channels + a heartbeat thread; close() cleans all up."""

    def __init__(self, profile: str = "healthy", seed: int = 1, rx: Prescription | None = None,
                 device_silence_s: float | None = None, load_stop_raises: bool = False) -> None:
        """device_silence_s: a looser silence limit for tests of measurement, not of safety (a
        rig starved by other real-time work on a shared test machine must not end them).
        load_stop_raises: `wait_for` raises LoadStop as soon as the session stopped itself on a
        load alarm (for tests that walk again, `walk_again_on_load_stop`)."""
        self.load_stop_raises = load_stop_raises
        self.rig = start_rig(profile, seed=seed)
        # The rig stands in for hardware, which a busy test machine cannot starve: give it a
        # real-time priority below the core's, or a starved rig trips the 20 ms silence check.
        try:
            os.sched_setscheduler(self.rig.pid, os.SCHED_FIFO, os.sched_param(50))
        except (OSError, AttributeError):
            pass
        self.channels = Channels.create()
        self.writer = CommandWriter(self.channels.command)
        self.heartbeat = Heartbeat(self.writer)
        leg = LEG_LENGTH_M.get(profile, 0.95)
        self.rx = rx or Prescription(leg_length_l_m=leg, leg_length_r_m=leg)
        self.writer.set_prescription(self.rx)
        self.core = None
        self.events: list[np.ndarray] = []
        self.telemetry: list[np.ndarray] = []
        try:
            config = CoreConfig(ports=self.rig.ports, sim_rig_pid=self.rig.pid)
            if device_silence_s is not None:
                config.device_silence_s = device_silence_s
            self.core = start_core(config, self.channels.paths())
            # A core's start-up (a fresh interpreter, numpy, its imports) took over 20 s at load
            # 8-14 (the lead's full run: test_insoles_core's set-up timed out): wait for it longer.
            self.wait_for(lambda s: s["core_pid"] != 0 and s["cycle"] > 50, 60.0)
        except BaseException:
            self.close()
            raise

    def state(self) -> np.ndarray:
        return self.channels.state.read()

    def wait_for(self, predicate, timeout_s: float) -> np.ndarray:
        """Poll the state block (draining the rings) until predicate(state) or TimeoutError."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.drain()
            state = self.state()
            if predicate(state):
                return state
            if self.load_stop_raises:
                stopped_on = load_stop_alarms(state)
                if stopped_on:
                    raise LoadStop(stopped_on, f"(cycle {int(state['cycle'])})")
            if time.monotonic() > deadline:
                alarms = [layout.AlarmReason(int(a["reason"])).name for a in state["alarms"] if a["reason"]]
                raise TimeoutError(
                    f"condition not met in {timeout_s} s; run_state {int(state['run_state'])}, alarms {alarms}"
                )
            if self.core is not None and not self.core.is_alive():
                raise RuntimeError("control core died")
            time.sleep(0.01)

    def run_for(self, seconds: float) -> None:
        """Keep draining the rings for this long."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.drain()
            if self.load_stop_raises:
                stopped_on = load_stop_alarms(self.state())
                if stopped_on:
                    raise LoadStop(stopped_on)
            time.sleep(0.02)

    def drain(self) -> None:
        self.events.append(self.channels.events.drain())
        self.telemetry.append(self.channels.telemetry.drain())

    def all_events(self) -> np.ndarray:
        self.drain()
        return np.concatenate(self.events) if self.events else np.zeros(0, layout.EVENT_DTYPE)

    def all_telemetry(self) -> np.ndarray:
        self.drain()
        return np.concatenate(self.telemetry) if self.telemetry else np.zeros(0, layout.TELEMETRY_DTYPE)

    def close(self) -> None:
        self.heartbeat.stop()
        try:
            if self.core is not None:
                if self.core.stop(timeout_s=6.0) is None:
                    self.core.kill()
        finally:
            try:
                self.rig.stop()
            finally:
                self.channels.close()


def timeline_rows(*rows: dict) -> np.ndarray:
    """TIMELINE_DTYPE rows from dicts (missing fields 0)."""
    table = np.zeros(len(rows), dtype=layout.TIMELINE_DTYPE)
    for i, row in enumerate(rows):
        for key, value in row.items():
            table[i][key] = value
    return table
