"""Benchmarks: `python -m bench NAME [--quick] --json`, or `python -m bench all`.

Each benchmark is a module `bench/NAME.py` with `run(quick: bool) -> dict[str, float|int|bool]`
returning named figures; targets are compared as ratios against baselines run in the same call.
"""

# Order used by `make bench`.
BENCHMARKS = ["devices", "control_loop", "obstacle_latency", "scenes", "render", "recorder", "session", "session_hog",
              "sync", "clinical"]
BENCHMARKS += ["findings", "stumble"]  # issue 13
# Run only by name (`python -m bench NAME`), never by `make bench`: gpu_frames needs a real GPU.
EXTRA = ["gpu_frames"]
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
    "scenes": {"max_build_s": "< 1", "max_draw_calls": "< 300", "max_chunk_frame_ms": "<= 1.5 x normal_frame_ms"},
    "render": {"visual_belt_error_mm_p99": "<= 5"},
    "recorder": {"recorder_cpu_fraction": "< 0.05", "db_mb_per_10min": "< 20"},
    "sync": {"sync_rigs": "4", "sync_lag_s_p95": "<= 2", "rows_lost": "0", "duplicate_rows": "0"},
    "clinical": {
        "event_timing_ms_median": "<= 5", "event_timing_ms_p95": "<= 15", "event_offset_ms_max_abs": "<= 2",
        "step_length_cm_median": "<= 1", "step_length_cm_p95": "<= 3", "toe_clearance_cm_median": "<= 1",
        "toe_clearance_cm_p95": "<= 2.5", "obstacle_outcome_agreement": ">= 0.97", "healthy_clear_rate": ">= 0.95",
        "sim_speedup": ">= 20",
    },
    "session": {
        "session_core_missed_cycles": "<= session_floor_missed_cycles",
        "session_core_max_lateness_us": "<= session_floor_max_lateness_us + 200",
        "visual_belt_error_mm_p99": "<= 5",
        "recorder_max_lag_s": "<= 0.2",
        "false_stops": "= 0",
    },
}
TARGETS["session_hog"] = TARGETS["session"]
TARGETS["findings"] = {"min_sensitivity": ">= 0.90", "min_specificity": ">= 0.90"}
TARGETS["stumble"] = {"detection_latency_ms_p95": "<= 50", "sensitivity": ">= 0.95",
                      "false_alarms_per_hour": "<= 0.5", "response_peak_decel_mps2": "<= prescription max_decel_mps2"}
TARGETS["ui"] = {"menu_idle_cpu_fraction": "<= 0.05"}
BENCHMARKS.append("selfpaced")  # issue 12
TARGETS["selfpaced"] = {"speed_tracking_rms_mps": "<= 0.02", "position_rms_mm": "<= 14",
                        "accel_limit_violations": "0", "prescription_violations": "0"}
BENCHMARKS.append("progression")  # issue 12: automatic progression over 20 simulated sessions
TARGETS["progression"] = {"max_step_guidance": "<= 0.10", "max_step_speed_mps": "<= 0.10 (up 0.05, back 0.10)",
                          "worsening_stepped_back": "true", "prescription_violations": "0"}
BENCHMARKS.append("simspeed")  # issue 10: simulate's speed alone (bench clinical reports it over its whole run)
TARGETS["simspeed"] = {"sim_speedup": ">= 20", "core_us_per_cycle + rig_us_per_cycle": "<= 50"}
