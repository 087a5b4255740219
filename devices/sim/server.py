"""The virtual rig's process: patient, belt and exoskeleton on pseudo-terminals, paced in real time.

One loop, one thread: every TICK_S it reads what the host sent, runs the watchdogs, steps the
belt and the patient, and writes status frames (exoskeleton every tick = 500 Hz, treadmill every
second tick = 250 Hz, insoles at 200 Hz, heart rate once a second). It sleeps to absolute deadlines, and also wakes
at the earliest watchdog deadline so a trip happens on time, not at the next tick.

Run as a child by `devices.sim.rig.start_rig` (`python -m devices.sim.server --control-fd N`,
JSON lines on a socket) or in-process by `python main.py rig` (text commands on stdin).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import socket
import sys
import time

from devices.base import FaultCode, JointMode
from devices.sim.endpoint import Endpoint
from devices.sim.firmware import ExoFirmware, HeartRateFirmware, TreadmillFirmware
from devices.sim.insole_firmware import InsoleFirmware
from devices.sim.patient import PatientModel
from devices.sim.profiles import load_profile
from devices.sim.rig_clock import TICK_S, RigClockWriter

log = logging.getLogger(__name__)

# TICK_S (2 ms): the loop's period, defined with the tick clock that publishes it.
TREADMILL_EVERY = 2  # ticks
HR_PERIOD_S = 1.0
ORPHAN_IDLE_S = 1.0  # control channel closed: stop once the host has been silent this long
ORPHAN_MAX_S = 30.0  # and at the latest after this long
LATE_LOG_S = 0.01  # a tick this late is logged (at most once a second)
LATE_RESET_S = 0.05  # a loop this late (machine stalled) restarts its schedule from now

DEVICES = ("treadmill", "exoskeleton", "heart_rate", "insoles")
ALIASES = {"tm": "treadmill", "exo": "exoskeleton", "hr": "heart_rate", "heart-rate": "heart_rate", "ins": "insoles"}
FAULTS = ("cut", "restore", "corrupt", "stall", "unstall", "freeze", "unfreeze", "estop", "motor_fault")


class Rig:
    """Everything the rig process simulates; `run()` paces it until `stop()`."""

    def __init__(self, profile: str = "healthy", seed: int = 0,
                 exo_safe_mode: JointMode = JointMode.TRANSPARENT, endpoint_factory=Endpoint) -> None:
        """endpoint_factory(name, rng) makes each device's link end: a pseudo-terminal here, an
        in-memory one for `simulate` (engine/sim), which steps tick() on its own clock."""
        self.profile = load_profile(profile)
        self.seed = seed
        rng = random.Random(seed * 104729 + 17)  # line faults: separate from the patient's draws
        self.patient = PatientModel(self.profile, seed)
        self.endpoints = {name: endpoint_factory(name, random.Random(rng.random())) for name in DEVICES}
        serial = f"{seed:04d}"
        self.treadmill = TreadmillFirmware(self.endpoints["treadmill"], f"SIM-TM-{serial}", self.profile.body_mass_kg)
        self.treadmill.patient = self.patient  # the distance sensor sees the patient
        self.exo = ExoFirmware(self.endpoints["exoskeleton"], f"SIM-EXO-{serial}", self.patient, exo_safe_mode)
        self.hr = HeartRateFirmware(self.endpoints["heart_rate"], f"SIM-HR-{serial}", self.patient)
        self.insoles = InsoleFirmware(self.endpoints["insoles"], f"SIM-INS-{serial}", self.patient,
                                      random.Random(seed * 15485863 + 29))
        self.firmware = {"treadmill": self.treadmill, "exoskeleton": self.exo, "heart_rate": self.hr,
                         "insoles": self.insoles}
        self._firmware_order = tuple(self.firmware.values())  # tick() runs them in this order
        for name, fw in self.firmware.items():
            # Pseudo-terminals only: the host's bytes may wait in the kernel (Firmware.check_watchdog).
            fw.kernel_wait_before_trip = isinstance(self.endpoints[name], Endpoint)
        self.injections: list[dict] = []
        self.ticks = 0
        self.max_lateness_s = 0.0
        self._late_logged_s = -1e9
        self.started_s = time.monotonic()
        self._t_prev: float | None = None
        self._next_hr_s = 0.0
        self._running = False
        self.orphaned = False  # the control channel closed (see ControlChannel.poll)
        self.orphaned_at_s: float | None = None

    @property
    def ports(self) -> dict[str, str]:
        """Device role -> pseudo-terminal path the host opens."""
        return {name: ep.path for name, ep in self.endpoints.items()}

    # ---------------------------------------------------------------- the loop
    def tick(self, now_s: float, full: bool = True) -> None:
        """Read commands and run watchdogs; with full, also step physics and send status."""
        for fw in self._firmware_order:
            fw.receive(now_s)
            fw.check_watchdog(now_s)
        if not full:
            return
        dt = 0.0 if self._t_prev is None else now_s - self._t_prev
        self._t_prev = now_s
        self.treadmill.physics(dt)
        drive = self.exo.drive()  # (the same object until a command arrives or the state changes)
        self.patient.step(now_s, self.treadmill.speed_mps, drive,
                          self.treadmill.bws_fraction, held=self.exo.holding)
        self.exo.send_status(now_s)
        if self.insoles.sample(now_s, self.treadmill.speed_mps, drive.clearance_boost):
            self.insoles.send_status(now_s)
        if self.ticks % TREADMILL_EVERY == 0:
            self.treadmill.send_status(now_s)
        if now_s >= self._next_hr_s:
            self.hr.sample()
            self.hr.send_status(now_s)
            self._next_hr_s = now_s + HR_PERIOD_S
        self.ticks += 1

    def run(self, poll_control=None, control_every: int = 10, clock: RigClockWriter | None = None) -> None:
        """Pace ticks against absolute deadlines until stop(); poll_control() every few ticks.
        clock: the tick clock the core reads (made here when not given; closed at the end)."""
        self._running = True
        sched = _SchedClock()
        if clock is None:
            clock = open_tick_clock()
        try:
            self._loop(poll_control, control_every, sched, clock)
        finally:
            sched.close()
            if clock is not None:
                clock.close()

    def _loop(self, poll_control, control_every: int, sched: _SchedClock, clock: RigClockWriter | None) -> None:
        next_tick = time.monotonic()
        while self._running:
            now = time.monotonic()
            if now >= next_tick:
                late = now - next_tick
                ran_s, waited_s = sched.since_last()
                if late > self.max_lateness_s:
                    self.max_lateness_s = late
                if late > LATE_LOG_S and now - self._late_logged_s > 1.0:
                    # The devices fall silent with it: say so where the core's silence alarm is,
                    # and where the time went (a starved rig waits for a CPU; a busy one runs).
                    self._late_logged_s = now
                    log.warning("rig tick %.1f ms late (the virtual devices sent nothing meanwhile); since the "
                                "last tick it ran %.1f ms and waited %.1f ms for a CPU", late * 1e3,
                                ran_s * 1e3, waited_s * 1e3)
                if clock is not None:
                    clock.mark(now)  # the core times the devices' silence from the rig's ticks
                self.tick(now)
                next_tick += TICK_S
                if now - next_tick > LATE_RESET_S:
                    next_tick = now + TICK_S
                if poll_control is not None and self.ticks % control_every == 0:
                    if not self.orphaned:
                        poll_control()
                    elif self._host_gone(now):
                        log.info("orphaned rig: the host fell silent; stopping")
                        self.stop()
                continue
            # sleep to the next tick, or to a watchdog deadline if that comes first
            wake = next_tick
            for fw in (self.treadmill, self.exo, self.insoles):
                deadline = fw.watchdog_deadline_s()
                if deadline is not None and deadline < wake:
                    wake = deadline
            if wake > now:
                time.sleep(wake - now)
            if wake < next_tick:
                self.tick(time.monotonic(), full=False)

    def _host_gone(self, now_s: float) -> bool:
        """Orphaned and no valid command from the host for ORPHAN_IDLE_S (at most ORPHAN_MAX_S)."""
        if self.orphaned_at_s is None:
            self.orphaned_at_s = now_s
        last_cmd_s = max(self.treadmill.last_valid_cmd_s or 0.0, self.exo.last_valid_cmd_s or 0.0, self.orphaned_at_s)
        return now_s - last_cmd_s > ORPHAN_IDLE_S or now_s - self.orphaned_at_s > ORPHAN_MAX_S

    def stop(self) -> None:
        self._running = False

    def close(self) -> None:
        for ep in self.endpoints.values():
            ep.close()

    # ---------------------------------------------------------------- control
    def inject(self, fault: str, device: str = "all", **params) -> None:
        """Apply one fault (see FAULTS); raises ValueError on a bad name or parameter."""
        now = time.monotonic()
        device = ALIASES.get(device, device)
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        if device == "all":
            targets = list(DEVICES) if fault != "estop" else ["treadmill", "exoskeleton"]
        elif device in DEVICES:
            targets = [device]
        else:
            raise ValueError(f"unknown device {device!r}; known: {', '.join(DEVICES)}, all")
        for name in targets:
            ep, fw = self.endpoints[name], self.firmware[name]
            if fault == "cut":
                ep.cut = True
            elif fault == "restore":
                ep.cut = False
            elif fault == "corrupt":
                fraction = float(params.get("fraction", 0.01))
                if not 0.0 <= fraction <= 1.0:
                    raise ValueError("corrupt fraction must be within 0..1")
                ep.corrupt_fraction = fraction
            elif fault == "stall":
                ep.stalled = True
            elif fault == "unstall":
                ep.stalled = False
            elif fault == "freeze":
                fw.set_frozen(True)
            elif fault == "unfreeze":
                fw.set_frozen(False)
            elif fault == "estop":
                if name in ("heart_rate", "insoles"):
                    raise ValueError(f"the {name.replace('_', '-')} device has no e-stop input")
                fw.set_estop(now, bool(params.get("pressed", True)))
            elif fault == "motor_fault":
                if name in ("heart_rate", "insoles"):
                    raise ValueError(f"the {name.replace('_', '-')} device has no motor")
                fw.set_fault(now, FaultCode.MOTOR, bool(params.get("on", True)))
        self.injections.append({"t_s": now, "fault": fault, "device": device, **params})
        log.info("injected %s on %s %s", fault, device, params or "")

    def status(self) -> dict:
        """Device-side truth, per device, plus loop health."""
        return {
            "t_s": time.monotonic(),
            "treadmill": self.treadmill.state(),
            "exoskeleton": self.exo.state(),
            "heart_rate": self.hr.state(),
            "insoles": self.insoles.state(),
            "loop": {
                "ticks": self.ticks,
                "max_lateness_s": self.max_lateness_s,
                "cpu_s": time.process_time(),
                "wall_s": time.monotonic() - self.started_s,
            },
        }

    def ground_truth(self) -> dict:
        """What really happened: gait events, steps, toe clearance, belt displacement, faults."""
        truth = self.patient.ground_truth()
        truth["belt_displacement_m"] = self.treadmill.belt_m
        truth["encoder_m_per_count"] = 1e-5
        truth["injections"] = list(self.injections)
        truth["device_log"] = {name: list(fw.log) for name, fw in self.firmware.items()}
        truth["haptic"] = [dict(c) for c in self.insoles.haptic]  # cues the patient felt (INSOLE_HAPTIC)
        return truth

    def show_scene(self, obstacles) -> None:
        """Show the patient the running scene's obstacles (simulation side only: the devices'
        wire protocol never carries the scene). The belt's position now is route s = 0."""
        self.patient.show_scene(obstacles)

    def handle(self, request: dict) -> object:
        """Answer one control request (the JSON protocol between RigHandle and this process)."""
        op = request.get("op")
        if op == "inject":
            self.inject(request["fault"], request.get("device", "all"), **request.get("params", {}))
            return None
        if op == "status":
            return self.status()
        if op == "ground_truth":
            return self.ground_truth()
        if op == "show_scene":
            self.show_scene(request.get("obstacles", []))
            return None
        if op == "intent":
            # the patient's intended speed from now on: [(t_s from now, speed_mps), ...]; [] = own
            from devices.sim.intent import IntentSchedule

            points = request.get("points") or []
            now = self.patient.t_s or 0.0
            self.patient.intent_schedule = IntentSchedule(points).shifted(now) if points else None
            return None
        if op == "lag":
            # The loop asleep past its ticks, like a rig its machine delays (RigHandle.lag).
            ms = float(request.get("ms", 0.0))
            if not 0.0 <= ms <= 1000.0:
                raise ValueError("lag ms must be within 0..1000")
            time.sleep(ms * 1e-3)
            return None
        if op == "stop":
            self.stop()
            return None
        raise ValueError(f"unknown op {op!r}")


def open_tick_clock() -> RigClockWriter | None:
    """The rig's tick clock for the core (devices/sim/rig_clock.py); None where it cannot be made."""
    try:
        return RigClockWriter()
    except OSError as exc:
        log.warning("no tick clock for the core (%s): a late rig looks like silent devices", exc)
        return None


class _SchedClock:
    """The loop thread's CPU time and run-queue wait from /proc/thread-self/schedstat (zeros
    where there is none): what a late tick spent running and what it spent waiting for a CPU."""

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        except OSError:
            self._fd = None
        self._last = self._read()

    def _read(self) -> tuple[int, int]:
        if self._fd is None:
            return 0, 0
        try:
            run_ns, wait_ns = os.pread(self._fd, 64, 0).split()[:2]
            return int(run_ns), int(wait_ns)
        except (OSError, ValueError):
            return 0, 0

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def since_last(self) -> tuple[float, float]:
        """(seconds run, seconds waited for a CPU) since the previous call."""
        now = self._read()
        last, self._last = self._last, now
        return (now[0] - last[0]) * 1e-9, (now[1] - last[1]) * 1e-9


class ControlChannel:
    """JSON lines over a socket from RigHandle; EOF (the parent died) stops the rig."""

    def __init__(self, sock: socket.socket, rig: Rig) -> None:
        self.sock = sock
        self.rig = rig
        self._buf = b""
        sock.setblocking(False)

    def send(self, obj: dict) -> None:
        data = (json.dumps(obj) + "\n").encode()
        self.sock.settimeout(5.0)
        try:
            self.sock.sendall(data)
        finally:
            self.sock.setblocking(False)

    def poll(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            # The parent (a test, or the app) is gone. Real devices would go on serving the
            # control core through its controlled stop: keep running until the host has sent
            # nothing for ORPHAN_IDLE_S (the core released the devices or died), then stop, so
            # a crashed parent never leaves a rig running.
            if not self.rig.orphaned:
                log.info("control channel closed: running until the host falls silent")
                self.rig.orphaned = True
            return
        self._buf += chunk
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            request = json.loads(line)
            try:
                reply = {"id": request.get("id"), "ok": True, "result": self.rig.handle(request)}
            except (ValueError, KeyError, TypeError) as exc:
                reply = {"id": request.get("id"), "ok": False, "error": str(exc)}
            self.send(reply)


RIG_RT_PRIORITY = 50  # SCHED_FIFO, below the control core's 80


def favour_rig_process() -> bool:
    """Ask for SCHED_FIFO at RIG_RT_PRIORITY (below the core), else nice -5; silent when refused.

    The rig stands in for devices with their own processors, which a busy PC never preempts: its
    status frames and watchdogs must be on time even when tests or a renderer load every core,
    or the core's 20 ms device-silence check stops the session for a fault real hardware would
    not have. It sleeps most of each tick (~5 % of a core), so it costs the others little.
    Returns True when real-time scheduling was granted.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RIG_RT_PRIORITY))
        return True
    except (PermissionError, OSError, AttributeError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -5)
    except (PermissionError, OSError):
        pass
    return False


def main(argv: list[str] | None = None) -> int:
    """Child-process entry point used by start_rig."""
    parser = argparse.ArgumentParser(prog="python -m devices.sim.server")
    parser.add_argument("--profile", default="healthy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exo-safe-mode", choices=["transparent", "hold"], default="transparent")
    parser.add_argument("--control-fd", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s rig %(levelname)s %(name)s: %(message)s")
    sock = socket.socket(fileno=args.control_fd)
    try:
        rig = Rig(args.profile, args.seed, JointMode[args.exo_safe_mode.upper()])
    except ValueError as exc:
        sock.sendall((json.dumps({"ok": False, "error": str(exc)}) + "\n").encode())
        return 2
    signal.signal(signal.SIGTERM, lambda *_: rig.stop())
    signal.signal(signal.SIGINT, lambda *_: rig.stop())
    favour_rig_process()
    channel = ControlChannel(sock, rig)
    clock = open_tick_clock()  # before the answer: a core started on it finds the clock at once
    channel.send({"ok": True, "ports": rig.ports, "pid": os.getpid()})
    try:
        rig.run(channel.poll, clock=clock)
    finally:
        rig.close()
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
