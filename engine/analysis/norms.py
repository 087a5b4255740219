"""Thresholds the findings use, each with its published source.

Every number here is a norm or cut-off from the literature listed in /work/shared/REFERENCES.md
(and docs/findings.md). `confirmed` is False where the value was not seen in the source itself
(REFERENCES.md marks it "unconfirmed"): a finding built on it says so in its evidence, and the
therapist reads it as a prompt to look, not as a classification.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Norm:
    """A threshold with its unit, what it means and where it comes from."""

    key: str
    value: float
    unit: str
    meaning: str
    source: str
    confirmed: bool = True

    def describe(self) -> str:
        flag = "" if self.confirmed else " (unconfirmed)"
        return f"{self.meaning}: {self.value:g} {self.unit}{flag} [{self.source}]"


NORMS: dict[str, Norm] = {n.key: n for n in (
    # -- symmetry ratios, larger over smaller side (Patterson 2010 recommends the ratio form)
    Norm("step_length_ratio_max", 1.08, "ratio", "upper limit of a symmetric step-length ratio",
         "Patterson et al. 2010, Gait Posture 31:241", confirmed=False),
    Norm("swing_time_ratio_max", 1.06, "ratio", "upper limit of a symmetric swing-time ratio",
         "Patterson et al. 2010, Gait Posture 31:241", confirmed=False),
    Norm("stance_time_ratio_max", 1.05, "ratio", "upper limit of a symmetric stance-time ratio",
         "Patterson et al. 2010, Gait Posture 31:241", confirmed=False),
    Norm("step_time_ratio_max", 1.10, "ratio", "upper limit of a symmetric temporal ratio "
         "(95% CI of 24 controls: 0.9-1.1)", "Patterson et al. 2008, Arch Phys Med Rehabil 89:304"),
    # -- toe clearance (Winter: 1.29 +/- 0.45 cm young; 1.1 cm elderly)
    Norm("mtc_mean_young_m", 0.0129, "m", "minimum toe clearance, healthy young mean",
         "Winter 1992, Phys Ther 72:45", confirmed=False),
    Norm("mtc_sd_young_m", 0.0045, "m", "minimum toe clearance, healthy young SD",
         "Winter 1992, Phys Ther 72:45", confirmed=False),
    Norm("mtc_mean_elderly_m", 0.011, "m", "minimum toe clearance, healthy elderly mean",
         "Winter 1991 (via Kirtley, clinicalgaitanalysis.com)"),
    # reduced clearance: median below the young mean - 1 SD; foot drop: below mean - 2 SD or toe
    # scuffs in more swings than older adults miss an MTC event (18.7 %, Santhiranayagam 2015)
    Norm("mtc_reduced_m", 0.0129 - 0.0045, "m", "reduced clearance: median MTC below young mean - 1 SD",
         "Winter 1992, Phys Ther 72:45", confirmed=False),
    Norm("mtc_foot_drop_m", 0.0129 - 2 * 0.0045, "m", "foot drop: median MTC below young mean - 2 SD",
         "Winter 1992, Phys Ther 72:45", confirmed=False),
    Norm("scuff_share_max", 0.187, "share of swings", "toe scuffs (MTC <= 0) in more swings than "
         "older adults lack an MTC minimum", "Santhiranayagam et al. 2015, JNER 12:58", confirmed=False),
    # -- short shuffling steps: walk ratio (step length / cadence), speed-independent
    Norm("walk_ratio_min_m_per_spm", 0.0045, "m/(steps/min)", "shuffling: walk ratio below this "
         "(healthy adults about 0.0055-0.0065; Parkinson's disease lower)",
         "Sekiya & Nagasaki 1998, Gait Posture 7:225; Zanardi et al. 2021, Sci Rep 11:752",
         confirmed=False),
    # -- freezing: trembling in place, rapid short steps (3-8 Hz) with no progression
    Norm("freeze_step_time_share", 0.6, "of median step time", "a freezing step is faster than this "
         "share of the median step (trembling 3-8 Hz)", "Moore et al. 2008, J Neurosci Methods 167:340",
         confirmed=False),
    Norm("freeze_step_length_share", 0.4, "of median step length", "and a run of them progresses less "
         "than this share of the median step per step (mean step length)", "Schaafsma et al. 2003, Eur J Neurol 10:391 (FOG definition)", confirmed=False),
    Norm("freeze_min_duration_s", 1.0, "s", "an episode lasts at least this long (Mancini 2021: "
         "very short < 1 s, short 2-5 s, long > 5 s)", "Mancini et al. 2021, JNER 18:1"),
    # -- stride-time variability (steady strides only)
    Norm("stride_cv_adult_max_pct", 3.0, "%", "stride-time CV upper limit, healthy adults (1-3 %)",
         "Hausdorff 2005, JNER 2:19; Hausdorff et al. 1999"),
    Norm("stride_sd_older_max_s", 0.080, "s", "stride-time SD above this in adults >= 70 y lies "
         "between non-fallers (49 ms) and later fallers (106 ms)",
         "Hausdorff, Rios & Edelberg 2001, Arch Phys Med Rehabil 82:1050", confirmed=False),
    # -- double support
    Norm("double_support_normal_pct", 20.0, "% of gait cycle", "double support at free speed "
         "(2 x 10 %), grows with age", "Perry & Burnfield, Gait Analysis (textbook)"),
    Norm("double_support_max_pct", 30.0, "% of gait cycle", "long double support: 1.5 x the "
         "textbook 20 % (older adults and PD lie above the young norm)",
         "Perry & Burnfield (textbook); Zanardi et al. 2021, Sci Rep 11:752", confirmed=False),
    # -- self-selected speed
    Norm("speed_household_mps", 0.4, "m/s", "household ambulation below",
         "Perry et al. 1995, Stroke 26:982"),
    Norm("speed_limited_mps", 0.8, "m/s", "limited community ambulation below",
         "Perry et al. 1995, Stroke 26:982"),
    Norm("speed_risk_mps", 1.0, "m/s", "higher risk of adverse outcomes below",
         "Cesari et al. 2005, J Am Geriatr Soc 53:1675"),
    # -- obstacles: 4 of 24 healthy older adults stepped on an obstacle (at least once in the study's
    # crossings; none of 48 healthy adults tripped). Chen's 4/24 is a share of people, not of
    # crossings: taken as a share of crossings it is the project's reading (docs/findings.md), so
    # marked unconfirmed; healthy adults' per-crossing contact rate is lower still.
    Norm("obstacle_fail_share_max", 4 / 24, "share of crossings", "touched or tripped more often "
         "than healthy older adults (4 of 24 stepped on an obstacle)", "Chen et al. 1991, J Gerontol 46:M196",
         confirmed=False),
    # -- heart rate
    Norm("hrr_low", 0.40, "of heart-rate reserve", "lower bound of moderate aerobic training",
         "Billinger et al. 2014, Stroke 45:2532", confirmed=False),
    Norm("hrr_high", 0.70, "of heart-rate reserve", "upper bound of the training zone",
         "Billinger et al. 2014, Stroke 45:2532", confirmed=False),
    Norm("hr_out_share_max", 0.10, "of walking time", "out of zone longer than this share of "
         "walking time", "convention of this project (no published cut-off)", confirmed=False),
    # -- balance from the insoles (engine/analysis/balance.py)
    Norm("load_share_min", 0.41, "share of both legs' load", "weight-bearing asymmetry: one leg "
         "carries less than this share (over-loaded above 1 - it); a standing criterion applied "
         "here to the stance load impulse while walking",
         "WBA criterion < 41 % / > 59 % of body weight (Weight-bearing asymmetry: recovery or not?, "
         "dumas-03629370); stroke: 60.3 +/- 7.1 % on the sound leg (PMC4777057)", confirmed=False),
    Norm("load_share_mdc", 0.05, "share of body weight", "minimal detectable change of the weight-"
         "bearing distribution", "Weight-bearing asymmetry: recovery or not? (dumas-03629370)",
         confirmed=False),
    # -- trend: meaningful change
    Norm("speed_mcid_mps", 0.10, "m/s", "substantial meaningful change in gait speed",
         "Perera et al. 2006, J Am Geriatr Soc 54:743", confirmed=False),
    Norm("stride_sd_mcid_s", 0.01, "s", "meaningful change in stance/swing-time SD",
         "Brach et al. 2010 (PMC2818277)", confirmed=False),
)}


def norm(key: str) -> Norm:
    """The norm called `key` (KeyError names it)."""
    return NORMS[key]


def hr_max_tanaka_bpm(age_years: float) -> float:
    """Age-predicted maximum heart rate, 208 - 0.7 x age (Tanaka, Monahan & Seals 2001)."""
    return 208.0 - 0.7 * age_years
