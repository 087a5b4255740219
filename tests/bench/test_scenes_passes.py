"""bench/scenes.py's chunk-frame statistics over several passes of the same walk (counted on made-up
frames, so the machine's load does not enter), and the priority the walks run at."""

from __future__ import annotations

import os
import threading

from bench.scenes import event_medians, ordinary_position_medians, raised_priority


def _pass(chunk_ms: dict[int, float], events: dict[int, tuple], ordinary_ms: float = 10.0, frames: int = 8):
    """One pass: frame k costs chunk_ms[k] (else ordinary_ms), with events[k] as its chunk events."""
    return [(k, chunk_ms.get(k, ordinary_ms), chunk_ms.get(k, ordinary_ms) / 2, events.get(k, ())) for k in range(frames)]


def test_a_chunk_frame_delayed_in_one_pass_counts_by_its_median():
    # ("attach", 3) is 40 ms in one pass of three (the scheduler), 11-12 ms in the others;
    # ("shown", 2) is 14-15 ms in every pass: it is the worst chunk frame, not the delayed one
    passes = [
        _pass({2: 11.0, 5: 14.0}, {2: (("attach", 3),), 5: (("shown", 2),)}),
        _pass({3: 40.0, 5: 15.0}, {3: (("attach", 3),), 5: (("shown", 2),)}),  # attached a frame later
        _pass({2: 12.0, 5: 14.5}, {2: (("attach", 3),), 5: (("shown", 2),)}),
    ]
    medians = event_medians(passes)
    assert medians[("attach", 3)] == (12.0, 6.0, 3)
    assert medians[("shown", 2)] == (14.5, 7.25, 3)
    assert max(medians, key=lambda e: medians[e][0]) == ("shown", 2)


def test_an_event_over_several_frames_counts_its_worst_frame_in_each_pass():
    # a chunk copied in slices over frames 1-3: each pass counts its worst of those frames
    slice_frames = {1: (("slice", 4),), 2: (("slice", 4),), 3: (("slice", 4),)}
    passes = [_pass({1: 11.0, 2: 19.0, 3: 12.0}, slice_frames), _pass({1: 17.0, 2: 11.0, 3: 11.0}, slice_frames),
              _pass({1: 11.0, 2: 11.0, 3: 30.0}, slice_frames)]
    assert event_medians(passes)[("slice", 4)][0] == 19.0  # median of 19, 17 and 30


def test_an_event_missing_from_a_pass_says_in_how_many_it_was():
    passes = [_pass({4: 13.0}, {4: (("attach", 9),)}), _pass({}, {}), _pass({5: 15.0}, {5: (("attach", 9),)})]
    assert event_medians(passes)[("attach", 9)] == (14.0, 7.0, 2)


def test_ordinary_positions_leave_out_a_frame_that_was_a_chunk_frame_in_any_pass():
    passes = [_pass({1: 30.0}, {1: (("attach", 1),)}, frames=4), _pass({2: 50.0}, {}, frames=4),
              _pass({}, {}, frames=4)]
    medians = ordinary_position_medians(passes)
    assert len(medians) == 3  # frames 0, 2 and 3; frame 1 was a chunk frame in the first pass
    assert sorted(medians) == [(10.0, 5.0)] * 3  # frame 2's 50 ms in one pass of three is not its median


def _in_thread(fn):
    """Run fn in its own thread (nice is per thread on Linux: the test's thread keeps its own)."""
    out = {}
    thread = threading.Thread(target=lambda: out.update(result=fn()))
    thread.start()
    thread.join()
    return out["result"]


def test_the_walks_run_at_the_priority_asked_for_and_it_is_restored_after(tmp_path):
    group = tmp_path / "autogroup"
    group.write_text("/autogroup-7 nice 0\n")

    def walk():
        before = os.getpriority(os.PRIO_PROCESS, 0)
        with raised_priority(before + 3, group) as (thread_nice, group_nice):
            inside = os.getpriority(os.PRIO_PROCESS, 0)
            written = group.read_text()
        return before, thread_nice, group_nice, inside, written, group.read_text()

    before, thread_nice, group_nice, inside, written, after = _in_thread(walk)
    assert thread_nice == inside == before + 3  # a lower priority is always permitted
    assert written.strip() == str(before + 3) and group_nice == before + 3  # the session's group too
    assert after.strip() == "0"  # the group's nice put back


def test_nice_zero_leaves_the_priority_alone(tmp_path):
    group = tmp_path / "autogroup"
    group.write_text("/autogroup-7 nice 0\n")

    def walk():
        before = os.getpriority(os.PRIO_PROCESS, 0)
        with raised_priority(0, group) as (thread_nice, group_nice):
            return before, thread_nice, group_nice, group.read_text()

    before, thread_nice, group_nice, text = _in_thread(walk)
    assert thread_nice == before and group_nice == 0 and text == "/autogroup-7 nice 0\n"
