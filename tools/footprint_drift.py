"""How far the control core's footprints drift from the ground truth over a simulated walk.

    python tools/footprint_drift.py PROFILE [--seed S] [--duration-s N] [--every K]

Simulates PROFILE (a name or a YAML path) on bench clinical's scene with the bench's therapist,
then pairs each of the truth's steps with the core's HEEL_STRIKE of the same foot (within 0.1 s)
and prints the core's landing (the event's v2, route metres) minus the truth's heel (`heel_x_m`),
every K-th step, and the mean per-step bias of the core's heel-to-heel distance against the
truth's per side. The core chains each landing from the other foot's planted footprint, so a
per-step bias accumulates (docs/patients.md, "Footprint drift").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    """Print the drift table and the per-side bias; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration-s", type=float, default=60.0)
    ap.add_argument("--every", type=int, default=10, help="print every K-th step")
    args = ap.parse_args(argv)

    from bench.clinical import _scene_dir, _Therapist
    from engine.control.layout import EventKind
    from engine.sim.session import SimOptions, run_simulation

    with tempfile.TemporaryDirectory(prefix="stepsync-drift-") as tmp:
        res = run_simulation(SimOptions(scene="bench-clinical", profile=args.profile, duration_s=args.duration_s,
                                        seed=args.seed, db=None, scenes_dir=_scene_dir(Path(tmp)), probe=_Therapist()))
    _, events = res.records
    strikes = [(float(e["t_s"]), int(e["side"]), float(e["v2"])) for e in events if e["kind"] == EventKind.HEEL_STRIKE]
    bias: dict[int, list[float]] = {0: [], 1: []}
    n = 0
    for step in res.truth["steps"]:
        mine = [h for h in strikes if h[1] == step["side"] and abs(h[0] - step["t_s"]) < 0.1]
        if not mine:
            continue
        drift_mm = (mine[0][2] - step["heel_x_m"]) * 1000.0
        other = [h for h in strikes if h[1] != step["side"] and h[0] < step["t_s"] - 0.05]
        if other:
            bias[step["side"]].append((mine[0][2] - other[-1][2] - step["length_m"]) * 1000.0)
        if n % args.every == 0:
            print(f"{step['t_s']:8.3f} s  side {step['side']}  truth {step['heel_x_m']:9.4f} m  "
                  f"core {mine[0][2]:9.4f} m  drift {drift_mm:+6.1f} mm")
        n += 1
    for side, errors in bias.items():
        if errors:
            print(f"side {side}: {len(errors)} steps, step-length bias mean {statistics.mean(errors):+.3f} mm, "
                  f"median {statistics.median(errors):+.3f}, sd {statistics.pstdev(errors):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
