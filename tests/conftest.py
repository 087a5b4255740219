"""Shared pytest setup: the project root on sys.path, Panda3D quiet and offscreen."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Child processes started by tests (rig, core, recorder, `python main.py`) find the packages too.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
