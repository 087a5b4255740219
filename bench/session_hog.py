"""`python -m bench session --hog` as its own name, so `make bench` records both (see session.py)."""

from __future__ import annotations


def run(quick: bool, hog: bool = True) -> dict:
    """The session benchmark with a CPU hog at normal priority on every core."""
    from bench.session import run as run_session

    return run_session(quick, hog=True)
