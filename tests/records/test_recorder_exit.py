"""A failing recorder leaves at once: it does not wait for a compaction it would throw away."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import time

from engine.records.recorder import _abandon_compaction
from tests.records.conftest import wait_until


def _long_compaction() -> None:
    time.sleep(60)


def test_abandoning_kills_the_in_flight_compaction_instead_of_waiting_for_it():
    executor = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    future = executor.submit(_long_compaction)
    workers = list(executor._processes.values())
    assert len(workers) == 1
    assert wait_until(lambda: future.running(), timeout_s=60.0)  # the worker has taken the task
    _abandon_compaction(executor)
    # Gone long before the 60 s task could end (the pytest timeout bounds the wait).
    assert wait_until(lambda: not workers[0].is_alive(), timeout_s=30.0)
    assert workers[0].exitcode is not None and workers[0].exitcode < 0  # killed, not finished
    assert wait_until(future.done, timeout_s=30.0)  # failed (broken pool), never left pending
