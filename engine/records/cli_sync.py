"""`main.py sync`: one store-and-forward pass of a rig's records to the clinic server."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of sync."""
    parser.add_argument("--db", help="the rig's records database (default: the user's data directory)")
    parser.add_argument("--to", required=True, metavar="URL",
                        help="clinic server, postgresql://ROLE:PASSWORD@HOST/DB?sslmode=require (see docs/clinic.md)")
    parser.add_argument("--rig-name", help="name shown for this rig on the server (default: the host name)")


def main(args: argparse.Namespace) -> int:
    """Push, print what was sent; exit 0 when everything is on the server, 1 with the reason."""
    from engine.records.paths import default_db_path
    from engine.records.sync import SyncRefused, pending_rows, sync_once

    db = args.db or default_db_path()
    try:
        sent = sync_once(db, args.to, args.rig_name)
        left = {k: v for k, v in pending_rows(db).items() if v}
    except SyncRefused as exc:
        print(f"sync: {exc}")
        return 1
    shown = ", ".join(f"{k} {v}" for k, v in sent.items() if v) or "nothing new"
    print(f"sync: sent {shown}")
    if left:
        # Rows recorded while the pass ran (a live session): the next pass sends them.
        print("sync: recorded during the pass, for the next one: " + ", ".join(f"{k} {v}" for k, v in left.items()))
        return 1
    print("sync: everything is on the clinic server")
    return 0
