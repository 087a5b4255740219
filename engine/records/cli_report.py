"""`main.py report`: write the report of a session or a patient's progress, as HTML or PDF."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of report."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--session", type=int, metavar="ID", help="report on one session")
    which.add_argument("--patient", metavar="CODE", help="progress report of a patient")
    parser.add_argument("--format", choices=("html", "pdf"), default="html",
                        help="html: one self-contained page (default); pdf: A4 pages to print or send")
    parser.add_argument("--out", metavar="PATH", help="file to write (default: reports/ beside the database)")
    parser.add_argument("--db", help="database file (default: the user's data directory) or clinic server "
                        "postgresql://... (account: STEPSYNC_USER / STEPSYNC_PASSWORD)")


def main(args: argparse.Namespace) -> int:
    """Write the report and print its path."""
    from pathlib import Path

    from engine.records.paths import default_db_path
    from engine.records.report import write_patient_report, write_session_report
    from engine.records.repository import is_server_url

    fmt = getattr(args, "format", "html") or "html"
    if is_server_url(args.db):
        db = args.db  # the clinic server: reports go to ./reports/ unless --out says otherwise
        if not args.out:
            args.out = str(Path("reports") / (f"session-{args.session}.{fmt}" if args.session is not None
                                              else f"patient-{args.patient}.{fmt}"))
    else:
        db = Path(args.db) if args.db else default_db_path()
        if not db.exists():
            print(f"report: no database at {db}")
            return 1
        from engine.records.dbcheck import records_file_problem

        problem = records_file_problem(db)  # before SQLite opens it: a damaged file stays as it is
        if problem is not None:
            print(f"report: {problem}", file=sys.stderr)
            return 1
    try:
        if args.session is not None:
            path = write_session_report(db, args.session, args.out, fmt=fmt)
        else:
            path = write_patient_report(db, args.patient, args.out, fmt=fmt)
    except KeyError as exc:
        print(f"report: {exc.args[0]}")
        return 1
    except Exception as exc:  # the clinic server: unreachable, login refused, schema
        if not is_server_url(args.db):
            raise
        print(f"report: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}")
        return 1
    print(path)
    return 0
