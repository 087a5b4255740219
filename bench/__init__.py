"""Benchmarks: `python -m bench NAME [--quick] --json`, or `python -m bench all`.

Each benchmark is a module `bench/NAME.py` with `run(quick: bool) -> dict[str, float|int|bool]`
returning named figures; targets are compared as ratios against baselines run in the same call.
"""

# Order used by `make bench`.
BENCHMARKS = ["devices", "control_loop", "obstacle_latency", "scenes", "render", "recorder"]
BENCHMARKS.append("ui")  # issue 15: the idle therapist menu's CPU

# Targets from the issues, shown beside the figures in docs/benchmarks.md.
TARGETS: dict[str, dict[str, str]] = {
    "devices": {"io_cycle_fraction": "< 0.10"},
    "control_loop": {
        "rt_p99_lateness_us": "<= 50 and below both peers",
        "rt_max_lateness_us": "<= floor_max_lateness_us + 200",
        "rt_missed_cycles": "<= floor_missed_cycles",
        "core_cpu_fraction": "< 0.40",
    },
    "obstacle_latency": {"obstacle_to_device_cycles": "<= 2"},
    "scenes": {"max_build_s": "< 1", "max_draw_calls": "< 300"},
    "render": {"visual_belt_error_mm_p99": "<= 5"},
    "recorder": {"recorder_cpu_fraction": "< 0.05", "db_mb_per_10min": "< 20"},
}
TARGETS["ui"] = {"menu_idle_cpu_fraction": "<= 0.05"}
