"""Regenerate the engine's pictures in docs/img from real runs (offscreen, virtual rig):

  python -m engine.session.docs_images [--out docs/img]

- patient-grocery.png, patient-sidewalk.png: the patient's view a few seconds into headless
  sessions of a grocery and a sidewalk scene;
- hud.png: the first frame of the sidewalk session that shows obstacle feedback on the HUD
  (else its last walking frame);
- menu.png: the therapist menu with a session running (live panel filled in), drawn with
  OpenGL through EGL where available.

Each session runs in its own process (one ShowBase per process).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RENDERER = "tinydisplay"  # what a clinic PC without a GPU driver shows; --renderer gl for OpenGL
log = logging.getLogger(__name__)


def _session_shots(scene_id: str, duration_s: float, work: Path) -> list[Path]:
    shots = work / scene_id
    command = [sys.executable, "main.py", "-q", "run", "--scene", scene_id, "--patient", "demo-healthy",
               "--duration-s", str(duration_s), "--headless", "--vr", "off", "--size", "1280x720", "--renderer", RENDERER,
               "--db", str(work / "docs.db"), "--screenshots", str(shots)]
    subprocess.run(command, cwd=ROOT, check=False, timeout=duration_s + 120)
    return sorted(shots.glob("patient-*.png"))


def _menu_shot(out: Path, work: Path, tries: int = 3) -> None:
    """The menu with a session walking (live panel filled in). The menu is brought up (Tab) as
    soon as Start is pressed: with it up only what changes is drawn, which keeps frames short on a
    busy machine. A session the core stopped for a missed deadline (the machine too busy) is
    walked again, up to `tries` times; the picture says what happened either way."""
    from engine.session.desktop import Desktop
    from engine.session.runner import SessionOptions

    desktop = Desktop(SessionOptions(scene="grocery-first-visit", patient="demo-healthy", headless=True,
                                     db=str(work / "menu.db"), size=(1280, 720), renderer="gl"))
    try:
        desktop.menu.entries["goal_steps"].enterText("120")
        desktop.menu.set_goals_from_entries()
        for _ in range(tries):
            desktop.menu.start()
            desktop.tick()
            desktop.toggle_menu()
            started = time.monotonic()
            while time.monotonic() - started < 10.0 and desktop.controller.session_id is not None:
                desktop.tick()
            if desktop.controller.session_id is not None:
                break
            log.warning("menu picture: the session stopped (%s); again", desktop.menu.message)
            for _ in range(5):
                if not desktop.app.banner.text:
                    break
                desktop.menu.ack_alarms()
                desktop.menu.rearm()
                for _ in range(20):
                    desktop.tick()
        for _ in range(3):
            desktop.app.win.set_active(True)
            desktop.app.step()
        desktop.app.save_view(out / "menu.png")
    finally:
        desktop.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.session.docs_images", description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    parser.add_argument("--renderer", choices=["tinydisplay", "gl"], default="tinydisplay")
    args = parser.parse_args(argv)
    global RENDERER
    RENDERER = args.renderer
    logging.basicConfig(level=logging.INFO)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        grocery = _session_shots("grocery-first-visit", 12, work)
        if grocery:
            shutil.copy(grocery[0], out / "patient-grocery.png")
        sidewalk = _session_shots("sidewalk-curb-crossing", 50, work)
        walking = [p for p in sidewalk if "summary" not in p.name]
        if walking:
            shutil.copy(walking[0], out / "patient-sidewalk.png")
            feedback = [p for p in walking if p.stem.endswith("-feedback")]
            shutil.copy(feedback[0] if feedback else walking[-1], out / "hud.png")
        _menu_shot(out, work)
    for name in ("menu.png", "patient-grocery.png", "patient-sidewalk.png", "hud.png"):
        print(f"{out / name}: {'ok' if (out / name).exists() else 'MISSING'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
