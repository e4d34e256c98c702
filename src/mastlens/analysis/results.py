"""Typed analysis results. ``StatsResult.model_dump(mode="json")`` is the ``stats --json`` contract and
``AgreementResult.model_dump(mode="json")`` the ``agree --json`` one; the CLI and the report only render them.

Conventions: proportions, rates and CIs are fractions in [0, 1]; a CI is ``[low, high]``; ``None`` (JSON
null) means "not defined for these counts" (e.g. a prevalence with no assessed trace).
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, Field

CI = Optional[tuple[float, float]]


class CategoryStat(BaseModel):
    """A category (FC1..FC3) is present in a trace when any of its modes is present."""

    id: str
    n_assessed: int = 0
    prevalence: float | None = None
    prevalence_ci: CI = None


class ModeStat(BaseModel):
    id: str
    n_assessed: int
    n_not_assessed: int = 0
    prevalence: float | None = None
    prevalence_ci: CI = None
    prevalence_success: float | None = None
    prevalence_success_ci: CI = None
    prevalence_failed: float | None = None
    prevalence_failed_ci: CI = None
    delta_pp: float | None = None
    lift: float | None = None
    odds_ratio: float | None = None
    odds_ratio_ci: CI = None
    p_value: float | None = None
    p_holm: float | None = None
    verdict: str = "insufficient"  # fatal | benign | neutral | insufficient
    # assessed, but on fewer than min_assessed traces: renderers show "too few assessed (n_assessed)", not a prevalence
    too_few_assessed: bool = False
    # with a reference set (--reference): the judge's error on the overlap and the Rogan-Gladen prevalence
    sensitivity: float | None = None
    specificity: float | None = None
    n_reference_overlap: int = 0
    prevalence_corrected: float | None = None
    prevalence_corrected_ci: CI = None
    prevalence_corrected_note: str | None = None
    # when the group mixes sources (GroupStats.stratified): delta_pp, lift, odds_ratio and p_value are the
    # within-source ones (Mantel-Haenszel, Cochran-Mantel-Haenszel) and the pooled ones are kept here
    stratified: bool = False
    n_strata: int = 0  # sources with both outcomes assessed, the ones the stratified figures use
    delta_pp_pooled: float | None = None
    odds_ratio_pooled: float | None = None
    p_value_pooled: float | None = None


class SourceOutcome(BaseModel):
    """One source's runs with a known outcome (see :mod:`mastlens.analysis.strata`)."""

    source: str
    n: int = 0
    n_failed: int = 0
    n_success: int = 0
    auroc: float | None = None  # in OutcomeSeparation.sources: the AUROC within this source
    flagged_failed: float | None = None
    flagged_success: float | None = None


class UnexplainedFailures(BaseModel):
    """Failed traces in which no mode was found present: failures the annotations do not explain.

    ``not_assessed`` counts, per mode, how many of those traces did not assess it (the judge could not look),
    so "nothing found" is never read as "nothing wrong".
    """

    n: int = 0
    share_of_failed: float | None = None
    trace_ids: list[str] = Field(default_factory=list)  # the first few, for drilling in
    not_assessed: dict[str, int] = Field(default_factory=dict)


class GroupStats(BaseModel):
    name: str
    n: int
    n_failed: int
    n_unknown_outcome: int = 0
    success_rate: float | None = None
    mean_score: float | None = None
    modes_per_trace: float | None = None
    modes_per_trace_sd: float | None = None
    modes_per_failed_trace: float | None = None
    modes_per_failed_trace_sd: float | None = None
    modes_histogram: dict[str, int] = Field(default_factory=dict)
    modes_histogram_failed: dict[str, int] = Field(default_factory=dict)
    categories: list[CategoryStat] = Field(default_factory=list)
    modes: list[ModeStat] = Field(default_factory=list)
    unexplained: UnexplainedFailures = Field(default_factory=UnexplainedFailures)
    # the group's runs with a known outcome come from more than one source: the mode tests are stratified
    stratified: bool = False
    sources: list[SourceOutcome] = Field(default_factory=list)  # filled when stratified


class Cooccurrence(BaseModel):
    group: str
    a: str
    b: str
    n_both: int
    phi: float | None = None
    p_b_given_a: float | None = None


class Precedence(BaseModel):
    """For traces where both modes are present and localized: how often ``first`` shows up before ``second``."""

    group: str
    first: str
    second: str
    n_both_localized: int
    share_first: float
    share_second: float = 0.0  # how often ``second`` shows up first instead (ties count for neither)


class FirstOnset(BaseModel):
    """How often a mode is the earliest localized mode of a failed trace."""

    group: str
    mode: str
    n_first: int
    share: float


class Comparison(BaseModel):
    a: str
    b: str
    mode: str
    diff: float | None = None  # prevalence in a - prevalence in b
    diff_ci: CI = None
    p_value: float | None = None
    p_holm: float | None = None


class RegressionTerm(BaseModel):
    term: str
    odds_ratio: float | None = None
    ci: CI = None
    p_value: float | None = None


class Regression(BaseModel):
    n: int = 0
    note: str | None = None
    terms: list[RegressionTerm] = Field(default_factory=list)


class Recommendation(BaseModel):
    group: str
    intervention: str
    modes: list[str]
    score: float
    example_traces: list[str] = Field(default_factory=list)
    title: str = ""
    fix: str = ""


class Excluded(BaseModel):
    """Annotations left out of the statistics, and why."""

    stale: int = 0
    errors: int = 0
    not_in_store: int = 0


class StatsResult(BaseModel):
    set: str
    group_by: str
    success_rule: str
    success_decided: str = ""  # which decided success (the rule, the source's own flag), with counts
    model_aliases: dict[str, str] = Field(default_factory=dict)  # --model-alias, applied to model groups
    # grouping by model, runs that record none are grouped by their source: these groups are sources
    groups_by_source: list[str] = Field(default_factory=list)
    verdict_rules: str = ""  # the fatal/benign/neutral/insufficient rules applied, in words
    n_traces: int = 0
    excluded: Excluded = Field(default_factory=Excluded)
    groups: list[GroupStats] = Field(default_factory=list)
    cooccurrence: list[Cooccurrence] = Field(default_factory=list)
    precedence: list[Precedence] = Field(default_factory=list)
    first_onsets: list[FirstOnset] = Field(default_factory=list)
    comparison: list[Comparison] = Field(default_factory=list)
    regression: Regression = Field(default_factory=Regression)
    recommendations: list[Recommendation] = Field(default_factory=list)
    reference: str | None = None  # the reference set behind the corrected prevalences
    separation: list["OutcomeSeparation"] = Field(default_factory=list)  # "all" first, then per group
    # the judge's own task_completed against the real outcome ("all" first, then per group); empty when it never calls
    outcome_calls: list["OutcomeCall"] = Field(default_factory=list)
    calibration: "CalibrationApplied | None" = None  # --calibration: thresholds applied to this set's verdicts


class OutcomeCall(BaseModel):
    """How often the judge's own outcome call (``task_completed``) matches the run's real outcome, over
    runs with a known outcome the judge made a call on (:mod:`mastlens.analysis.outcome_call`)."""

    group: str = "all"
    n_known: int = 0  # runs with a known outcome
    n_called: int = 0  # of them, the judge said completed or not completed
    n_agree: int = 0
    accuracy: float | None = None
    accuracy_ci: CI = None  # Wilson 95%
    completed_but_failed: int = 0
    not_completed_but_succeeded: int = 0


# -- calibration (analysis/calibration.py) ---------------------------------------------------------------

MIN_REFERENCE_POSITIVES = 5


class ModeCalibration(BaseModel):
    id: str
    n: int = 0  # traces both sets assessed this mode on
    reference_positives: int = 0
    present: int = 0  # J's present verdicts there
    with_confidence: int = 0  # of them, those carrying a confidence (only those can fall below a threshold)
    threshold: float | None = None
    kappa_before: float | None = None
    kappa_before_ci: CI = None
    kappa_after: float | None = None
    kappa_after_ci: CI = None
    note: str = ""


class Calibration(BaseModel):
    """Per-mode thresholds for set ``set`` fitted against ``reference`` (or read from a file)."""

    set: str = ""
    reference: str = ""
    n_traces: int = 0
    min_reference_positives: int = MIN_REFERENCE_POSITIVES
    thresholds: dict[str, float] = Field(default_factory=dict)
    modes: list[ModeCalibration] = Field(default_factory=list)
    micro_before: float | None = None
    micro_before_ci: CI = None
    micro_after: float | None = None
    micro_after_ci: CI = None
    file: str | None = None  # where it was read from


class CalibrationApplied(BaseModel):
    """What ``--calibration`` did to one set: the thresholds and how many present verdicts fell below them."""

    file: str | None = None
    fitted_on: str = ""  # "J against R"
    thresholds: dict[str, float] = Field(default_factory=dict)
    demoted: dict[str, int] = Field(default_factory=dict)  # mode -> present verdicts counted absent

    @classmethod
    def of(cls, cal: Calibration, demoted: dict[str, int]) -> CalibrationApplied:
        return cls(file=cal.file, fitted_on=f"{cal.set} against {cal.reference}" if cal.set else "",
                   thresholds=dict(cal.thresholds), demoted=demoted)

    def describe(self) -> str:
        """One line for every output that applied it."""
        where = f" {self.file}" if self.file else ""
        fitted = f" (fitted on {self.fitted_on})" if self.fitted_on else ""
        if not self.thresholds:
            return f"calibration{where}{fitted} applied: no mode has a threshold, nothing changed"
        total = sum(self.demoted.values())
        marks = ", ".join(f"{m} >= {t:g}" + (f" ({self.demoted[m]} dropped)" if self.demoted.get(m) else "")
                          for m, t in self.thresholds.items())
        return (f"calibration{where}{fitted} applied: a present verdict below its mode's confidence threshold "
                f"counts as absent ({total} counted absent; {marks})")


class AgreementStat(BaseModel):
    """Agreement of set B with reference set A on one mode (or pooled over modes, for ``micro``)."""

    id: str
    n: int
    n_labelled_a: int = 0  # traces the reference assesses this mode on (n counts those B assesses too)
    prevalence_a: float | None = None
    prevalence_b: float | None = None
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    accuracy: float | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    kappa: float | None = None
    kappa_ci: CI = None
    pabak: float | None = None


class MacroAgreement(BaseModel):
    f1: float | None = None
    kappa: float | None = None


class SharedLabelBlocks(BaseModel):
    """A label set whose source file gave several compared traces one identical block of labels (the
    adapter marks each label with its block: ``label_block``), so its labels were not made per trace."""

    set: str
    n_traces: int  # compared traces
    n_marked: int  # of those, labels that carry a block mark
    n_shared: int  # of those, labels whose block another compared trace has too
    n_blocks: int  # distinct blocks among the marked
    example: list[str] = Field(default_factory=list)  # trace ids of the largest shared block


class AgreementResult(BaseModel):
    a: str
    b: str
    n_traces: int
    modes: list[AgreementStat] = Field(default_factory=list)
    micro: AgreementStat
    macro: MacroAgreement = Field(default_factory=MacroAgreement)
    localization: "Localization | None" = None  # when A localizes (decisive steps/agents or mode onsets)
    calibration: CalibrationApplied | None = None  # --calibration, applied to B
    shared_labels: list[SharedLabelBlocks] = Field(default_factory=list)  # either set, when its labels repeat


# -- fidelity: localization, outcome separation (analysis/localization.py, analysis/fidelity.py) ------------


class ModeLocalization(BaseModel):
    """First-step accuracy of one mode over traces where both sets mark it present and localized."""

    id: str
    n: int
    exact: float | None = None
    within_1: float | None = None
    within_3: float | None = None


class Localization(BaseModel):
    """How well B names where the runs A labels failed went wrong (A's decisive step and agent are the truth).

    Step shares are over ``n_step`` (traces where A names a step; B naming none counts as a miss); agent
    accuracy over ``n_agent`` (A names an agent). ``no_step`` is the share of the ``n`` failed traces where
    B names no step.
    """

    group: str = "all"
    n: int = 0
    n_step: int = 0
    step_exact: float | None = None
    step_exact_ci: CI = None
    step_within_1: float | None = None
    step_within_1_ci: CI = None
    step_within_3: float | None = None
    step_within_3_ci: CI = None
    n_agent: int = 0
    agent: float | None = None
    agent_ci: CI = None
    no_step: float | None = None
    modes: list[ModeLocalization] = Field(default_factory=list)


class OutcomeSeparation(BaseModel):
    """Whether the failure vectors tell failed from successful runs: AUROC of the number of present modes
    for failure (ties count half) with a seeded bootstrap 95% CI, and the share of each side flagged
    (any mode present)."""

    group: str
    n: int = 0
    n_failed: int = 0
    n_success: int = 0
    auroc: float | None = None
    auroc_ci: CI = None
    flagged_failed: float | None = None
    flagged_success: float | None = None
    note: str | None = None  # why there is no AUROC, or a warning (CI includes 0.5)
    # the runs come from more than one source: ``auroc`` / ``auroc_ci`` are within-source (weighted by failed x
    # successful pairs), ``auroc_pooled`` the figure that mixes sources, ``sources`` each source's own
    stratified: bool = False
    auroc_pooled: float | None = None
    sources: list[SourceOutcome] = Field(default_factory=list)
    sources_note: str | None = None  # the sources and how they were combined, in words


StatsResult.model_rebuild()
AgreementResult.model_rebuild()
