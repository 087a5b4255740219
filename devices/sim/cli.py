"""`python main.py rig`: run the virtual rig in the foreground and take fault commands on stdin."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from devices.sim.profiles import profile_names

log = logging.getLogger(__name__)

COMMANDS_HELP = """\
commands on stdin, one per line (DEVICE: treadmill|exoskeleton|heart_rate|insoles|all, or tm|exo|hr|ins):
  cut DEVICE              cut the link both ways      restore DEVICE      reconnect it
  corrupt DEVICE FRACTION flip that share of bytes both ways (0 turns it off)
  stall DEVICE            the device stops sending    unstall DEVICE
  freeze DEVICE           sensor values stop changing unfreeze DEVICE
  estop on|off            press or release the hardware e-stop (treadmill and exoskeleton)
  motor_fault DEVICE on|off
  status                  device-side state as JSON   truth [PATH]        ground truth as JSON
  help                    this text                   quit                stop the rig
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the `rig` subcommand."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = COMMANDS_HELP
    parser.add_argument("--patient", default="healthy", choices=profile_names(), help="patient profile")
    parser.add_argument("--patient-file", metavar="PATH",
                        help="a patient profile YAML (docs/patients.md); overrides --patient")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same patient)")
    parser.add_argument(
        "--exo-safe-mode", choices=["transparent", "hold"], default="transparent",
        help="what the exoskeleton does in its safe state",
    )
    parser.add_argument("--truth", metavar="PATH", help="write the ground truth as JSON here on exit")
    parser.add_argument("--scene", metavar="ID",
                        help="show the simulated patient this scene's obstacles (as a session does; "
                             "the core must load the same scene while the belt stands)")
    parser.add_argument("--scenes-dir", metavar="DIR", help="folder of scene files (default: scenes/)")


def truth_path_problem(path: str) -> str | None:
    """Why a ground-truth file could not be written at path ('is a folder', 'its folder does not
    exist'), or None. Checked before a session: the truth is written after it."""
    p = Path(path)
    if p.is_dir():
        return "is a folder"
    if not p.parent.is_dir():
        return "its folder does not exist"
    return None


def parse_command(rig, line: str) -> str | None:
    """Apply one stdin command to the rig; returns text to print (or None)."""
    words = line.split()
    if not words:
        return None
    verb, rest = words[0].lower(), words[1:]
    if verb in ("quit", "exit"):
        rig.stop()
        return None
    if verb == "help":
        return COMMANDS_HELP
    if verb == "status":
        return json.dumps(rig.status(), indent=1)
    if verb == "truth":
        truth = json.dumps(rig.ground_truth(), indent=1)
        if rest:
            with open(rest[0], "w") as f:
                f.write(truth)
            return f"ground truth written to {rest[0]}"
        return truth
    if verb == "estop":
        if len(rest) != 1 or rest[0] not in ("on", "off"):
            raise ValueError("usage: estop on|off")
        rig.inject("estop", "all", pressed=rest[0] == "on")
        return f"estop {rest[0]}"
    if not rest:
        raise ValueError(f"usage: {verb} DEVICE ... (try help)")
    device = rest[0]
    if verb == "corrupt":
        fraction = float(rest[1]) if len(rest) > 1 else 0.01
        rig.inject("corrupt", device, fraction=fraction)
    elif verb == "motor_fault":
        on = (rest[1] if len(rest) > 1 else "on") == "on"
        rig.inject("motor_fault", device, on=on)
    else:
        rig.inject(verb, device)
    return f"{verb} {' '.join(rest)}: ok"


def main(args: argparse.Namespace) -> int:
    """Start the rig, print its ports, serve until Ctrl-C, SIGTERM or `quit`."""
    import os
    import signal
    import sys

    from devices.base import JointMode
    from devices.sim.server import Rig, favour_rig_process

    problem = truth_path_problem(args.truth) if args.truth else None
    if problem:  # checked at the start: the truth is written on exit, after the whole session
        print(f"rig: --truth {args.truth}: {problem}; give a file path", file=sys.stderr)
        return 2
    try:
        rig = Rig(args.patient_file or args.patient, args.seed, JointMode[args.exo_safe_mode.upper()])
    except ValueError as exc:
        print(f"rig: {exc}", file=sys.stderr)
        return 2
    if args.scene:
        from engine.scene.loader import SceneError, find_scene

        try:
            scene = find_scene(args.scene, args.scenes_dir) if args.scenes_dir else find_scene(args.scene)
        except SceneError as exc:
            print(f"rig: {exc}", file=sys.stderr)
            rig.close()
            return 2
        rig.show_scene(scene)
    favour_rig_process()
    for name, path in rig.ports.items():
        print(f"{name} {path}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: rig.stop())
    stdin_fd = sys.stdin.fileno() if sys.stdin is not None else None
    pending = b""
    if stdin_fd is not None:
        os.set_blocking(stdin_fd, False)

    def poll_stdin() -> None:
        nonlocal pending, stdin_fd
        if stdin_fd is None:
            return
        try:
            chunk = os.read(stdin_fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            stdin_fd = None  # EOF: keep serving, stop listening (e.g. started with </dev/null)
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            try:
                reply = parse_command(rig, line.decode(errors="replace"))
            except (ValueError, IndexError) as exc:
                reply = f"error: {exc}"
            if reply:
                print(reply, flush=True)

    try:
        rig.run(poll_stdin)
    except KeyboardInterrupt:
        pass
    finally:
        if stdin_fd is not None:
            os.set_blocking(stdin_fd, True)
        try:
            if args.truth:
                with open(args.truth, "w") as f:
                    json.dump(rig.ground_truth(), f, indent=1)
        except OSError as exc:
            print(f"rig: the ground truth was not written: {exc}", file=sys.stderr)
        finally:
            rig.close()
    return 0
