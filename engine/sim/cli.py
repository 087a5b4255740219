"""`python main.py simulate`: one session of a simulated patient, faster than real time, into a database."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the `simulate` subcommand."""
    parser.add_argument("--scene", required=True, help="scene id (scenes/*.yaml)")
    parser.add_argument("--patient-profile", required=True, metavar="NAME|PATH",
                        help="a shipped profile name (devices/sim/patients/) or a profile YAML path (docs/patients.md)")
    parser.add_argument("--duration-s", type=float, default=120.0, help="walking time to simulate (default 120)")
    parser.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same session")
    parser.add_argument("--db", required=True, help="database file the session is written to")
    parser.add_argument("--truth", metavar="PATH", help="write the rig's ground truth as JSON here")
    parser.add_argument("--patient", metavar="CODE",
                        help="record under this patient (default sim-PROFILE, created with a prescription "
                             "from the profile); demo-* patients get their demo prescription")
    parser.add_argument("--scenes-dir", help="folder of scene files (default: scenes/)")
    parser.add_argument("--guidance", type=float, help="guidance setting 0..1 (default: the scene's hint)")
    parser.add_argument("--pace", choices=("fixed", "scene", "self"), default="scene",
                        help="belt speed: fixed, scene-paced (default) or self-paced (the patient's)")
    parser.add_argument("--protocol", choices=("comfortable", "fast"),
                        help="a comfortable- or fast-speed test on the self-paced belt (run-in 2 m, 6 m timed, "
                             "3 trials); the result is stored as the session's self-selected/fast speed")
    parser.add_argument("--use-plan", action="store_true",
                        help="start from the patient's accepted session plan (main.py progress --accept), "
                             "as a live session does; --scene still names the scene")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def main(args: argparse.Namespace) -> int:
    """Run the simulation; prints the session id, its outcome and the speed-up."""
    import math
    import sys

    from devices.sim.cli import truth_path_problem
    from engine.scene.loader import SceneError
    from engine.sim.session import SimOptions, run_simulation

    # (argparse's float takes 'nan' and 'inf': NaN passed a "<= 0" test and walked the whole route)
    if not (math.isfinite(args.duration_s) and args.duration_s > 0):
        print(f"simulate: --duration-s must be a positive number of seconds, not {args.duration_s}", file=sys.stderr)
        return 2
    if args.guidance is not None and not (math.isfinite(args.guidance) and 0.0 <= args.guidance <= 1.0):
        # the controller would clamp it to the prescription; a value out of the setting's range is
        # a typo to name, not to walk a session with
        print(f"simulate: --guidance must be within 0..1, not {args.guidance}", file=sys.stderr)
        return 2
    problem = truth_path_problem(args.truth) if args.truth else None
    if problem:  # checked before the walk: the truth is written after it, minutes later
        print(f"simulate: --truth {args.truth}: {problem}; give a file path", file=sys.stderr)
        return 2
    from engine.records.dbcheck import records_file_problem

    problem = records_file_problem(args.db)
    if problem:  # a folder or another file given as --db: named, and left as it is (was a traceback)
        print(f"simulate: --db: {problem}", file=sys.stderr)
        return 2
    settings = {}
    if args.guidance is not None:
        settings["guidance"] = args.guidance
    options = SimOptions(scene=args.scene, profile=args.patient_profile, duration_s=args.duration_s, seed=args.seed,
                         db=args.db, truth_path=args.truth, patient_code=args.patient, scenes_dir=args.scenes_dir,
                         settings=settings, pace=args.pace, use_plan=args.use_plan, protocol=args.protocol, progress=not args.no_progress and sys.stderr.isatty())
    try:
        result = run_simulation(options)
    except (ValueError, SceneError, KeyError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the database or the truth file could not be written
        print(f"simulate: {exc}", file=sys.stderr)
        return 1
    print(f"session {result.session_id} ({result.outcome}) for {result.patient_code}, profile {result.profile}: "
          f"{result.summary.get('steps')} steps, {result.sim_s:.1f} s simulated in {result.wall_s:.1f} s "
          f"({result.speedup:.1f}x real time) -> {args.db}")
    for kind in ("self_selected_speed", "fast_speed"):
        if kind in result.summary:
            res = result.summary[kind]
            print(f"{res['protocol']} speed: {res['speed_mps']} m/s (trials {res['trials_mps']}; "
                  f"true over-ground {res.get('true_trials_mps')})")
    if args.truth:
        print(f"ground truth: {args.truth}")
    return 0 if result.outcome == "completed" else 1
