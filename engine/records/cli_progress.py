"""`main.py progress`: a patient's per-session gait numbers as a table (or JSON), from a rig's
file or the clinic server (`--db postgresql://...`: every rig's sessions of the patient)."""

from __future__ import annotations

import argparse
import json
import math

COLUMNS = (("session", "id"), ("started", "started_at"), ("scene", "scene_id"), ("outcome", "outcome"),
           ("min", "duration_s"), ("speed m/s", "gait_speed_mps"), ("cadence", "cadence_spm"),
           ("steps", "steps"), ("SI len %", "si_step_length_pct"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of progress."""
    parser.add_argument("--patient", required=True, metavar="CODE", help="pseudonymous patient code")
    parser.add_argument("--db", help="database file (default: the user's data directory) or clinic server "
                        "postgresql://... (account: STEPSYNC_USER / STEPSYNC_PASSWORD)")
    parser.add_argument("--json", action="store_true", help="one JSON object per session instead of a table")


def _cell(key: str, row: dict) -> str:
    value = row["session"].get(key) if key in ("id", "started_at", "scene_id", "outcome") else row.get(key)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if key == "duration_s":
        return f"{value / 60.0:.1f}"
    if key == "started_at":
        return str(value)[:16].replace("T", " ")
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def main(args: argparse.Namespace) -> int:
    """Print the table; exit 1 with one line when the patient or the database is not there."""
    from pathlib import Path

    from engine.records.paths import default_db_path
    from engine.records.report import patient_progress
    from engine.records.repository import is_server_url, open_repository

    db = args.db if is_server_url(args.db) else Path(args.db) if args.db else default_db_path()
    if not is_server_url(db) and not Path(db).exists():
        print(f"progress: no database at {db}")
        return 1
    try:
        with open_repository(db) as repo:
            if repo.get_patient(args.patient) is None:
                print(f"progress: unknown patient {args.patient!r}")
                return 1
            rows = patient_progress(repo, args.patient)
    except Exception as exc:  # the clinic server: unreachable, login refused, schema
        if not is_server_url(db):
            raise
        print(f"progress: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}")
        return 1
    if args.json:
        for row in rows:
            out = {k: v for k, v in row.items() if k != "session"}
            out.update({k: row["session"][k] for k in ("id", "started_at", "scene_id", "outcome")})
            finite = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}
            print(json.dumps(finite, default=str))
        return 0
    table = [[title for title, _ in COLUMNS]] + [[_cell(key, row) for _, key in COLUMNS] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print(f"{len(rows)} sessions of {args.patient}")
    return 0
