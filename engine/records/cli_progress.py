"""`main.py progress`: a patient's per-session gait numbers as a table (or JSON), from a rig's
file or the clinic server (`--db postgresql://...`: every rig's sessions of the patient), and the
progression proposal for the next session with its reasons (engine/analysis/progression.py).

`--accept`, `--edit FIELD=VALUE ...` and `--reject` are the therapist's choice on the proposal:
accept and edit store a new session-plan version (what the next session starts from), and every
choice is an audit-log row of the session the proposal came from (who, when, what). Nothing
changes without one of them."""

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
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--accept", action="store_true", help="accept the progression proposal for the next session")
    choice.add_argument("--edit", nargs="+", metavar="FIELD=VALUE",
                        help="accept the proposal with changes, e.g. --edit speed_mps=0.6 guidance_min=0.3 "
                             "(fields: scene_id speed_mps guidance guidance_min bws_fraction assist_as_needed)")
    choice.add_argument("--reject", action="store_true", help="reject the proposal: the next session plan stays")
    parser.add_argument("--not-a-trip", nargs="*", type=float, metavar="T_S",
                        help="judge the last session's stumble warnings (at these session times in s; none "
                             "given: all of them) as not a trip: audited, and the proposal no longer counts them")
    parser.add_argument("--who", help="who decides (default: $STEPSYNC_USER or the login name)")


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
    decide = args.accept or args.edit or args.reject or args.not_a_trip is not None
    if decide and is_server_url(db):
        print("progress: proposals are decided on the rig's records file (--db PATH), not the clinic server")
        return 1
    if args.json:
        for row in rows:
            out = {k: v for k, v in row.items() if k != "session"}
            out.update({k: row["session"][k] for k in ("id", "started_at", "scene_id", "outcome")})
            finite = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}
            print(json.dumps(finite, default=str))
    else:
        table = [[title for title, _ in COLUMNS]] + [[_cell(key, row) for _, key in COLUMNS] for row in rows]
        widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
        for r in table:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    status = 0
    if not is_server_url(db):
        with open_repository(db) as repo:
            status = _proposal(repo, args)
    if not args.json:
        print(f"{len(rows)} sessions of {args.patient}")  # the last line, as before proposals
    return status


def _who(args: argparse.Namespace) -> str:
    import getpass
    import os

    return args.who or os.environ.get("STEPSYNC_USER") or getpass.getuser()


def _print_proposal(proposal, rx) -> None:
    print(f"Proposal for the next session (from session {proposal.based_on_session}, {proposal.direction}):")
    for change in proposal.changes:
        mark = "->" if change.changed else "=="
        print(f"  {change.name:<13} {change.old!s:>22} {mark} {change.new!s:<22} {change.reason}")
    for note in proposal.notes:
        print(f"  - {note}")
    print(f"  prescription limits: speed <= {rx.max_speed_mps:.2f} m/s, guidance {rx.guidance_min:.2f}.."
          f"{rx.guidance_max:.2f}, body-weight support {rx.bws_min:.2f}..{rx.bws_max:.2f}")


def _proposal(repo, args: argparse.Namespace) -> int:
    """Show the proposal (and a decision on it, if any); apply --accept/--edit/--reject.
    Returns an exit status: 0 done, 1 nothing to decide or refused, 2 a bad --edit."""
    from engine.analysis.progression import apply_edits, proposal_for, record_decision

    code = args.patient
    proposal = proposal_for(repo, code)
    if proposal is not None and getattr(args, "not_a_trip", None) is not None:
        from engine.analysis.progression import record_stumble_review

        try:
            judged = record_stumble_review(repo, proposal.based_on_session, _who(args), args.not_a_trip)
        except ValueError as exc:
            print(f"progress: --not-a-trip: {exc}")
            return 2
        which = "every stumble warning" if judged == [None] else "stumble warning(s) at " + ", ".join(
            f"{t:g} s" for t in judged)
        print(f"judged not a trip by {_who(args)}: {which} of session {proposal.based_on_session}")
        proposal = proposal_for(repo, code)  # weighed again without them
    if proposal is None:
        if args.accept or args.edit or args.reject or getattr(args, "not_a_trip", None) is not None:
            print(f"progress: no proposal for {code}: no finished session or no prescription")
            return 1
        return 0
    rx = repo.current_prescription(code)
    decided = repo.audit_log_setting("progression_", [proposal.based_on_session])
    if not args.json:
        _print_proposal(proposal, rx)
        for row in decided:
            print(f"  decided: {row['setting'].removeprefix('progression_')} by {row['who']} at {row['at'][:19]}")
    if not (args.accept or args.edit or args.reject):
        return 0
    if decided:
        row = decided[-1]
        print(f"progress: the proposal from session {proposal.based_on_session} was already "
              f"{row['setting'].removeprefix('progression_')} by {row['who']} at {row['at'][:19]}")
        return 1
    who = _who(args)
    plan = proposal.plan
    decision = "accepted"
    if args.edit:
        try:
            from engine.scene.loader import load_library

            plan = apply_edits(plan, args.edit, rx, set(load_library().scenes))
        except ValueError as exc:
            print(f"progress: {exc}")
            return 2
        decision = "edited"
    try:
        version = record_decision(repo, proposal, "rejected" if args.reject else decision, who, plan)
    except ValueError as exc:  # never: propose() clamps; a guard, nothing may exceed the prescription
        print(f"progress: refused, {exc}")
        return 1
    if version is None:
        print(f"rejected by {who}: the next session keeps its settings")
        return 0
    print(f"{decision} by {who}: session plan v{version} for {proposal.patient_code}: " + ", ".join(
        f"{k}={v}" for k, v in plan.to_dict().items()))
    return 0
