"""Benchmarks: `python -m bench NAME [--quick] --json`, or `python -m bench all`.

Each benchmark is a module `bench/NAME.py` with `run(quick: bool) -> dict[str, float|int|bool]`
returning named figures; targets are compared as ratios against baselines run in the same call.
"""

# Order used by `make bench`.
BENCHMARKS = ["devices", "control_loop", "obstacle_latency", "scenes", "render", "recorder"]
