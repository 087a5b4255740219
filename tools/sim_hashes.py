"""Fingerprints of a few short `simulate` sessions, to show a speed-up changed nothing.

    python tools/sim_hashes.py before.json              # in the tree before the change
    python tools/sim_hashes.py after.json --compare before.json

Each case (profile, seed) is simulated on bench clinical's scene without a database; the SHA-256
of its telemetry records, its events and its ground truth are written as JSON. With --compare,
every hash must equal the other file's (exit 1 and the differences otherwise). A change meant to
be behaviour-neutral (performance work) keeps them; a model change legitimately does not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CASES = (("healthy", 1), ("parkinsonian-freezing", 1), ("hemiparetic-left", 2))


def fingerprints(duration_s: float) -> dict:
    """{"PROFILE/SEED": {"telemetry", "events", "truth" hashes, counts}} for CASES."""
    from bench.clinical import _scene_dir
    from engine.sim.session import SimOptions, run_simulation

    out = {}
    with tempfile.TemporaryDirectory(prefix="stepsync-simhash-") as tmp:
        scenes = _scene_dir(Path(tmp))
        for profile, seed in CASES:
            cpu0 = time.process_time()
            res = run_simulation(SimOptions(scene="bench-clinical", profile=profile, duration_s=duration_s,
                                            seed=seed, db=None, scenes_dir=scenes))
            telemetry, events = res.records
            out[f"{profile}/{seed}"] = {
                "telemetry": hashlib.sha256(telemetry.tobytes()).hexdigest(),
                "events": hashlib.sha256(events.tobytes()).hexdigest(),
                "truth": hashlib.sha256(json.dumps(res.truth, sort_keys=True, default=str).encode()).hexdigest(),
                "records": [len(telemetry), len(events)],
            }
            print(f"{profile} seed {seed}: {res.sim_s:.1f} s simulated, {time.process_time() - cpu0:.1f} s CPU",
                  file=sys.stderr, flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="JSON file the fingerprints are written to")
    parser.add_argument("--compare", metavar="JSON", help="fingerprints to compare with (from another tree)")
    parser.add_argument("--duration-s", type=float, default=8.0, help="walking time per case (default 8)")
    args = parser.parse_args()
    prints = fingerprints(args.duration_s)
    Path(args.out).write_text(json.dumps(prints, indent=1))
    if not args.compare:
        return 0
    other = json.loads(Path(args.compare).read_text())
    diffs = [f"{case} {key}" for case in sorted(set(prints) | set(other))
             for key in ("telemetry", "events", "truth", "records")
             if prints.get(case, {}).get(key) != other.get(case, {}).get(key)]
    print("same sessions" if not diffs else "DIFFERENT: " + ", ".join(diffs))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
