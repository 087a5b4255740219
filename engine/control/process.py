"""The control core as its own process: start, run the fixed-rate loop, stop cleanly.

`start_core()` spawns a fresh interpreter (multiprocessing "spawn": no Panda3D or UI state is
inherited) that opens the devices, attaches the shared-memory channels, pins itself, asks for
SCHED_FIFO, freezes the garbage collector and runs `ControlCore.step` against absolute deadlines.
SIGTERM or SIGINT asks for a controlled stop (belt to zero at the prescribed deceleration,
exoskeleton to its safe mode); once the belt stands the devices are released and the process
exits 0. A second signal, or a stop that takes longer than STOP_TIMEOUT_S, releases at once.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import time

from engine.control.config import CoreConfig
from engine.control.cpu_freeze import FREEZE_REPORT_MIN_S

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0
PARENT_CHECK_CYCLES = 100  # look for the UI's death every 0.1 s (one getppid call)


class CoreHandle:
    """The app's handle on a running control core."""

    def __init__(self, process: multiprocessing.process.BaseProcess) -> None:
        self._process = process
        self.pid: int = process.pid

    def is_alive(self) -> bool:
        """True while the core process runs."""
        return self._process.is_alive()

    def stop(self, timeout_s: float = 3.0) -> int | None:
        """SIGTERM (controlled stop, then devices released); kill after timeout_s. Returns the
        exit code (None if it could not be reaped)."""
        if self._process.is_alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self._process.join(timeout_s)
            if self._process.is_alive():
                log.warning("control core %d did not stop in %.1f s: killing it", self.pid, timeout_s)
                self.kill()
        self._process.join(1.0)
        return self._process.exitcode

    def kill(self) -> None:
        """SIGKILL now (devices then stop on their own watchdogs)."""
        if self._process.is_alive():
            self._process.kill()
            self._process.join(1.0)


def start_core(config: CoreConfig, channel_paths: dict[str, str]) -> CoreHandle:
    """Spawn the control-core process on these channels; returns at once."""
    ctx = multiprocessing.get_context("spawn")
    process = ctx.Process(target=core_main, args=(config, dict(channel_paths)), name="stepsync-core", daemon=False)
    process.start()
    favour_start_up(process.pid)
    return CoreHandle(process)


# A child's start-up (Python, numpy, its imports: a few seconds of CPU) runs at this nice until it
# takes its real-time priority: at nice 0 beside a CPU hog at load 13-21 the core published no
# state within 20 s (test_ui_policy_core's set-up) or 10 s (bench session --hog, "the control
# core published no state within 10 s"). -10 is the UI's level (engine/render/app.py UI_NICE).
START_NICE = -10


def favour_start_up(pid: int) -> None:
    """Raise a just-started child to START_NICE where allowed (its real-time priority, if any,
    replaces this once it has started)."""
    try:
        if os.getpriority(os.PRIO_PROCESS, pid) > START_NICE:
            os.setpriority(os.PRIO_PROCESS, pid, START_NICE)
    except OSError:
        pass


def core_main(config: CoreConfig, channel_paths: dict[str, str]) -> int:
    """Entry point of the core process (also usable in-process by tests and benchmarks)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=getattr(logging, config.log_level, logging.INFO),
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from devices.discovery import open_devices
    from engine.control.channels import Channels
    from engine.control.core import ControlCore
    from engine.control.looptimer import acquire_realtime

    stop_flags = {"requests": 0}

    def on_signal(signum, frame) -> None:
        stop_flags["requests"] += 1

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    from devices.serial_link import KERNEL_WAIT_MIN_S, DeviceError

    channels = Channels.attach(channel_paths)
    try:
        devices = open_devices(config.ports)
    except DeviceError as exc:
        log.error("control core cannot start: %s", exc)
        channels.close(unlink=False)
        sys.exit(3)
    code = 0
    core = None
    reader = None
    try:
        granted, cpu = acquire_realtime(config.rt_priority, config.cpu)
        # After pinning: the reader thread shares the core's CPU and its priority, and takes the
        # reads' waits for the tty flip-buffer worker off the loop (docs/control.md, "Device
        # silence"). Not below it: any real-time task between the two (measured: bench session's
        # floor loop at 79) starved a reader at 78 for 20 ms while the core ran on time, and every
        # device looked silent. At one priority FIFO never preempts: the reader's pass over the
        # ports (tens of us) can only delay a cycle's start by that much.
        reader = devices.start_reader(config.rt_priority if granted else 0)
        core = ControlCore(config, channels, devices, rt_granted=granted)
        code = run_loop(core, config, stop_flags)
    finally:
        if reader is not None:
            log.info("port reader: %d reads waited in the kernel for the tty flip-buffer worker "
                     "(> %.0f ms), longest %.1f ms; %d passes began late, longest %.1f ms", reader.stalls,
                     KERNEL_WAIT_MIN_S * 1e3, reader.longest_stall_s * 1e3, reader.late_passes,
                     reader.longest_late_s * 1e3)
        limits = core.supervisor.limits if core is not None else None
        _release(devices, limits.max_decel_mps2 if limits is not None and limits.valid else 0.5)
        channels.close(unlink=False)
    return code


def run_loop(core, config: CoreConfig, stop_flags: dict) -> int:
    """Run core.step at config.rate_hz until stopped; returns the process exit code."""
    from engine.control.looptimer import DeadlineTimer, freeze_gc

    freeze_gc()  # before the first deadline is set: a full collection takes milliseconds
    timer = DeadlineTimer(1.0 / config.rate_hz, config.spin_us * 1e-6)
    clock = time.monotonic
    stop_started = 0.0
    max_cycles = config.max_cycles
    parent_pid = os.getppid()
    try:
        while True:
            lateness = timer.wait()
            start = timer.cycle_start_s
            core.step(start, lateness)
            core.finish_cycle(clock() - start)
            if core.cycle % PARENT_CHECK_CYCLES == 0 and os.getppid() != parent_pid and not stop_flags["requests"]:
                # The UI died (its heartbeat already stopped the belt): finish the controlled
                # stop, release the devices and exit, so the ports are free for the next start
                # and the recorder sees the core fall silent and closes.
                log.warning("control core: the UI process is gone; stopping")
                stop_flags["requests"] = 1
            requests = stop_flags["requests"]
            if requests:
                if stop_started == 0.0:
                    stop_started = start
                    core.request_stop()
                if core.is_at_rest() or requests > 1 or start - stop_started > STOP_TIMEOUT_S:
                    break
            if max_cycles and core.cycle >= max_cycles:
                break
    finally:
        import gc

        gc.enable()
    log.info(
        "control core stopped after %d cycles: %d overruns, %d missed, max lateness %.0f us; "
        "longest starvation left out of the UI's liveness beat %.0f ms, of the virtual rig's silence %.0f ms; "
        "longest lateness of the virtual rig's ticks left out %.1f ms; %d stalls of its own over %.0f ms, the "
        "longest %.0f ms (the hypervisor took %.0f ms of its CPU around it)",
        core.cycle, core.overruns, timer.missed, core.max_lateness_us, core.ui_starved.longest_s * 1e3,
        core.rig_starved.longest_s * 1e3, core.rig_late.longest_s * 1e3, core.own_freezes.count,
        FREEZE_REPORT_MIN_S * 1e3, core.own_freezes.longest_s * 1e3, core.own_freezes.longest_steal_s * 1e3,
    )
    return 0


def _release(devices, decel_mps2: float) -> None:
    """Exoskeleton to its safe mode, belt stop at the prescribed deceleration, ports closed."""
    try:
        devices.exoskeleton.safe_mode()
    except Exception:  # noqa: BLE001 - releasing must go on whatever a driver does
        log.exception("exoskeleton safe mode failed")
    try:
        devices.treadmill.stop(decel_mps2)
    except Exception:  # noqa: BLE001
        log.exception("treadmill stop failed")
    devices.close()
