"""`main.py findings --session ID | --patient CODE`: print gait findings and suggestions."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of findings."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--session", type=int, metavar="ID", help="findings of one session")
    which.add_argument("--patient", metavar="CODE", help="trend findings over a patient's sessions")
    parser.add_argument("--last", type=int, metavar="N", help="with --patient: only the last N sessions")
    parser.add_argument("--all", action="store_true", help="also list detectors that found nothing or could not assess")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--db", help="database file (default: the user's data directory)")


def _text(result: dict, show_all: bool) -> str:
    from engine.analysis.suggestions import EVIDENCE_LEVELS

    lines = []
    for f in result["findings"]:
        if not f.present and not show_all:
            continue
        mark = "FINDING" if f.present else ("normal " if f.assessed else "n/a    ")
        flag = " (norm unconfirmed)" if f.present and f.unconfirmed else ""
        lines.append(f"{mark} {f.title}: {f.summary}{flag}")
        if f.present:
            from engine.analysis.norms import NORMS

            for key in f.norms:
                lines.append(f"          norm: {NORMS[key].describe()}")
            for s in result["suggestions"].get(f.key, []):
                lines.append(f"          -> [{s.kind}, evidence {s.evidence_level}: {EVIDENCE_LEVELS[s.evidence_level]}] {s.text}")
                lines.append(f"             source: {s.source}")
    if not any(f.present for f in result["findings"]):
        lines.append("no finding: every assessed measure is within its norm")
    lines.append("Findings never change a setting; the therapist decides.")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    """Analyse and print."""
    from pathlib import Path

    from engine.analysis import findings_for_patient, findings_for_session
    from engine.records.paths import default_db_path
    from engine.records.store import Store

    db = Path(args.db) if args.db else default_db_path()
    if not db.exists():
        print(f"findings: no database at {db}", file=sys.stderr)
        return 1
    from engine.records.dbcheck import records_file_problem

    problem = records_file_problem(db)
    if problem is not None:
        print(f"findings: {problem}", file=sys.stderr)
        return 1
    with Store(db) as store:
        try:
            if args.session is not None:
                result = findings_for_session(store, args.session)
            else:
                if store.get_patient(args.patient) is None:
                    print(f"findings: unknown patient {args.patient!r}", file=sys.stderr)
                    return 1
                result = findings_for_patient(store, args.patient, args.last)
        except KeyError as exc:
            print(f"findings: {exc.args[0]}", file=sys.stderr)
            return 1
    if args.json:
        out = {"findings": [f.to_dict() for f in result["findings"]],
               "suggestions": {k: [s.to_dict() for s in v] for k, v in result["suggestions"].items()}}
        print(json.dumps(out, indent=2, default=float))
    else:
        print(_text(result, args.all))
    return 0
