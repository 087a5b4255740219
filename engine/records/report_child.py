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
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

MAIN_PY = Path(__file__).resolve().parents[2] / "main.py"
# A 60-minute session's report takes ~30 s on this 2-CPU VM at load 2; ten times that is a hung
# child, not a slow one: it is killed and the report can be written later with `main.py report`.
REPORT_TIMEOUT_S = 300.0


class ReportFailed(RuntimeError):
    """The child process did not write the report; the message says why, in its own words."""


class ReportJob:
    """One session's report being written by a child process. `poll()` from a frame (it never
    waits), `wait()` where the caller may block (the app's exit, the headless runner)."""

    def __init__(self, db_path: str | Path, session_id: int, out_path: str | Path | None = None,
                 timeout_s: float = REPORT_TIMEOUT_S) -> None:
        self.session_id = int(session_id)
        self.timeout_s = timeout_s
        self.path: Path | None = None
        self.error: str | None = None
        cmd = [sys.executable, str(MAIN_PY), "-q", "report", "--session", str(self.session_id),
               "--db", str(Path(db_path).resolve())]
        if out_path is not None:
            cmd += ["--out", str(Path(out_path).resolve())]
        # Files, not pipes: a child that says more than a pipe holds must not wait for a reader
        # that only looks once a frame.
        self._out = tempfile.TemporaryFile(mode="w+")
        self._err = tempfile.TemporaryFile(mode="w+")
        self._started_s = time.monotonic()
        self._child: subprocess.Popen | None = subprocess.Popen(cmd, stdout=self._out, stderr=self._err, text=True)
        try:
            # Below the app's own priority: the app's menu and any next session come first. Set from
            # here, not in the child before exec (preexec_fn is unsafe in the app's threaded process).
            os.setpriority(os.PRIO_PROCESS, self._child.pid, os.getpriority(os.PRIO_PROCESS, 0) + 5)
        except OSError:
            pass  # it may have ended already; its priority is only a courtesy

    @property
    def done(self) -> bool:
        """The child has ended (or was stopped) and its result is read."""
        return self._child is None

    def poll(self) -> bool:
        """True once the child has ended: then `path` or `error` says how. Never waits."""
        if self._child is None:
            return True
        if self._child.poll() is None:
            if time.monotonic() - self._started_s <= self.timeout_s:
                return False
            self._stop_child()
            return True
        self._finish()
        return True

    def wait(self) -> Path:
        """Wait for the child (at most the rest of its timeout); returns the report's path or
        raises ReportFailed."""
        if self._child is not None:
            remaining_s = max(0.0, self.timeout_s - (time.monotonic() - self._started_s))
            try:
                self._child.wait(timeout=remaining_s)
            except subprocess.TimeoutExpired:
                self._stop_child()
            else:
                self._finish()
        if self.path is None:
            raise ReportFailed(self.error or f"the report of session {self.session_id} was not written")
        return self.path

    def _stop_child(self) -> None:
        assert self._child is not None
        self._child.kill()
        self._child.wait()
        self._child = None
        self._close_files()
        self.error = (f"the report of session {self.session_id} took over {self.timeout_s:.0f} s and was stopped; "
                      f"write it later with: main.py report --session {self.session_id}")

    def _finish(self) -> None:
        assert self._child is not None
        returncode, self._child = self._child.returncode, None
        self._out.seek(0)
        self._err.seek(0)
        stdout, stderr = self._out.read(), self._err.read()
        self._close_files()
        lines = [line for line in stdout.splitlines() if line.strip()]
        if returncode != 0 or not lines:
            said = _last_words(stderr) or (lines[-1] if lines else "") or "no output"
            self.error = (f"the report process for session {self.session_id} ended with exit code "
                          f"{returncode}: {said}")
            return
        path = Path(lines[-1].strip())
        if not path.is_file():
            self.error = f"the report process for session {self.session_id} named {path}, which does not exist"
            return
        self.path = path

    def _close_files(self) -> None:
        self._out.close()
        self._err.close()


def write_session_report_in_child(db_path: str | Path, session_id: int, out_path: str | Path | None = None,
                                  timeout_s: float = REPORT_TIMEOUT_S) -> Path:
    """Write the HTML report of one session with `main.py report` in a child process and wait for
    it; returns its path (default: reports/ beside the database, as `write_session_report`).
    Raises ReportFailed."""
    return ReportJob(db_path, session_id, out_path, timeout_s).wait()


def _last_words(stderr: str) -> str:
    """The last meaningful line of a child's stderr (an exception's message, or a log line)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""


__all__ = ["REPORT_TIMEOUT_S", "ReportFailed", "ReportJob", "write_session_report_in_child"]
