"""Patients at start-up: a fresh records database gets the demo patients the README names, so a
first `make run` has someone to walk with, and the menu says they were created."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def ensure_demo_patients(store) -> list[str]:
    """On a database without any patient (first run), create every demo patient with its
    prescription and virtual-rig profile; returns the codes created (empty otherwise: a clinic's
    records are not filled with demo patients once real ones exist)."""
    from engine.records.store import DEMO_PATIENTS, ensure_demo_patient

    if store.list_patients():
        return []
    for code in DEMO_PATIENTS:
        ensure_demo_patient(store, code)
    created = list(DEMO_PATIENTS)
    log.info("first run: created the demo patients %s in %s", ", ".join(created), store.path)
    return created


def first_run_message(created: list[str]) -> str:
    """What the menu says after `ensure_demo_patients` created patients."""
    if not created:
        return ""
    return f"first run: created the simulated demo patients {', '.join(created)}"
