"""The view distance follows the measured frame time on software renderers, within its bounds."""

from __future__ import annotations

from engine.render.frame_budget import (
    VIEW_DISTANCE_MAX_M,
    VIEW_DISTANCE_MIN_M,
    DetailGovernor,
    is_software_renderer,
)


def _feed(governor: DetailGovernor, frame_ms: float, seconds: float, start_s: float = 0.0) -> float:
    t = start_s
    while t < start_s + seconds:
        governor.observe(t, frame_ms)
        t += frame_ms / 1000.0
    return t


def test_slow_frames_shorten_the_view_but_never_below_the_planner_horizon():
    governor = DetailGovernor(budget_ms=26.7)
    t = _feed(governor, 150.0, 30.0)
    assert governor.view_distance_m == VIEW_DISTANCE_MIN_M
    assert governor.min_seen_m == VIEW_DISTANCE_MIN_M
    # Fast again: the view grows back to full detail.
    _feed(governor, 5.0, 60.0, t)
    assert governor.view_distance_m == VIEW_DISTANCE_MAX_M


def test_frames_within_budget_keep_full_detail_and_a_gpu_is_left_alone():
    governor = DetailGovernor(budget_ms=26.7)
    _feed(governor, 20.0, 10.0)
    assert governor.view_distance_m == VIEW_DISTANCE_MAX_M
    off = DetailGovernor(budget_ms=26.7, enabled=False)
    _feed(off, 500.0, 10.0)
    assert off.view_distance_m == VIEW_DISTANCE_MAX_M


def test_software_renderers_are_recognised():
    assert is_software_renderer("TinyXGraphicsPipe ")
    assert is_software_renderer("eglGraphicsPipe llvmpipe (LLVM 15.0.6, 256 bits)")
    assert not is_software_renderer("eglGraphicsPipe NVIDIA H200/PCIe/SSE2")


def test_the_view_starts_and_grows_back_only_to_the_world_s_own_distance():
    governor = DetailGovernor(budget_ms=26.7, max_m=60.0)
    assert governor.view_distance_m == 60.0
    t = _feed(governor, 150.0, 0.3)  # the first decision already shortens what the world draws
    assert governor.view_distance_m == 60.0 * 0.75
    t = _feed(governor, 150.0, 30.0, t)
    assert governor.view_distance_m == VIEW_DISTANCE_MIN_M
    _feed(governor, 5.0, 60.0, t)
    assert governor.view_distance_m == 60.0  # never past it
