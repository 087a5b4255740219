"""`main.py report`: write the report of a session or a patient's progress, as HTML or PDF."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of report."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--session", type=int, metavar="ID", help="report on one session")
    which.add_argument("--patient", metavar="CODE", help="progress report of a patient")
    parser.add_argument("--format", choices=("html", "pdf"), default="html",
                        help="html: one self-contained page (default); pdf: A4 pages to print or send")
    parser.add_argument("--out", metavar="PATH", help="file to write (default: reports/ beside the database)")
    parser.add_argument("--db", help="database file (default: the user's data directory)")


def main(args: argparse.Namespace) -> int:
    """Write the report and print its path."""
    from pathlib import Path

    from engine.records.paths import default_db_path
    from engine.records.report import write_patient_report, write_session_report

    db = Path(args.db) if args.db else default_db_path()
    if not db.exists():
        print(f"report: no database at {db}")
        return 1
    fmt = getattr(args, "format", "html") or "html"
    try:
        if args.session is not None:
            path = write_session_report(db, args.session, args.out, fmt=fmt)
        else:
            path = write_patient_report(db, args.patient, args.out, fmt=fmt)
    except KeyError as exc:
        print(f"report: {exc.args[0]}")
        return 1
    print(path)
    return 0
