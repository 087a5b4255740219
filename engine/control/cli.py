"""`python main.py core`: run the control core on its own, against the virtual rig or real ports.

The command plays a minimal operator: it creates the shared-memory channels, starts the core
process, sends UI heartbeats, sets a default prescription, starts walking, prints one status line
a second, and on Ctrl-C (or after --duration-s) asks for a controlled stop and waits for it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import time

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `main.py core`."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--rig", metavar="PROFILE", help="start the virtual rig with this patient profile")
    source.add_argument("--treadmill", metavar="PORT", help="treadmill serial port")
    parser.add_argument("--exoskeleton", metavar="PORT", help="exoskeleton serial port (with --treadmill)")
    parser.add_argument("--heart-rate", metavar="PORT", help="heart-rate sensor serial port (optional)")
    parser.add_argument("--insoles", metavar="PORT", help="smart insoles serial port (optional; with --treadmill)")
    parser.add_argument("--rate-hz", type=float, default=1000.0, help="control rate (default 1000)")
    parser.add_argument("--priority", type=int, default=80, help="SCHED_FIFO priority, 0 = none (default 80)")
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin the core to (default: the last)")
    parser.add_argument("--duration-s", type=float, default=0.0, help="stop after this long once the core runs (0 = until Ctrl-C)")
    parser.add_argument("--speed-fraction", type=float, default=0.5, help="belt speed as a fraction of the prescription (default 0.5)")
    parser.add_argument("--seed", type=int, default=0, help="rig random seed (with --rig)")


def main(args: argparse.Namespace) -> int:
    """Run the core until Ctrl-C or --duration-s; returns the exit code."""
    import numpy as np

    from engine.control.channels import Channels
    from engine.control.commands import CommandWriter, SettingError
    from engine.control.config import CoreConfig
    from engine.control.layout import ALARM_TEXT, STATE_DTYPE, RunState
    from engine.control.prescription import Prescription
    from engine.control.process import start_core

    if args.treadmill and not args.exoskeleton:
        log.error("--treadmill needs --exoskeleton too")
        return 2
    if args.rate_hz <= 0 or args.rate_hz > 5000:
        log.error("--rate-hz must be in (0, 5000]")
        return 2
    rig = None
    if args.rig:
        from devices.sim.rig import start_rig

        rig = start_rig(args.rig, seed=args.seed)
        ports = dict(rig.ports)
    else:
        ports = {"treadmill": args.treadmill, "exoskeleton": args.exoskeleton}
        if args.heart_rate:
            ports["heart_rate"] = args.heart_rate
        if args.insoles:
            ports["insoles"] = args.insoles
    channels = Channels.create()
    writer = CommandWriter(channels.command)
    interrupted = {"n": 0}

    def on_sigint(signum, frame) -> None:
        interrupted["n"] += 1

    previous = signal.signal(signal.SIGINT, on_sigint)
    signal.signal(signal.SIGTERM, on_sigint)
    core = None
    code = 0
    try:
        writer.heartbeat()
        writer.set_prescription(Prescription())
        try:
            writer.set_settings(speed_fraction=args.speed_fraction, guidance=0.5, guidance_min=0.0,
                                guidance_max=1.0, bws_fraction=0.0)
        except SettingError as exc:
            log.error("%s", exc)
            return 2
        config = CoreConfig(ports=ports, rate_hz=args.rate_hz, rt_priority=args.priority, cpu=args.cpu)
        core = start_core(config, channels.paths())
        state = np.zeros((), dtype=STATE_DTYPE)
        started = time.monotonic()
        next_print = started + 1.0
        stop_sent = False
        start_sent = False
        while core.is_alive():
            writer.heartbeat()
            now = time.monotonic()
            try:
                channels.state.read(state)
            except TimeoutError:
                time.sleep(0.002)  # the core frozen mid-write (the host took its CPU): read again
                continue
            if not start_sent and state["core_pid"] != 0:
                writer.start()
                start_sent = True
                # --duration-s counts from here, once the core runs: its start-up (imports,
                # handshakes) can take seconds on a loaded machine, and a stop sent during it
                # ended the core before it ran (exit 1 under a CPU hog, tests/control/test_cli.py).
                started = now
                next_print = now + 1.0
            done = interrupted["n"] or (start_sent and args.duration_s and now - started >= args.duration_s)
            if done and not stop_sent:
                writer.stop()
                stop_sent = True
                stop_at = now
            if stop_sent and (state["run_state"] in (RunState.IDLE, RunState.STOPPED) or now - stop_at > 5.0 or interrupted["n"] > 1):
                break
            if now >= next_print:
                next_print += 1.0
                alarms = [ALARM_TEXT[int(a["reason"])] for a in state["alarms"] if a["reason"] and not a["acked"]]
                print(
                    f"t={now - started:6.1f}s {RunState(int(state['run_state'])).name:8s} "
                    f"belt={float(state['belt_speed_mps']):.2f}/{float(state['belt_speed_cmd_mps']):.2f} m/s "
                    f"s={float(state['s_m']):7.2f} m steps={int(state['steps'])} "
                    f"cadence={float(state['cadence_spm']):5.1f}/min late={float(state['lateness_us']):6.1f}us "
                    f"max={float(state['max_lateness_us']):7.1f}us rt={'yes' if state['rt_granted'] else 'no'}"
                    + (f" alarms: {'; '.join(alarms)}" if alarms else ""),
                    flush=True,
                )
            time.sleep(0.01)
    finally:
        if core is not None:
            exit_code = core.stop(timeout_s=6.0)
            if exit_code not in (0, None):
                code = 1
        signal.signal(signal.SIGINT, previous)
        channels.close()
        if rig is not None:
            rig.stop()
    return code
