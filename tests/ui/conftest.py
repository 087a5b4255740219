"""UI harness fixtures: one Xvfb server for the test session, and a runner that plays a
therapist flow in a child process (one Panda3D window per process) on that display.

Screenshots of every step go to a folder under pytest's tmp_path; when a test fails they are
copied to build/ui-screenshots/<test name>/ (kept), and STEPSYNC_UI_SHOTS=DIR keeps them always
(see test_therapist_flow.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.xvfb import start_xvfb, xvfb_available
from tests.child_scenario import run_scenario

ROOT = Path(__file__).resolve().parents[2]
KEPT = ROOT / "build" / "ui-screenshots"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def xdisplay():
    """DISPLAY of a private Xvfb server (1600x900, 24 bit)."""
    if not xvfb_available():
        pytest.skip("Xvfb is not installed (tools/bootstrap.sh installs it)")
    server = start_xvfb(1600, 900)
    yield server.display
    server.stop()


def run_flow(module: str, func: str, work: Path, display: str, timeout_s: float = 400.0) -> dict:
    """Run module.func(work) in a child process on `display`; returns its dict."""
    return run_scenario(module, func, work, timeout_s=timeout_s, env={"DISPLAY": display}, keep_stderr=True)
