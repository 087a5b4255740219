"""Run a test scenario in a child Python process (one Panda3D ShowBase per process).

The scenario is a module-level function `func(tmp: str) -> dict`; the child prints its result
as one `RESULT {json}` line. The child runs in its own session so a hang is killed whole.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_scenario(module: str, func: str, tmp: str | Path, timeout_s: float = 400.0, env: dict | None = None,
                 keep_stderr: bool = False) -> dict:
    """Run module.func(str(tmp)) in a child process and return its dict; fails the test with
    the child's stderr when it printed no result or ran past `timeout_s`. `env`: variables added to
    the child's (DISPLAY). `timeout_s` is a cap for a hung child, not a speed check: a whole menu
    session takes 30-60 s on a quiet machine and several times that at load 15 on 2 cores."""
    code = (f"import json; from {module} import {func}; "
            f"print('RESULT ' + json.dumps({func}({str(tmp)!r})))")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, **env} if env else None)
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"{module}.{func} still running after {timeout_s:.0f} s; its stderr:\n{stderr[-3000:]}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    if keep_stderr:
        result["stderr"] = stderr
    return result
