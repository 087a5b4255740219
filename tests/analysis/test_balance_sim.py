"""Balance from the insoles on the real core and rig (`engine.sim`: the control core on a simulated
clock, the rig's patient model and insole firmware over the wire protocol), against the patient
model's own loads (its ground truth), then through the records into the findings and the report."""

from __future__ import annotations

import statistics

import pytest

from bench.findings import Attendant
from engine.analysis.balance import balance_summary, walking_stances
from engine.analysis.findings import detect_weight_bearing
from engine.analysis.session_data import load_session
from engine.records.report import build_session_html
from engine.records.store import Store
from engine.sim.session import SimOptions, run_simulation


@pytest.fixture(scope="module")
def paretic(tmp_path_factory):
    # the obstacle-free scene, and a therapist who acknowledges alarms (as the findings bench's):
    # a stumble response (its stances are left out of the findings) lasts seconds, not the session
    db = tmp_path_factory.mktemp("balance") / "records.db"
    result = run_simulation(SimOptions(scene="grocery-first-visit", profile="hemiparetic-left", duration_s=40.0,
                                       seed=3, db=db, patient_code="wb-1", probe=Attendant()))
    with Store(db) as store:
        data = load_session(store, result.session_id)
        rows = store.stances(result.session_id)
        html = build_session_html(store, result.session_id)
    return result, data, rows, html


def _matched(truth: dict, rows: list[dict]) -> list[tuple[dict, dict]]:
    """(measured row, the patient model's stance) pairs: the true stance whose end (toe off) is
    nearest the row's toe off, within 0.1 s."""
    out = []
    for row in rows:
        true = [s for s in truth["stances"] if s["side"] == row["side"]]
        best = min(true, key=lambda s: abs(s["t_s"] + s["duration_s"] - row["t_s"]))
        if abs(best["t_s"] + best["duration_s"] - row["t_s"]) < 0.1:
            out.append((row, best))
    return out


def _true_share(truth: dict, rows: list[dict], side: int) -> float:
    """A leg's share of the two legs' mean true stance impulse over the stances the analysis used."""
    pairs = _matched(truth, rows)
    mean = [statistics.mean(t["impulse_ns"] for r, t in pairs if r["side"] == k) for k in (0, 1)]
    return mean[side] / sum(mean)


def test_every_stance_is_recorded_with_its_balance(paretic):
    result, _, rows, _ = paretic
    for side in (0, 1):
        measured = [r for r in rows if r["side"] == side]
        true = [s for s in result.truth["stances"] if s["side"] == side]
        assert abs(len(measured) - len(true)) <= 3, (side, len(measured), len(true))
        assert all(r["flags"] & 1 for r in measured)  # the rig's insoles resolve medial/lateral
        assert statistics.median(r["cop_ap_m"] for r in measured) > 0.08  # heel-to-toe roll-over


def test_stances_end_where_the_weight_comes_off(paretic):
    # the paretic toe may drag into the swing (the insole stays in contact); the stance is the
    # weight-bearing part, as the patient model's (the drag is left out: balance.py). On the patient
    # model of 18:00 this session had 7 of 17 paretic stances ending 39-81 ms after the model's toe
    # off without that (median error 26 ms), under 12 ms with it. On the model merged at 19:05 the
    # drag is rarer (one stance 43 ms late without it, none with it) and the insole's own contact
    # ends up to 23 ms before the model's toe off on the paretic leg, with or without it (the
    # model's terminal forefoot load already sits at a toe-drag level there; the insole event
    # test's toe-off tail, issues 10/11): so the check is that nothing reads late by a drag
    result, _, rows, _ = paretic
    for side in (0, 1):
        pairs = [(r, t) for r, t in _matched(result.truth, rows) if r["side"] == side and t["t_s"] > 1.5]  # not the start
        late = [r["t_s"] - (t["t_s"] + t["duration_s"]) for r, t in pairs]
        assert len(pairs) >= 10
        assert statistics.median(abs(x) for x in late) < 0.025, (side, sorted(late))
        assert sum(x > 0.03 for x in late) <= 0.15 * len(late), (side, sorted(late))
        assert statistics.median(abs(r["duration_s"] - t["duration_s"]) for r, t in pairs) < 0.025


def test_load_share_and_sway_agree_with_the_patient_model(paretic):
    result, data, _, _ = paretic
    summary = balance_summary(data)
    legs = summary["legs"]
    used = [r for side in (0, 1) for r in walking_stances(data, side)]
    for side in (0, 1):
        assert legs[side]["load_share"] == pytest.approx(_true_share(result.truth, used, side), abs=0.03)
        true_sway_mm = statistics.median(s["cop_ml_sd_m"] for s in result.truth["stances"] if s["side"] == side) * 1000
        # cell noise adds to the true sway; it never hides it
        assert true_sway_mm * 0.8 <= legs[side]["ml_sway_mm"] <= true_sway_mm + 3.0
    # the paretic (left) leg stands less and takes weight less readily: it carries less
    assert legs[0]["load_share"] < legs[1]["load_share"]
    finding = detect_weight_bearing(data)
    if min(leg["stances"] for leg in legs) >= 8:
        assert finding.assessed
        assert finding.present == (_true_share(result.truth, used, 0) < 0.41)
        if finding.present:
            assert finding.side == 0
    else:  # stumble responses (left out) took the rest: the detector says so, it does not guess
        assert not finding.assessed and "too few stances" in finding.summary


def test_the_session_report_shows_balance_and_the_weight_bearing_verdict(paretic):
    _, data, _, html = paretic
    assert "Balance from the insoles" in html
    assert "Weight-bearing asymmetry" in html  # the detector's row, found or within norm
    legs = balance_summary(data)["legs"]
    assert f"{legs[0]['cop_ap_cm']:.1f}" in html  # the left leg's AP progression in its table
