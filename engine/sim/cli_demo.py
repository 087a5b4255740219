"""`main.py demo-history`: fill a database with simulated sessions of an improving patient."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of demo-history."""
    parser.add_argument("--patient", default="demo-hemiparetic",
                        help="demo patient: demo-healthy, demo-hemiparetic, demo-parkinsonian, demo-frail")
    parser.add_argument("--sessions", type=int, default=10, help="how many sessions (default 10)")
    parser.add_argument("--duration-s", type=float, default=120.0, help="length of each session (default 120)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the simulated patient")
    parser.add_argument("--db", help="database file (default: the user's data directory)")
    parser.add_argument("--no-report", action="store_true", help="do not write the progress report")


def main(args: argparse.Namespace) -> int:
    """Simulate the sessions, then write the patient's progress report."""
    import math
    import sys

    from engine.records.paths import default_db_path
    from engine.records.store import DEMO_PATIENTS
    from engine.sim.demo import fill_demo_history

    if args.patient not in DEMO_PATIENTS:
        print(f"demo-history: {args.patient!r} is not a demo patient (choose from {', '.join(DEMO_PATIENTS)})",
              file=sys.stderr)
        return 2
    # (argparse's float takes 'nan' and 'inf': NaN passed a "< 10" test and each session walked
    # its whole route)
    if args.sessions < 1 or not (math.isfinite(args.duration_s) and args.duration_s >= 10):
        print(f"demo-history: need --sessions >= 1 and --duration-s >= 10 (a number of seconds), "
              f"not {args.sessions} and {args.duration_s}", file=sys.stderr)
        return 2
    db = args.db or str(default_db_path())
    from engine.records.dbcheck import records_file_problem

    problem = records_file_problem(db)
    if problem:  # a folder or another file given as --db: named, and left as it is (was a traceback)
        print(f"demo-history: --db: {problem}", file=sys.stderr)
        return 2

    ids = fill_demo_history(db, args.patient, args.sessions, args.duration_s, args.seed,
                            progress=sys.stderr.isatty())
    print(f"{len(ids)} simulated sessions for {args.patient} in {db}: ids {ids[0]}..{ids[-1]}")
    if not args.no_report:
        from engine.records.report import write_patient_report

        path = write_patient_report(db, args.patient)
        print(f"progress report: {path}")
    return 0
