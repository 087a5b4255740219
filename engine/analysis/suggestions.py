"""Suggestions for each finding: scenes chosen by what they train, settings, and cueing.

A suggestion is advice for the therapist, never an action: nothing here writes a setting, and no
caller applies one. A change happens only when the therapist makes it (menu, audit log) or accepts
a progression proposal. Each suggestion carries its level of evidence:

- A: meta-analysis or systematic review of controlled trials;
- B: controlled or cohort studies;
- C: small or uncontrolled studies, expert consensus;
- D: mechanism only (this system's own model of the device), no clinical trial.

Scenes are picked from the scene library by their `training_targets` (engine/scene/model.py),
and for poor obstacle performance by the obstacle kinds they contain.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from engine.analysis.findings import SIDES, Finding

EVIDENCE_LEVELS = {
    "A": "meta-analysis or systematic review of controlled trials",
    "B": "controlled or cohort studies",
    "C": "small or uncontrolled studies, expert consensus",
    "D": "device mechanism only, no clinical trial",
}

# finding -> training targets that address it, best first
TARGETS_FOR: dict[str, list[str]] = {
    "asymmetry": ["steady_walking", "endurance"],
    "low_clearance": ["clearance", "curbs"],
    "foot_drop": ["clearance"],
    "shuffling": ["steady_walking", "doorways"],
    "freezing": ["doorways", "stop_and_go"],
    "high_variability": ["steady_walking", "dual_task"],
    "long_double_support": ["steady_walking", "uneven_ground"],
    "slow_speed": ["speed", "endurance"],
    "obstacle_performance": ["clearance", "curbs"],
    "heart_rate_zone": ["endurance", "steady_walking"],
    "weight_bearing_asymmetry": ["steady_walking", "uneven_ground"],
}


@dataclass
class Suggestion:
    """One piece of advice for one finding."""

    finding: str
    kind: str  # scene, setting or cueing
    text: str
    evidence_level: str  # A-D, see EVIDENCE_LEVELS
    source: str
    scenes: list[str] = field(default_factory=list)
    setting: dict = field(default_factory=dict)  # advisory only: {name, side, direction}

    def to_dict(self) -> dict:
        out = asdict(self)
        out["evidence"] = EVIDENCE_LEVELS[self.evidence_level]
        return out


def _library():
    try:
        from engine.scene.loader import load_library

        return [s for s in load_library().scenes.values() if not s.abstract]
    except Exception:  # no scenes folder (a database copied elsewhere): suggest without scenes
        return []


def scenes_for(targets: list[str], scenes=None, obstacle_kinds: list[str] | None = None, limit: int = 3) -> list[str]:
    """Scene ids that train `targets` (most matches first, gentler first), or that contain the
    obstacle kinds."""
    scenes = _library() if scenes is None else scenes
    order = {"gentle": 0, "moderate": 1, "hard": 2}
    ranked = []
    for s in scenes:
        tt = set(getattr(s, "training_targets", []) or [])
        score = sum(len(targets) - i for i, t in enumerate(targets) if t in tt)
        if obstacle_kinds:
            kinds = {o.kind for o in s.obstacles}
            score += 10 * len(kinds & set(obstacle_kinds))
        if score > 0:
            ranked.append((-score, order.get(s.difficulty, 1), s.id))
    return [sid for _, _, sid in sorted(ranked)[:limit]]


def _side_text(f: Finding) -> str:
    return "both legs" if f.side not in (0, 1) else f"the {SIDES[f.side]} leg"


def suggest(f: Finding, scenes=None) -> list[Suggestion]:
    """Suggestions for one present finding ([] for a normal or unassessed one)."""
    if not f.present:
        return []
    out: list[Suggestion] = []
    kinds = None
    if f.key == "obstacle_performance":
        kinds = [k["kind"] for k in f.evidence.get("kinds", []) if k.get("poor")]
    sc = scenes_for(TARGETS_FOR.get(f.key, []), scenes, obstacle_kinds=kinds)
    targets = ", ".join(TARGETS_FOR.get(f.key, []))

    def scene(text: str, level: str, source: str) -> None:
        if sc:
            out.append(Suggestion(f.key, "scene", f"{text}: {', '.join(sc)}", level, source, scenes=sc))

    k = f.key
    if k == "asymmetry":
        scene(f"Practise steady walking ({targets})", "B",
              "Mehrholz et al. 2017 Cochrane review of electromechanical gait training after stroke (unconfirmed)")
        out.append(Suggestion(k, "setting", f"Consider more exoskeleton guidance for {_side_text(f)} (the side with the longer swing), "
                              "weaned as symmetry improves (assist-as-needed)", "C",
                              "Patterson et al. 2008 (paretic swing longer); assist-as-needed practice (unconfirmed)",
                              setting={"name": "guidance", "side": f.side, "direction": "raise"}))
        out.append(Suggestion(k, "cueing", "Metronome at the preferred cadence to even out step times", "B",
                              "Thaut et al. 1997, rhythmic auditory stimulation after stroke (unconfirmed)",
                              setting={"name": "cueing.metronome", "direction": "on"}))
    elif k in ("low_clearance", "foot_drop"):
        scene(f"Practise lifting the foot over obstacles ({targets})", "C",
              "Said et al. 2001/2005: obstacle crossing after stroke; Chen et al. 1991")
        out.append(Suggestion(k, "setting", f"Clearance boost for {_side_text(f)} (extra swing flexion), reduced as clearance recovers",
                              "D", "StepSync exoskeleton clearance boost (bench clinical boost_rescue_rate)",
                              setting={"name": "clearance_boost", "side": f.side, "direction": "raise"}))
        if k == "foot_drop":
            out.append(Suggestion(k, "setting", "Assess for an ankle-foot orthosis: the exoskeleton's ankle is not actuated", "A",
                                  "Tyson & Kent 2013 meta-analysis of AFOs after stroke (unconfirmed)",
                                  setting={"name": "ankle_foot_orthosis", "side": f.side, "direction": "assess"}))
    elif k == "shuffling":
        out.append(Suggestion(k, "cueing", "Floor stripes across the path at the target step length (stripe_spacing_m)",
                              "A", "Spaulding et al. 2013 meta-analysis (visual cues: stride length g 0.55); Morris 1996; Lewis 2000",
                              scenes=["grocery-cued-walk"], setting={"name": "cueing.floor_stripes", "direction": "on"}))
        scene(f"Practise long steps in steady walking ({targets})", "C", "Morris et al. 1996 (training at control stride length)")
    elif k == "freezing":
        out.append(Suggestion(k, "cueing", "Metronome about 10 % above the preferred cadence, with floor stripes",
                              "B", "Arias & Cudeiro 2010 (metronome reduced FOG); Spaulding et al. 2013 meta-analysis",
                              scenes=["grocery-cued-walk"], setting={"name": "cueing.metronome", "direction": "on"}))
        scene(f"Practise the triggers with cues ({targets})", "C", "Schaafsma et al. 2003: doorways, starts and turns trigger FOG")
    elif k == "high_variability":
        out.append(Suggestion(k, "cueing", "Metronome at the preferred cadence for a steady rhythm", "A",
                              "Spaulding et al. 2013 meta-analysis (auditory cues: cadence g 0.56)",
                              setting={"name": "cueing.metronome", "direction": "on"}))
        scene(f"Practise steady walking, then walking with a second task ({targets})", "C",
              "Hausdorff 2005: variability rises under dual task (unconfirmed)")
    elif k == "long_double_support":
        out.append(Suggestion(k, "setting", "Body-weight support to practise single-leg loading, weaned as double support shortens",
                              "C", "body-weight-supported treadmill training (expert consensus; unconfirmed)",
                              setting={"name": "bws_fraction", "direction": "raise"}))
        scene(f"Steady walking ({targets})", "C", "Perry & Burnfield (textbook)")
    elif k == "slow_speed":
        scene(f"Progress speed and walking time ({targets})", "B",
              "Boyne et al. 2023 HIT-Stroke; Pang et al. 2006 meta-analysis (aerobic training after stroke)")
        out.append(Suggestion(k, "setting", "Raise the belt speed fraction in steps of the meaningful change (0.05-0.10 m/s) "
                              "through the progression proposal", "B", "Perera et al. 2006 (meaningful change)",
                              setting={"name": "speed_fraction", "direction": "raise"}))
    elif k == "obstacle_performance":
        scene(f"Practise the obstacle kinds that failed ({', '.join(kinds or [])})", "C", "Chen et al. 1994 (practice and time to adapt)")
        out.append(Suggestion(k, "setting", "Slower approach to those obstacles (approach speed fraction) so there is time to adapt",
                              "B", "Chen et al. 1994: success 0.16 -> 0.92 in older adults as available time rose 200 -> 450 ms",
                              setting={"name": "approach_speed_fraction", "direction": "lower"}))
        out.append(Suggestion(k, "setting", f"Clearance boost for {_side_text(f)} at step-over obstacles", "D",
                              "StepSync exoskeleton clearance boost", setting={"name": "clearance_boost", "side": f.side, "direction": "raise"}))
    elif k == "heart_rate_zone":
        direction = f.evidence.get("direction")
        if direction == "above":
            out.append(Suggestion(k, "setting", "Lower the speed fraction or add rests: the heart rate ran above the zone", "B",
                                  "Billinger et al. 2014 AHA statement (unconfirmed); Tanaka et al. 2001",
                                  setting={"name": "speed_fraction", "direction": "lower"}))
        else:
            out.append(Suggestion(k, "setting", "Raise intensity within the prescription (speed or time): the heart rate stayed below the zone",
                                  "B", "Boyne et al. 2023 HIT-Stroke; Billinger et al. 2014 (unconfirmed)",
                                  setting={"name": "speed_fraction", "direction": "raise"}))
        scene(f"Longer steady walking ({targets})", "C", "Pang et al. 2006 meta-analysis")
    elif k == "weight_bearing_asymmetry":
        out.append(Suggestion(k, "setting", f"Weight-shift practice onto {_side_text(f)} (the under-loaded one), e.g. a "
                              "compelled body-weight shift: a small lift under the other shoe", "B",
                              "Aruin et al. 2012, Top Stroke Rehabil 19:556 (RCT, 18 chronic stroke: weight bearing "
                              "and speed improved); Andersson & Franzen 2015 pilot",
                              setting={"name": "weight_shift", "side": f.side, "direction": "practise"}))
        out.append(Suggestion(k, "setting", f"Exoskeleton guidance for {_side_text(f)} in stance so it can take load, weaned "
                              "as the load share evens out", "D", "StepSync exoskeleton guidance (device mechanism)",
                              setting={"name": "guidance", "side": f.side, "direction": "raise"}))
        scene(f"Steady walking, then uneven ground ({targets})", "C",
              "weight-bearing asymmetry and balance after stroke (PMC4777057; Kamphuis et al. 2013)")
    return out


def suggest_all(findings: list[Finding], scenes=None) -> dict[str, list[Suggestion]]:
    """Suggestions per present finding key (scene library read once)."""
    scenes = _library() if scenes is None else scenes
    return {f.key: suggest(f, scenes) for f in findings if f.present}
