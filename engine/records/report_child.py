"""A session's report written by a child process (`main.py report`), not by the app itself.

Why: the report loads the session's telemetry and builds whole-session arrays and plots; its peak
grows with the session's length (about 9 MB per minute of walking, docs/control.md "Memory over a
long session") and CPython keeps part of what it took (about 25 MB per report). The therapist's menu
app lives all day and writes a report after every session, so in its own process those peaks add
up. A child process gives all of it back to the system when it exits, and a report that fails or
runs out of memory fails alone: the app, the menu and the records keep working.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

MAIN_PY = Path(__file__).resolve().parents[2] / "main.py"
# A 60-minute session's report takes ~30 s on this 2-CPU VM at load 2; ten times that is a hung
# child, not a slow one: it is killed and the report can be written later with `main.py report`.
REPORT_TIMEOUT_S = 300.0


class ReportFailed(RuntimeError):
    """The child process did not write the report; the message says why, in its own words."""


def write_session_report_in_child(db_path: str | Path, session_id: int, out_path: str | Path | None = None,
                                  timeout_s: float = REPORT_TIMEOUT_S) -> Path:
    """Write the HTML report of one session with `main.py report` in a child process; returns its
    path (default: reports/ beside the database, as `write_session_report`). Raises ReportFailed."""
    cmd = [sys.executable, str(MAIN_PY), "-q", "report", "--session", str(int(session_id)),
           "--db", str(Path(db_path).resolve())]
    if out_path is not None:
        cmd += ["--out", str(Path(out_path).resolve())]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Below the app's own priority: the app's menu and any next session come first. Set from
        # here, not in the child before exec (preexec_fn is unsafe in the app's threaded process).
        os.setpriority(os.PRIO_PROCESS, child.pid, os.getpriority(os.PRIO_PROCESS, 0) + 5)
    except OSError:
        pass  # it may have ended already; its priority is only a courtesy
    try:
        stdout, stderr = child.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        child.kill()
        child.communicate()
        raise ReportFailed(f"the report of session {session_id} took over {timeout_s:.0f} s and was stopped; "
                           f"write it later with: main.py report --session {session_id}") from exc
    proc = subprocess.CompletedProcess(cmd, child.returncode, stdout, stderr)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        said = _last_words(proc.stderr) or (lines[-1] if lines else "") or "no output"
        raise ReportFailed(f"the report process for session {session_id} ended with exit code {proc.returncode}: {said}")
    path = Path(lines[-1].strip())
    if not path.is_file():
        raise ReportFailed(f"the report process for session {session_id} named {path}, which does not exist")
    return path


def _last_words(stderr: str) -> str:
    """The last meaningful line of a child's stderr (an exception's message, or a log line)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""


__all__ = ["REPORT_TIMEOUT_S", "ReportFailed", "write_session_report_in_child"]
