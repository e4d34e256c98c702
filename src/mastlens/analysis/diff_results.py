"""Typed results of ``mastlens diff``: ``DiffResult.model_dump(mode="json")`` is the ``diff --json`` contract.

Conventions as in :mod:`mastlens.analysis.results`: fractions in [0, 1], a CI is ``[low, high]``, ``None``
means "not defined for these counts". Every difference is NEW minus BASE (positive: more in NEW).
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, Field

from mastlens.analysis.results import CalibrationApplied, GroupStats

CI = Optional[tuple[float, float]]

PAIRED_TEST = "McNemar exact (paired)"
UNPAIRED_TEST = "Fisher exact (unpaired)"


class SideSummary(BaseModel):
    """One run (a value of the ``--by`` key) as judged in one annotation set."""

    name: str
    set: str
    n_judge_errors: int = 0  # traces of this run the judge failed on (left out of every figure)
    success_rate_ci: CI = None
    mean_score_ci: CI = None
    n_scored: int = 0
    modes_per_failed_trace_ci: CI = None
    assessed_share: dict[str, float | None] = Field(default_factory=dict)  # mode -> assessed / (traces + errors)
    stats: GroupStats  # prevalence with Wilson CIs, fatal/benign verdicts, categories (as ``stats``)


class OutcomeChange(BaseModel):
    """Success rate and mean score, NEW minus BASE (over the pairs when paired)."""

    n_success: int = 0  # traces (or pairs) with a known outcome on both sides
    success_diff: float | None = None
    success_diff_ci: CI = None
    success_p: float | None = None
    n_score: int = 0
    score_diff: float | None = None
    score_diff_ci: CI = None
    score_p: float | None = None


class ModeChange(BaseModel):
    """One mode, BASE vs NEW. Paired: over the matched pairs assessed on both sides; unpaired: each side over
    its assessed traces."""

    id: str
    category: str = ""
    n_base: int = 0
    k_base: int = 0
    prevalence_base: float | None = None
    prevalence_base_ci: CI = None
    n_new: int = 0
    k_new: int = 0
    prevalence_new: float | None = None
    prevalence_new_ci: CI = None
    diff: float | None = None
    diff_ci: CI = None  # Newcombe hybrid score (paired: Newcombe's method 10)
    gained: int | None = None  # paired only: pairs absent in BASE, present in NEW
    lost: int | None = None  # paired only: pairs present in BASE, absent in NEW
    p_value: float | None = None
    p_holm: float | None = None
    significant: bool = False  # Holm p < alpha
    verdict_base: str = "insufficient"
    verdict_new: str = "insufficient"


class EvidenceRef(BaseModel):
    step: int | None = None
    quote: str = ""


class ExampleTrace(BaseModel):
    trace_id: str
    side: Literal["base", "new"]
    success: bool | None = None
    reason: str = ""
    evidence: list[EvidenceRef] = Field(default_factory=list)


class VerdictChange(BaseModel):
    mode: str
    kind: Literal["no_longer_fatal", "newly_fatal", "appeared"]
    verdict_base: str
    verdict_new: str
    prevalence_base: float | None = None
    prevalence_base_ci: CI = None
    prevalence_new: float | None = None
    prevalence_new_ci: CI = None
    examples: list[ExampleTrace] = Field(default_factory=list)


class Flip(BaseModel):
    """A matched task whose outcome changed: ``fixed`` (failed in BASE, passed in NEW) or ``broke``."""

    match: str
    direction: Literal["fixed", "broke"]
    base_trace: str
    new_trace: str
    modes_appeared: list[str] = Field(default_factory=list)  # assessed absent in BASE, present in NEW
    modes_disappeared: list[str] = Field(default_factory=list)


class Pairing(BaseModel):
    key: str
    n_pairs: int = 0
    unmatched_base: list[str] = Field(default_factory=list)
    unmatched_new: list[str] = Field(default_factory=list)
    n_repeated: int = 0  # match values with several traces in a run (paired in trace-id order)


class DiffResult(BaseModel):
    by: str
    base: str
    new: str
    paired: bool
    test: str
    alpha: float = 0.05
    success_rule: str = ""
    verdict_rules: str = ""
    judge_change: str | None = None  # the judge configurations differ (allowed with --allow-judge-change)
    base_summary: SideSummary
    new_summary: SideSummary
    outcome: OutcomeChange = Field(default_factory=OutcomeChange)
    modes: list[ModeChange] = Field(default_factory=list)
    pairing: Pairing | None = None
    flips: list[Flip] = Field(default_factory=list)
    verdict_changes: list[VerdictChange] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # small samples, unmatched traces, modes never assessed
    calibration: list[CalibrationApplied] = Field(default_factory=list)  # --calibration: per set compared

    def significant_modes(self) -> list[ModeChange]:
        return [m for m in self.modes if m.significant]

    def biggest_changes(self, n: int = 3) -> list[ModeChange]:
        """The ``n`` modes that changed most: significant ones first, then by the size of the change."""
        defined = [m for m in self.modes if m.diff is not None]
        return sorted(defined, key=lambda m: (not m.significant, -abs(m.diff or 0.0), m.id))[:n]
