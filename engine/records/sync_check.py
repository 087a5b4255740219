"""Checks of a sync from both ends: rows per table on a rig and on the server, rows stored twice,
the server's size, what the server has of a live session. Used by the tests, the benchmark and
whoever audits a clinic's sync (SQL stays in this package)."""

from __future__ import annotations

from pathlib import Path

from engine.records.store import Store
from engine.records.sync import PULLED_PREFIX

# ---------------------------------------------------------------------------------------------
LOCAL_TABLES = ("prescriptions", "sessions", "events", "steps", "strides", "audit_log", "frame_timing", "stances",
                "session_plans")


def local_counts(db_path: Path) -> dict[str, int]:
    """Rows per table in a rig file that belong on the server, telemetry as records."""
    with Store(db_path) as store:
        out = {t: store._query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"] for t in LOCAL_TABLES}
        # Versions taken from the clinic are the server's own rows, not this rig's.
        out["prescriptions"] -= store._query("SELECT COUNT(*) AS n FROM prescriptions WHERE who LIKE ?",
                                             (PULLED_PREFIX + "%",))[0]["n"]
        out["session_plans"] -= store._query("SELECT COUNT(*) AS n FROM session_plans WHERE who LIKE ?",
                                             (PULLED_PREFIX + "%",))[0]["n"]
        out["telemetry_records"] = store._query("SELECT COALESCE(SUM(n_records), 0) AS n FROM telemetry_chunks")[0]["n"]
    return out


def server_counts(conn, rig_id: str) -> dict[str, int]:
    """Rows per table the server holds for one rig, telemetry as records."""
    out = {t: conn.execute(f"SELECT count(*) FROM {t} WHERE rig_id = %s", (rig_id,)).fetchone()[0]
           for t in LOCAL_TABLES}
    out["telemetry_records"] = conn.execute(
        "SELECT coalesce(sum(n_records), 0) FROM telemetry_chunks WHERE rig_id = %s", (rig_id,)).fetchone()[0]
    return out


def duplicate_rows(conn) -> int:
    """Rows stored twice: same natural key, or telemetry cycles covered twice."""
    dup = 0
    for t in LOCAL_TABLES:
        dup += conn.execute(f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {t} "
                            "GROUP BY rig_id, local_id) g WHERE n > 1").fetchone()[0]
    # Telemetry: overlapping cycle ranges within a session.
    dup += conn.execute(
        """SELECT coalesce(sum(overlap), 0) FROM (
             SELECT greatest(0, lag(last_cycle) OVER w - first_cycle + 1) AS overlap
             FROM telemetry_chunks WINDOW w AS (PARTITION BY session_id ORDER BY first_cycle)) o"""
    ).fetchone()[0]
    return int(dup)


def rig_id_of(db_path: Path) -> str:
    """The rig id kept in a rig file (made on first use)."""
    from engine.records.sync import RigFile

    rig = RigFile(db_path)
    try:
        return rig.rig_id()
    finally:
        rig.close()


def server_bytes(url: str) -> int:
    """The server database's size after a checkpoint (bytes)."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("CHECKPOINT")
        return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])


def rigs_synced_since(conn, since) -> int:
    """How many rigs finished a pass after `since` (a timezone-aware datetime)."""
    return int(conn.execute("SELECT count(*) FROM rigs WHERE last_sync_at > %s", (since,)).fetchone()[0])


def server_last_cycle(conn, rig_id: str, local_session_id: int) -> int | None:
    """The last telemetry cycle the server has of a rig's session (None: nothing yet)."""
    row = conn.execute("SELECT max(c.last_cycle) FROM telemetry_chunks c JOIN sessions s ON s.id = c.session_id "
                       "WHERE s.rig_id = %s AND s.local_id = %s", (rig_id, local_session_id)).fetchone()
    return None if row[0] is None else int(row[0])
