"""Instructions per simulated second of `simulate` (valgrind), a speed figure the machine's load cannot move.

    python tools/sim_instructions.py [--profile healthy]

CPU time on a shared machine moves by 2x with the others' work; instruction counts do not. The
simulation of bench clinical's scene runs twice under valgrind (cachegrind, no cache model), for 2
and 6 s of walking; the difference of the two counts divided by the difference of simulated time
leaves out imports and set-up. Slow: about 50x the run's CPU time (minutes).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DURATIONS_S = (2.0, 6.0)


def _simulate(duration_s: float, profile: str) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.clinical import _scene_dir
    from engine.sim.session import SimOptions, run_simulation

    with tempfile.TemporaryDirectory(prefix="stepsync-ir-") as tmp:
        res = run_simulation(SimOptions(scene="bench-clinical", profile=profile, duration_s=duration_s,
                                        seed=1, db=None, scenes_dir=_scene_dir(Path(tmp))))
    print(f"simulated_s={res.sim_s!r}", file=sys.stderr)


def _count(duration_s: float, profile: str) -> tuple[float, int]:
    out = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, __file__, "--run", str(duration_s), "--profile", profile],
        capture_output=True, text=True, check=True, cwd=ROOT)
    sim = re.search(r"simulated_s=([0-9.]+)", out.stderr)
    refs = re.search(r"I\s+refs:\s+([0-9,]+)", out.stderr)
    if not sim or not refs:
        raise SystemExit(f"could not read valgrind's output:\n{out.stderr[-2000:]}")
    return float(sim.group(1)), int(refs.group(1).replace(",", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="healthy")
    parser.add_argument("--run", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run is not None:
        _simulate(args.run, args.profile)
        return 0
    if shutil.which("valgrind") is None:
        print("sim_instructions: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    (s0, ir0), (s1, ir1) = (_count(d, args.profile) for d in DURATIONS_S)
    per_s = (ir1 - ir0) / (s1 - s0)
    print(f"{args.profile}: {per_s / 1e6:.0f} M instructions per simulated second "
          f"({ir0:,} at {s0:.2f} s, {ir1:,} at {s1:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
