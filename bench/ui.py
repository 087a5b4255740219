"""The therapist menu's idle cost: `python -m bench ui --json`.

Figures:
- `menu_idle_cpu_fraction`: CPU time (user + system, the UI process with all its threads; the
  control core and the rig are other processes) the real therapist desktop takes while its menu
  sits idle in an X window under Xvfb, divided by the wall time it was measured over (10 s; 3 s
  with --quick). Target: at most 0.05 of a core. CPU time, not wall time: it does not grow when
  other processes load the machine.
- `menu_idle_redraws_per_s`: how often the idle menu was drawn (it draws on change, else 1/s).
- `menu_busy_cpu_fraction`: baseline in the same call, the same menu drawn every pass at the
  session rate (60 Hz), i.e. what the idle menu cost before it drew only on change.

Each measurement runs in its own process (one Panda3D window per process) on a private Xvfb.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.xvfb import start_xvfb

ROOT = Path(__file__).resolve().parent.parent
IDLE_S = 10.0
WINDOW = (1600, 900)


def measure_menu_cpu(work: str, seconds: float = IDLE_S, busy: bool = False) -> dict:
    """In this process (DISPLAY set): open the desktop on a fresh database with a patient and a
    scene chosen, let it settle, then measure its CPU time over `seconds` of idle menu.
    busy=True draws every pass at 60 Hz (the baseline)."""
    from engine.session.desktop import SESSION_FRAME_RATE_HZ, Desktop
    from engine.session.runner import SessionOptions

    work_path = Path(work)
    desktop = Desktop(SessionOptions(headless=False, db=str(work_path / "records.db"), patient="demo-healthy",
                                     scene="grocery-first-visit", size=WINDOW, renderer="tinydisplay"))
    try:
        for _ in range(30):  # the first frames upload the menu and the thumbnail
            desktop.tick()
        before = resource.getrusage(resource.RUSAGE_SELF)
        frames_before = desktop.app.frames
        drawn = 0
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            if busy:
                desktop.app.set_frame_rate(SESSION_FRAME_RATE_HZ)
                desktop.app.win.set_active(True)
                desktop.app.step()
                drawn += 1
            else:
                was = desktop._drawn_at_s
                desktop.tick()
                drawn += desktop._drawn_at_s != was
        wall_s = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        passes = desktop.app.frames - frames_before
    finally:
        desktop.close()
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"cpu_s": cpu_s, "wall_s": wall_s, "cpu_fraction": cpu_s / wall_s, "passes": passes,
            "draws_per_s": drawn / wall_s}


def _child(display: str, seconds: float, busy: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "bench.ui", "--worker", "--seconds", str(seconds), "--work", tmp]
        if busy:
            command.append("--busy")
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 180,
                              env={**__import__("os").environ, "DISPLAY": display})
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"bench ui worker failed: {proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def run(quick: bool = False) -> dict:
    seconds = 3.0 if quick else IDLE_S
    server = start_xvfb(*WINDOW)
    try:
        idle = _child(server.display, seconds, busy=False)
        busy = _child(server.display, seconds, busy=True)
    finally:
        server.stop()
    return {
        "menu_idle_cpu_fraction": round(idle["cpu_fraction"], 4),
        "menu_idle_redraws_per_s": round(idle["draws_per_s"], 2),
        "menu_idle_measured_s": round(idle["wall_s"], 1),
        "menu_busy_cpu_fraction": round(busy["cpu_fraction"], 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ui", description=__doc__)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--busy", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=IDLE_S)
    parser.add_argument("--work", default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure_menu_cpu(args.work, args.seconds, busy=args.busy)))
        return 0
    print(json.dumps(run(quick=args.quick), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
