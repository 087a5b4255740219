"""`main.py run`: the therapist menu with a display, or a whole headless session on the virtual rig.

Nothing heavy is imported here at module level: Panda3D and the session machinery load inside
`main`, so `main.py --help` and the other subcommands stay fast.
"""

from __future__ import annotations

import argparse
import logging
import sys

log = logging.getLogger(__name__)

EXIT_VR_REQUIRED = 2  # `--vr require` and no runtime or headset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the `run` subcommand."""
    parser.add_argument("--scene", help="scene id from scenes/ (headless: required; menu: preselected)")
    parser.add_argument("--patient", default="demo-healthy", help="pseudonymous patient code")
    parser.add_argument("--duration-s", type=float, default=120.0, help="session length (headless)")
    parser.add_argument("--headless", action="store_true", help="no window: render offscreen, run one session, write the report")
    parser.add_argument("--db", help="records database (default: the per-user records file)")
    parser.add_argument("--screenshots", metavar="DIR", help="save patient-view screenshots here")
    parser.add_argument("--vr", choices=["auto", "require", "off"], default="auto",
                        help="headset: auto falls back to the desktop window, require exits 2 without one")
    parser.add_argument("--seed", type=int, default=0, help="seed of the virtual patient")
    parser.add_argument("--renderer", choices=["tinydisplay", "gl"], default=None,
                        help="headless renderer (default tinydisplay; gl uses EGL, e.g. llvmpipe)")
    parser.add_argument("--scenes-dir", default=None, help="folder of scene YAML files (default scenes/)")
    parser.add_argument("--size", default=None, metavar="WxH", help="window or offscreen size, e.g. 640x360")
    parser.add_argument("--sync-to", metavar="URL", help="clinic server postgresql://...: record locally as "
                        "always and sync in the background (docs/clinic.md)")
    ports = parser.add_argument_group("real devices (default: the virtual rig)")
    ports.add_argument("--treadmill", metavar="PORT", help="treadmill serial port, e.g. /dev/ttyUSB0")
    ports.add_argument("--exoskeleton", metavar="PORT", help="exoskeleton serial port")
    ports.add_argument("--heart-rate", metavar="PORT", help="heart-rate sensor serial port (optional)")


def main(args: argparse.Namespace) -> int:
    """Run the session or the menu; returns the exit code."""
    from engine.render.vr.select import VrUnavailable, choose_vr

    try:
        vr_choice = choose_vr(args.vr, headless=args.headless)
    except VrUnavailable as exc:
        print(f"run: --vr require: {exc}", file=sys.stderr)
        return EXIT_VR_REQUIRED

    from engine.render.session_runner import SessionOptions, run_headless, run_interactive

    if bool(args.treadmill) != bool(args.exoskeleton):
        print("run: real devices need both --treadmill and --exoskeleton", file=sys.stderr)
        return 2
    options = SessionOptions.from_args(args, vr=vr_choice)
    if args.headless and not args.scene:
        print("run: --headless needs --scene SCENE_ID", file=sys.stderr)
        return 2
    from engine.records.sync import start_background_sync

    sync = start_background_sync(args.db, args.sync_to) if args.sync_to else None
    try:
        if args.headless:
            result = run_headless(options)
            if result.report_path is not None:
                print(f"report: {result.report_path}")
            print(f"session {result.session_id}: {result.outcome}")
            return result.exit_code
        return run_interactive(options)
    finally:
        if sync is not None:
            print(sync.finish())
