"""`main.py run`: the therapist menu with a display, or a whole headless session on the virtual rig.

Nothing heavy is imported here at module level: Panda3D and the session machinery load inside
`main`, so `main.py --help` and the other subcommands stay fast.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

log = logging.getLogger(__name__)

EXIT_VR_REQUIRED = 2  # `--vr require` and no runtime or headset
EXIT_USAGE = 2  # a bad flag value: nothing was started
EXIT_RECORDS = 1  # the records file cannot be used as it is


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the `run` subcommand."""
    parser.add_argument("--scene", help="scene id from scenes/ (headless: required; menu: preselected)")
    parser.add_argument("--patient", default=None,
                        help="pseudonymous patient code (headless: required; menu: preselected). "
                             "demo-healthy, demo-hemiparetic, demo-parkinsonian and demo-frail exist on first run")
    parser.add_argument("--duration-s", type=float, default=120.0, help="session length in seconds, > 0 (headless)")
    parser.add_argument("--headless", action="store_true", help="no window: render offscreen, run one session, write the report")
    parser.add_argument("--db", help="records database (default: the per-user records file)")
    parser.add_argument("--screenshots", metavar="DIR", help="save patient-view screenshots here")
    parser.add_argument("--vr", choices=["auto", "require", "off"], default="auto",
                        help="headset: auto falls back to the desktop window, require exits 2 without one")
    parser.add_argument("--seed", type=int, default=0, help="seed of the virtual patient")
    parser.add_argument("--renderer", choices=["tinydisplay", "gl"], default=None,
                        help="headless renderer (default tinydisplay; gl uses EGL, e.g. llvmpipe)")
    parser.add_argument("--scenes-dir", default=None, help="folder of scene YAML files (default scenes/)")
    parser.add_argument("--pace", choices=("fixed", "scene", "self"), default="scene",
                        help="belt speed: fixed, scene-paced (default) or self-paced (follows the patient)")
    parser.add_argument("--size", default=None, metavar="WxH", help="window or offscreen size, e.g. 640x360")
    parser.add_argument("--sync-to", metavar="URL", help="clinic server postgresql://...: record locally as "
                        "always and sync in the background (docs/clinic.md)")
    ports = parser.add_argument_group("real devices (default: the virtual rig)")
    ports.add_argument("--treadmill", metavar="PORT", help="treadmill serial port, e.g. /dev/ttyUSB0")
    ports.add_argument("--exoskeleton", metavar="PORT", help="exoskeleton serial port")
    ports.add_argument("--heart-rate", metavar="PORT", help="heart-rate sensor serial port (optional)")
    ports.add_argument("--insoles", metavar="PORT", help="smart insoles serial port (optional)")


def usage_problem(args: argparse.Namespace) -> str | None:
    """One line saying what is wrong with the flags (nothing started yet), or None."""
    from engine.render.panda_config import parse_size

    if not math.isfinite(args.duration_s) or args.duration_s <= 0:
        return f"run: --duration-s must be a positive number of seconds, got {args.duration_s:g}"
    try:
        parse_size(args.size)
    except ValueError:
        return f"run: --size must be WIDTHxHEIGHT in pixels, e.g. 640x360, got {args.size!r}"
    if args.headless and not args.scene:
        return "run: --headless needs --scene SCENE_ID"
    if args.headless and not args.patient:
        from engine.records.store import DEMO_PATIENTS

        return f"run: --headless needs --patient CODE (demo patients: {', '.join(DEMO_PATIENTS)})"
    if args.scene:
        return scene_problem(args.scene, args.scenes_dir)
    return None


def scene_problem(scene_id: str, scenes_dir: str | None) -> str | None:
    """None when the scene loads; else one line with the valid scene ids."""
    from engine.scene.loader import SCENES_DIR, load_library

    folder = Path(scenes_dir) if scenes_dir else SCENES_DIR
    if not folder.is_dir():
        return f"run: --scenes-dir {folder} is not a folder"
    library = load_library(folder)
    if scene_id in library.scenes:
        return None
    for path, errors in library.broken.items():
        if Path(path).stem == scene_id:
            first = errors[0] if isinstance(errors, (list, tuple)) and errors else errors
            return f"run: scene {scene_id!r} has errors: {first}"
    return f"run: no scene {scene_id!r}; scene ids: {', '.join(sorted(library.scenes)) or '(none in ' + str(folder) + ')'}"


def patient_problem(db_path: Path, code: str | None) -> str | None:
    """None when the patient exists in the records (or is a demo patient, created on first run)."""
    from engine.records.store import DEMO_PATIENTS, Store

    if not code or code in DEMO_PATIENTS:
        return None
    known: list[str] = []
    if db_path.exists():
        store = Store(db_path)
        try:
            if store.get_patient(code) is not None:
                return None
            known = [p["code"] for p in store.list_patients()]
        finally:
            store.close()
    codes = sorted(set(known) | set(DEMO_PATIENTS))
    return (f"run: no patient {code!r} in {db_path}; patients: {', '.join(codes)} "
            f"(create a new one in the menu: main.py run without --headless)")


def main(args: argparse.Namespace) -> int:
    """Run the session or the menu; returns the exit code."""
    from engine.records.dbcheck import records_file_problem
    from engine.records.paths import default_db_path
    from engine.render.vr.select import VrUnavailable, choose_vr

    try:
        vr_choice = choose_vr(args.vr, headless=args.headless)
    except VrUnavailable as exc:
        print(f"run: --vr require: {exc}", file=sys.stderr)
        return EXIT_VR_REQUIRED
    problem = usage_problem(args)
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_USAGE
    db_path = Path(args.db) if args.db else default_db_path()
    problem = records_file_problem(db_path)
    if problem is not None:  # checked before anything opens it: the file stays as it is
        print(f"run: {problem}", file=sys.stderr)
        return EXIT_RECORDS
    problem = patient_problem(db_path, args.patient)
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_USAGE

    from engine.session.runner import SessionOptions, run_headless

    if bool(args.treadmill) != bool(args.exoskeleton):
        print("run: real devices need both --treadmill and --exoskeleton", file=sys.stderr)
        return EXIT_USAGE
    options = SessionOptions.from_args(args, vr=vr_choice)
    from engine.records.sync import start_background_sync

    sync = start_background_sync(args.db, args.sync_to) if args.sync_to else None
    try:
        if args.headless:
            result = run_headless(options)
            if result.report_path is not None:
                print(f"report: {result.report_path}")
            print(f"session {result.session_id}: {result.outcome} ({result.end_reason})")
            return result.exit_code
        from engine.session.desktop import run_desktop

        return run_desktop(options)
    finally:
        if sync is not None:
            print(sync.finish())
