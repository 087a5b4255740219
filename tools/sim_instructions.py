"""Instructions per simulated second of `simulate` (valgrind), a speed figure the machine's load cannot move.

    python tools/sim_instructions.py [--profile healthy] [--opcodes]

CPU time on a shared machine moves by 2x with the others' work; instruction counts do not. The
simulation of bench clinical's scene runs twice under valgrind (cachegrind, no cache model), for 2
and 6 s of walking; the difference of the two counts divided by the difference of simulated time
leaves out imports and set-up. Slow: about 50x the run's CPU time (minutes).

valgrind's count still moves by a few per cent between identical runs (+-3 % measured, with
PYTHONHASHSEED fixed too). `--opcodes` counts Python bytecodes instead (sys.settrace opcode
events, the same two runs in this process): exact and repeatable, so two trees compare to the
last bytecode, and it says where they are spent (the patient model, the control core, the rig's
firmware, the drivers, the loop). A bytecode is not an instruction (a call costs many more
than an add), so both figures are worth having.
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


# Where bytecodes are spent (--opcodes): path prefixes, first match wins.
_GROUPS = (
    ("patient model", ("devices/sim/patient", "devices/sim/leg_", "devices/sim/swing_shape", "devices/sim/crossing",
                       "devices/sim/foot.py", "devices/sim/recovery", "devices/sim/balance_perturbation",
                       "devices/sim/effort", "devices/sim/intent", "devices/sim/scene_view")),
    ("control core (engine/control)", ("engine/control/",)),
    ("rig firmware (devices/sim)", ("devices/sim/",)),
    ("drivers and protocol (devices)", ("devices/",)),
    ("simulate loop and links (engine/sim)", ("engine/sim/",)),
)


def _opcodes(duration_s: float, profile: str) -> tuple[float, dict]:
    """Bytecodes run by one simulate of duration_s, per function (path relative to the tree)."""
    sys.path.insert(0, str(ROOT))
    from bench.clinical import _scene_dir
    from engine.sim.session import SimOptions, run_simulation

    counts: dict = {}
    root = str(ROOT) + "/"

    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        code = frame.f_code
        key = (code.co_filename.replace(root, ""), code.co_name)

        def local(frame, event, arg):
            if event == "opcode":
                counts[key] = counts.get(key, 0) + 1
            return local
        return local

    with tempfile.TemporaryDirectory(prefix="stepsync-op-") as tmp:
        options = SimOptions(scene="bench-clinical", profile=profile, duration_s=duration_s, seed=1, db=None,
                             scenes_dir=_scene_dir(Path(tmp)))
        sys.settrace(tracer)
        try:
            res = run_simulation(options)
        finally:
            sys.settrace(None)
    return res.sim_s, counts


def _report_opcodes(profile: str) -> None:
    _opcodes(0.5, profile)  # imports and first-call caches, not counted
    (s0, c0), (s1, c1) = (_opcodes(d, profile) for d in DURATIONS_S)
    span = s1 - s0
    per_fn = {key: (c1.get(key, 0) - c0.get(key, 0)) / span for key in c1}
    total = sum(per_fn.values())
    groups: dict = {}
    for (path, _), n in per_fn.items():
        name = next((g for g, prefixes in _GROUPS if path.startswith(prefixes)), "other (stdlib: random.gauss ...)")
        groups[name] = groups.get(name, 0.0) + n
    print(f"{profile}: {total / 1e6:.2f} M Python bytecodes per simulated second")
    for name, n in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"  {100 * n / total:5.1f} %  {n / 1e6:6.2f} M/s  {name}")
    print("  top functions:")
    for (path, fn), n in sorted(per_fn.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {100 * n / total:5.1f} %  {path}:{fn}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="healthy")
    parser.add_argument("--opcodes", action="store_true",
                        help="count Python bytecodes instead (exact, repeatable; no valgrind)")
    parser.add_argument("--run", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run is not None:
        _simulate(args.run, args.profile)
        return 0
    if args.opcodes:
        _report_opcodes(args.profile)
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
