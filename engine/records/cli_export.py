"""`main.py export`: export a session (or a window of it) as CSV files with a metadata sidecar,
or as a C3D file."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of export."""
    parser.add_argument("--session", type=int, metavar="ID", required=True, help="session to export")
    parser.add_argument("--format", choices=("csv", "c3d"), required=True,
                        help="csv: a folder with telemetry/steps/strides/events.csv and metadata.json; "
                             "c3d: one gait-lab file")
    parser.add_argument("--out", metavar="PATH", required=True, help="folder (csv) or file (c3d) to write")
    parser.add_argument("--from-s", type=float, metavar="A", dest="from_s",
                        help="start of the window, seconds from the session's first record")
    parser.add_argument("--to-s", type=float, metavar="B", dest="to_s",
                        help="end of the window, seconds from the session's first record")
    parser.add_argument("--db", help="database file (default: the user's data directory) or clinic server "
                        "postgresql://... (account: STEPSYNC_USER / STEPSYNC_PASSWORD)")


def main(args: argparse.Namespace) -> int:
    """Export and print what was written."""
    from pathlib import Path

    from engine.records.export import ExportError, export_c3d_parts, export_csv
    from engine.records.paths import default_db_path
    from engine.records.repository import is_server_url, open_repository

    if is_server_url(args.db):
        db = args.db
    else:
        db = Path(args.db) if args.db else default_db_path()
        if not db.exists():
            print(f"export: no database at {db}")
            return 1
    try:
        store = open_repository(db)
    except Exception as exc:  # the clinic server: unreachable, login refused, schema
        if not is_server_url(db):
            raise
        print(f"export: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}")
        return 1
    start_s, end_s = getattr(args, "from_s", None), getattr(args, "to_s", None)
    with store:
        try:
            store.get_session(args.session)
        except KeyError as exc:
            print(f"export: {exc.args[0]}")
            return 1
        try:
            if args.format == "csv":
                for path in export_csv(store, args.session, args.out, start_s, end_s):
                    print(path)
            else:
                for path in export_c3d_parts(store, args.session, args.out, start_s, end_s):
                    print(path)
        except ExportError as exc:
            print(f"export: session {args.session}: {exc}")
            return 1
    return 0
