"""``diff_from_vectors``: did the change work? Two runs of an agent compared mode by mode.

Per mode: prevalence on each side with Wilson intervals, NEW - BASE with a Newcombe interval, the test's p
and Holm across modes. Paired when a match key (``task`` or any metadata key or tag) pairs traces of the same
task across the runs: McNemar exact per mode and per-task outcome flips; unpaired (Fisher) otherwise. Verdict
changes reuse the fatal/benign classification of :func:`mastlens.analysis.groups.group_stats` per run.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from itertools import compress

import numpy as np
import pandas as pd
from pydantic import TypeAdapter

from mastlens.analysis.diff_results import (
    PAIRED_TEST, UNPAIRED_TEST, DiffResult, EvidenceRef, ExampleTrace, Flip, ModeChange, OutcomeChange, Pairing,
    SideSummary, VerdictChange,
)
from mastlens.analysis.groups import DEFAULT_RULES, VerdictRules, group_stats
from mastlens.analysis.paired import (
    mcnemar_exact, mean_ci, newcombe_paired, pair_rows, paired_t_diff, welch_diff,
)
from mastlens.analysis.proportions import ci, fisher_p, holm, newcombe_diff, num, ratio, wilson
from mastlens.analysis.stats import UNKNOWN_GROUP, group_labels, source_labels
from mastlens.analysis.vectors import AS_INGESTED
from mastlens.taxonomy import Taxonomy, load_taxonomy

SMALL_SAMPLE = 30  # under this many traces (or pairs) a side's intervals are wide: the output says so
MAX_EXAMPLES = 3
_FLIPS = TypeAdapter(list[Flip])

# (side, trace id, mode id) -> (the judge's reason, its evidence); None: no store to look in
EvidenceLookup = Callable[[str, str, str], tuple[str, list[EvidenceRef]]]


@dataclass
class _Side:
    """One run's failure vectors as arrays (rows = traces, columns = modes)."""

    ids: np.ndarray
    present: np.ndarray
    assessed: np.ndarray
    success: np.ndarray  # 1 / 0 / -1 unknown
    score: np.ndarray  # NaN where none
    sources: np.ndarray | None = None  # each trace's source (analysis.strata), when the vectors carry one

    @classmethod
    def of(cls, df: pd.DataFrame, mode_ids: list[str]) -> _Side:
        df = _plain(df)
        n = len(df)
        present = np.zeros((n, len(mode_ids)), dtype=bool)
        assessed = np.zeros((n, len(mode_ids)), dtype=bool)
        for j, mode_id in enumerate(mode_ids):  # column by column: no frame-wide fillna / copies
            column = df[mode_id]
            present[:, j] = column.to_numpy(dtype=bool, na_value=False)
            assessed[:, j] = ~column.isna().to_numpy()
        success = df["success"].astype("Int8").fillna(-1).to_numpy(dtype=np.int8) if n else np.zeros(0, np.int8)
        score = df["score"].astype("Float64").to_numpy(dtype=float, na_value=np.nan) if n else np.zeros(0)
        ids = df["id"].astype(str).to_numpy(dtype=object) if n else np.array([], dtype=object)
        return cls(ids, present, assessed, success, score, source_labels(df))

    def take(self, rows: np.ndarray) -> _Side:
        return _Side(self.ids[rows], self.present[rows], self.assessed[rows], self.success[rows], self.score[rows],
                     None if self.sources is None else self.sources[rows])


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """A shallow view of ``df`` without ``attrs``: pandas deep-copies them into every column it hands out."""
    view = df.copy(deep=False)
    view.attrs = {}
    return view


def run_rows(df: pd.DataFrame, by: str, value: str) -> pd.DataFrame:
    """The rows of ``df`` whose ``by`` value (model, system, task, a tag or a metadata key) is ``value``.
    Raises ``ValueError`` naming the values there are when none has it."""
    labels = group_labels(df, by)
    rows = labels == value
    if not rows.any():
        known = sorted(set(labels.tolist()))
        raise ValueError(f"no traces with {by} = {value!r} (values: {', '.join(known) or 'none'})")
    return df[rows]


def summarize_side(name: str, set_name: str, df: pd.DataFrame, *, n_judge_errors: int = 0,
                   rules: VerdictRules = DEFAULT_RULES, taxonomy: Taxonomy | None = None) -> SideSummary:
    """One run on its own: the ``stats`` figures plus intervals for success rate, mean score and modes per
    failed trace, and the share of its traces the judge assessed per mode."""
    taxonomy = taxonomy or load_taxonomy()
    mode_ids = [m for m in taxonomy.ids if m in df.columns]
    return _summary(name, set_name, _Side.of(df, mode_ids), mode_ids, taxonomy, rules, n_judge_errors)


def _summary(name: str, set_name: str, side: _Side, mode_ids: list[str], taxonomy: Taxonomy, rules: VerdictRules,
             n_judge_errors: int) -> SideSummary:
    categories = {m.id: m.category for m in taxonomy.modes}
    stats = group_stats(name, side.present, side.assessed, side.success, side.score, mode_ids, categories, rules,
                        sources=side.sources)
    n_ok, n_known = int((side.success == 1).sum()), int((side.success >= 0).sum())
    low, high = wilson(np.array([n_ok]), np.array([n_known]))
    per_failed = side.present[side.success == 0].sum(axis=1)
    total = len(side.ids) + n_judge_errors
    shares = ratio(side.assessed.sum(axis=0), np.full(len(mode_ids), total))
    return SideSummary(
        name=name, set=set_name, n_judge_errors=n_judge_errors, success_rate_ci=ci(low[0], high[0]),
        mean_score_ci=mean_ci(side.score), n_scored=int((~np.isnan(side.score)).sum()),
        modes_per_failed_trace_ci=mean_ci(per_failed.astype(float)),
        assessed_share={m: num(shares[j]) for j, m in enumerate(mode_ids)}, stats=stats,
    )


def diff_from_vectors(
    base_df: pd.DataFrame, new_df: pd.DataFrame, *, base: str, new: str, by: str = "run", match: str | None = None,
    alpha: float = 0.05, rules: VerdictRules = DEFAULT_RULES, taxonomy: Taxonomy | None = None,
    set_base: str = "", set_new: str = "", judge_errors: tuple[int, int] = (0, 0),
    evidence: EvidenceLookup | None = None, judge_change: str | None = None,
) -> DiffResult:
    """BASE vs NEW from their failure vectors (the rows of each run, as :func:`run_rows` gives them).

    ``match`` pairs traces with the same value of that key (``task``, a tag or a metadata key); without it
    the runs are compared as independent samples. ``evidence`` looks up the judge's evidence for the
    example traces of verdict changes.
    """
    taxonomy = taxonomy or load_taxonomy()
    success_rule = base_df.attrs.get("success_rule", AS_INGESTED)
    base_df, new_df = _plain(base_df), _plain(new_df)
    mode_ids = [m for m in taxonomy.ids if m in base_df.columns and m in new_df.columns]
    category = {m.id: m.category for m in taxonomy.modes}
    b, n = _Side.of(base_df, mode_ids), _Side.of(new_df, mode_ids)
    whole_base, whole_new = b, n
    result = DiffResult(
        by=by, base=base, new=new, paired=match is not None, test=PAIRED_TEST if match else UNPAIRED_TEST,
        alpha=alpha, success_rule=success_rule, verdict_rules=rules.describe(),
        judge_change=judge_change,
        base_summary=_summary(base, set_base, b, mode_ids, taxonomy, rules, judge_errors[0]),
        new_summary=_summary(new, set_new, n, mode_ids, taxonomy, rules, judge_errors[1]),
    )
    if match is not None:
        base_keys = group_labels(base_df, match)
        pb, pn, ub, un, repeated = pair_rows(base_keys, b.ids, group_labels(new_df, match), n.ids, UNKNOWN_GROUP)
        keys = base_keys[pb] if len(pb) else np.array([], dtype=object)
        result.pairing = Pairing(key=match, n_pairs=len(pb), unmatched_base=b.ids[ub].tolist(),
                                 unmatched_new=n.ids[un].tolist(), n_repeated=repeated)
        b, n = b.take(pb), n.take(pn)
        result.modes = _paired_modes(b, n, mode_ids)
        result.outcome = _paired_outcome(b, n)
        result.flips = _flips(b, n, keys, mode_ids)
    else:
        result.modes = _unpaired_modes(b, n, mode_ids)
        result.outcome = _unpaired_outcome(b, n)
    adjusted = holm([m.p_value for m in result.modes])
    base_verdicts = {m.id: m.verdict for m in result.base_summary.stats.modes}
    new_verdicts = {m.id: m.verdict for m in result.new_summary.stats.modes}
    for m, p_holm in zip(result.modes, adjusted):
        m.category = category.get(m.id, "")
        m.p_holm = p_holm
        m.significant = p_holm is not None and p_holm < alpha
        m.verdict_base, m.verdict_new = base_verdicts.get(m.id, "insufficient"), new_verdicts.get(m.id, "insufficient")
    result.verdict_changes = _verdict_changes(result, whole_base, whole_new, mode_ids, evidence)
    result.notes = _notes(result)
    return result


def _mode_rows(mode_ids: list[str], kb, nb, kn, nn, diff, low, high, p) -> list[ModeChange]:  # noqa: ANN001
    ci_b, ci_n = wilson(kb, nb), wilson(kn, nn)
    pr_b, pr_n = ratio(kb, nb), ratio(kn, nn)
    return [ModeChange(
        id=m, n_base=int(nb[j]), k_base=int(kb[j]), prevalence_base=num(pr_b[j]),
        prevalence_base_ci=ci(ci_b[0][j], ci_b[1][j]), n_new=int(nn[j]), k_new=int(kn[j]),
        prevalence_new=num(pr_n[j]), prevalence_new_ci=ci(ci_n[0][j], ci_n[1][j]),
        diff=num(diff[j]), diff_ci=ci(low[j], high[j]), p_value=p[j],
    ) for j, m in enumerate(mode_ids)]


def _unpaired_modes(b: _Side, n: _Side, mode_ids: list[str]) -> list[ModeChange]:
    nb, kb = b.assessed.sum(axis=0), b.present.sum(axis=0)
    nn, kn = n.assessed.sum(axis=0), n.present.sum(axis=0)
    diff, low, high = newcombe_diff(kn, nn, kb, nb)
    p = [fisher_p(int(kn[j]), int(nn[j] - kn[j]), int(kb[j]), int(nb[j] - kb[j])) for j in range(len(mode_ids))]
    return _mode_rows(mode_ids, kb, nb, kn, nn, diff, low, high, p)


def _paired_modes(b: _Side, n: _Side, mode_ids: list[str]) -> list[ModeChange]:
    both_assessed = b.assessed & n.assessed
    pb, pn = b.present & both_assessed, n.present & both_assessed
    both = (pb & pn).sum(axis=0)
    lost, gained = (pb & ~pn).sum(axis=0), (~pb & pn).sum(axis=0)
    pairs = both_assessed.sum(axis=0)
    diff, low, high = newcombe_paired(both, lost, gained, pairs - both - lost - gained)
    exact = mcnemar_exact(lost, gained)
    p = [float(exact[j]) if pairs[j] else None for j in range(len(mode_ids))]
    rows = _mode_rows(mode_ids, both + lost, pairs, both + gained, pairs, diff, low, high, p)
    for j, row in enumerate(rows):
        row.gained, row.lost = int(gained[j]), int(lost[j])
    return rows


def _unpaired_outcome(b: _Side, n: _Side) -> OutcomeChange:
    kb, nb = int((b.success == 1).sum()), int((b.success >= 0).sum())
    kn, nn = int((n.success == 1).sum()), int((n.success >= 0).sum())
    diff, low, high = newcombe_diff(np.array([kn]), np.array([nn]), np.array([kb]), np.array([nb]))
    score_diff, score_ci, score_p = welch_diff(b.score, n.score)
    return OutcomeChange(
        n_success=min(nb, nn), success_diff=num(diff[0]), success_diff_ci=ci(low[0], high[0]),
        success_p=fisher_p(kn, nn - kn, kb, nb - kb),
        n_score=int(min((~np.isnan(b.score)).sum(), (~np.isnan(n.score)).sum())),
        score_diff=score_diff, score_diff_ci=score_ci, score_p=score_p,
    )


def _paired_outcome(b: _Side, n: _Side) -> OutcomeChange:
    known = (b.success >= 0) & (n.success >= 0)
    sb, sn = b.success[known] == 1, n.success[known] == 1
    cells = [np.array([int(x.sum())]) for x in (sb & sn, sb & ~sn, ~sb & sn, ~sb & ~sn)]
    diff, low, high = newcombe_paired(*cells)
    p = float(mcnemar_exact(cells[1], cells[2])[0]) if known.any() else None
    score_diff, score_ci, score_p = paired_t_diff(b.score, n.score)
    return OutcomeChange(
        n_success=int(known.sum()), success_diff=num(diff[0]), success_diff_ci=ci(low[0], high[0]), success_p=p,
        n_score=int((~(np.isnan(b.score) | np.isnan(n.score))).sum()),
        score_diff=score_diff, score_diff_ci=score_ci, score_p=score_p,
    )


def _flips(b: _Side, n: _Side, keys: np.ndarray, mode_ids: list[str]) -> list[Flip]:
    """Matched pairs whose outcome changed (fixed first, then broke; by match value and trace id), with the
    modes that appeared or disappeared in each."""
    changed = np.flatnonzero((b.success >= 0) & (n.success >= 0) & (b.success != n.success))
    fixed = n.success[changed] == 1
    keys_s, base_ids = keys[changed].astype(str), b.ids[changed].astype(str)
    changed = changed[np.lexsort((base_ids, keys_s, ~fixed))]
    appeared = (b.assessed & ~b.present & n.present)[changed].tolist()
    disappeared = (b.present & n.assessed & ~n.present)[changed].tolist()
    rows = zip(keys[changed].astype(str).tolist(), (n.success[changed] == 1).tolist(), b.ids[changed].tolist(),
               n.ids[changed].tolist(), appeared, disappeared)
    # One validation call for the whole list, without the collector's passes over it (which otherwise
    # dominate on tens of thousands of flips).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _FLIPS.validate_python([
            {"match": key, "direction": "fixed" if up else "broke", "base_trace": str(base_id),
             "new_trace": str(new_id), "modes_appeared": list(compress(mode_ids, gained)),
             "modes_disappeared": list(compress(mode_ids, lost))}
            for key, up, base_id, new_id, gained, lost in rows])
    finally:
        if enabled:
            gc.enable()


def _examples(side: str, run: _Side, j: int, mode_id: str, evidence: EvidenceLookup | None) -> list[ExampleTrace]:
    """Up to ``MAX_EXAMPLES`` traces of a run with mode ``j`` present, failed ones first, then by id."""
    rows = np.flatnonzero(run.present[:, j])
    rank = np.array([0, 2, 1], dtype=np.int8)[run.success[rows]]  # success -1 -> 1, 0 -> 0, 1 -> 2
    rows = rows[np.lexsort((run.ids[rows].astype(str), rank))][:MAX_EXAMPLES]
    out = []
    for i in rows:
        trace_id, success = str(run.ids[i]), int(run.success[i])
        reason, refs = evidence(side, trace_id, mode_id) if evidence else ("", [])
        out.append(ExampleTrace(trace_id=trace_id, side=side, success=None if success < 0 else bool(success),
                                reason=reason, evidence=refs))
    return out


def _verdict_changes(result: DiffResult, base: _Side, new: _Side, mode_ids: list[str],
                     evidence: EvidenceLookup | None) -> list[VerdictChange]:
    base_modes = {m.id: m for m in result.base_summary.stats.modes}
    new_modes = {m.id: m for m in result.new_summary.stats.modes}
    out = []
    for j, mode_id in enumerate(mode_ids):
        mb, mn = base_modes[mode_id], new_modes[mode_id]
        kinds = []
        if mb.verdict == "fatal" and mn.verdict != "fatal":
            kinds.append("no_longer_fatal")
        if mn.verdict == "fatal" and mb.verdict != "fatal":
            kinds.append("newly_fatal")
        if mb.n_assessed and mb.prevalence == 0 and mn.prevalence:
            kinds.append("appeared")
        for kind in kinds:
            examples = _examples("new", new, j, mode_id, evidence)
            if kind == "no_longer_fatal":
                examples = _examples("base", base, j, mode_id, evidence) + examples
            out.append(VerdictChange(
                mode=mode_id, kind=kind, verdict_base=mb.verdict, verdict_new=mn.verdict,
                prevalence_base=mb.prevalence, prevalence_base_ci=mb.prevalence_ci,
                prevalence_new=mn.prevalence, prevalence_new_ci=mn.prevalence_ci, examples=examples,
            ))
    return out


def _notes(result: DiffResult) -> list[str]:
    notes = []
    if result.judge_change:
        notes.append(f"judge configuration changed between the runs ({result.judge_change}): differences may come "
                     "from the judge, not the agent")
    for s in (result.base_summary, result.new_summary):
        if s.stats.n < SMALL_SAMPLE:
            notes.append(f"{result.by} {s.name} has {s.stats.n} traces: small sample, the intervals are wide")
        if s.n_judge_errors:
            notes.append(f"{result.by} {s.name}: {s.n_judge_errors} traces left out (judge errors)")
    if result.pairing is not None:
        p = result.pairing
        if p.n_pairs == 0:
            notes.append(f"no trace of {result.base} shares its {p.key} with one of {result.new}: nothing to pair; "
                         "drop --match to compare the runs unpaired")
        elif p.n_pairs < SMALL_SAMPLE:
            notes.append(f"{p.n_pairs} pairs matched on {p.key}: small sample, the intervals are wide")
        if p.unmatched_base or p.unmatched_new:
            notes.append(f"unmatched on {p.key}: {len(p.unmatched_base)} traces of {result.base}, "
                         f"{len(p.unmatched_new)} of {result.new} (left out of the paired figures)")
        if p.n_repeated:
            notes.append(f"{p.n_repeated} values of {p.key} have several traces in a run: paired in trace-id order")
    never = [m.id for m in result.modes if m.n_base == 0 or m.n_new == 0]
    if never:
        notes.append(f"not assessed on both sides: {', '.join(never)} (no figure)")
    if not result.significant_modes():
        notes.append(f"no significant change in any mode at alpha {result.alpha:g} (Holm across modes)")
    return notes
