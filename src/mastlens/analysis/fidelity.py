"""Label-free and label-based fidelity of failure vectors.

* Outcome separation: over traces with a known outcome, the AUROC of the failure vector for failure (score =
  number of present modes; ties count half, i.e. the Mann-Whitney U / (n1 n2)), with a seeded bootstrap 95%
  CI that resamples failed and successful traces separately, and the share of each side with any mode present.
* Corrected prevalence: the judge's raw prevalence corrected for its sensitivity and specificity measured on
  the traces a reference set also labels (Rogan-Gladen, clipped to [0, 1]), with a bootstrap CI that
  resamples the overlap and the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mastlens.analysis.bootstrap import BOOTSTRAP_ROUNDS, SEED
from mastlens.analysis.results import GroupStats, OutcomeSeparation, SourceOutcome
from mastlens.analysis.strata import Strata

MIN_INFORMATIVE = 0.05  # se + sp - 1 at or below this: the judge says too little to correct for
_EPS = 1e-9  # so that se + sp - 1 computed as 0.05000000000000004 still counts as 0.05


def _weights(weights: np.ndarray | None, n: int) -> np.ndarray:
    return np.ones(n, dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)


def auroc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    """P(score of a positive > score of a negative) + 0.5 P(equal); None without both classes.
    ``weights``: how many traces each row stands for (default one)."""
    scores, positive = np.asarray(scores, dtype=float), np.asarray(positive, dtype=bool)
    w = _weights(weights, len(scores))
    values, inverse = np.unique(scores, return_inverse=True)
    pos = np.bincount(inverse[positive], weights=w[positive], minlength=len(values)).astype(float)
    neg = np.bincount(inverse[~positive], weights=w[~positive], minlength=len(values)).astype(float)
    value = _auroc_counts(pos[None, :], neg[None, :])[0]
    return None if np.isnan(value) else float(value)


def _auroc_counts(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """AUROC per row from per-score-value counts (columns in ascending score order)."""
    n1, n0 = pos.sum(axis=1), neg.sum(axis=1)
    below = np.cumsum(neg, axis=1) - neg
    with np.errstate(divide="ignore", invalid="ignore"):
        return ((pos * (below + 0.5 * neg)).sum(axis=1)) / (n1 * n0)


def auroc_ci(scores: np.ndarray, positive: np.ndarray, *, rounds: int = BOOTSTRAP_ROUNDS,
             seed: int = SEED, weights: np.ndarray | None = None) -> tuple[float, float] | None:
    """Percentile bootstrap 95% CI of :func:`auroc`, resampling each class within itself (seeded): a
    multinomial draw of each class's traces over its score values, so traces given one by one or as
    distinct rows with counts (``weights``) draw the same."""
    scores, positive = np.asarray(scores, dtype=float), np.asarray(positive, dtype=bool)
    w = _weights(weights, len(scores))
    n1, n0 = int(w[positive].sum()), int(w[~positive].sum())
    if n1 == 0 or n0 == 0:
        return None
    values, inverse = np.unique(scores, return_inverse=True)
    pos = np.bincount(inverse[positive], weights=w[positive], minlength=len(values))
    neg = np.bincount(inverse[~positive], weights=w[~positive], minlength=len(values))
    rng = np.random.default_rng(seed)
    boot = _auroc_counts(rng.multinomial(n1, pos / n1, size=rounds).astype(float),
                         rng.multinomial(n0, neg / n0, size=rounds).astype(float))
    return float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))


def stratified_auroc(scores: np.ndarray, failed: np.ndarray, sources: np.ndarray, *, rounds: int = BOOTSTRAP_ROUNDS,
                     seed: int = SEED, weights: np.ndarray | None = None
                     ) -> tuple[float | None, tuple[float, float] | None, dict[str, float]]:
    """Within-source AUROC of ``scores`` for ``failed``, weighted by failed x successful pairs, with its
    bootstrap CI (each class resampled within each source, seeded) and each source's own AUROC (sources
    with one outcome only are left out). ``weights``: how many traces each row stands for."""
    w = _weights(weights, len(failed))
    values, inverse = np.unique(np.asarray(scores, dtype=float), return_inverse=True)
    rng = np.random.default_rng(seed)
    total, weights, per_source = np.zeros(rounds), 0.0, {}
    point = 0.0
    for name in sorted(set(np.asarray(sources).tolist())):
        rows = sources == name
        pos = np.bincount(inverse[rows & failed], weights=w[rows & failed], minlength=len(values)).astype(float)
        neg = np.bincount(inverse[rows & ~failed], weights=w[rows & ~failed], minlength=len(values)).astype(float)
        n1, n0 = pos.sum(), neg.sum()
        if not n1 or not n0:
            continue
        weight = n1 * n0
        value = float(_auroc_counts(pos[None, :], neg[None, :])[0])
        per_source[str(name)] = value
        point += weight * value
        boot = _auroc_counts(rng.multinomial(int(n1), pos / n1, size=rounds).astype(float),
                            rng.multinomial(int(n0), neg / n0, size=rounds).astype(float))
        total += weight * boot
        weights += weight
    if not weights:
        return None, None, per_source
    total /= weights
    return point / weights, (float(np.percentile(total, 2.5)), float(np.percentile(total, 97.5))), per_source


def outcome_separation(present: np.ndarray, success: np.ndarray, *, group: str = "all",
                       sources: np.ndarray | None = None, rounds: int = BOOTSTRAP_ROUNDS,
                       seed: int = SEED, weights: np.ndarray | None = None) -> OutcomeSeparation:
    """Separation of failed from successful traces by their failure vectors.

    ``present``: traces x modes booleans (not assessed counts as not present); ``success``: per trace 1, 0
    or -1 (unknown, left out); ``sources``: per trace its source (:mod:`mastlens.analysis.strata`). When the
    runs with a known outcome come from more than one source, the AUROC is the within-source one.
    ``weights``: how many traces each row stands for (default one).
    """
    present, success = np.asarray(present, dtype=bool), np.asarray(success)
    known = success >= 0
    w = _weights(weights, len(success))[known]
    scores = present[known].sum(axis=1).astype(float) if present.ndim == 2 else np.zeros(int(known.sum()))
    failed = success[known] == 0
    out = OutcomeSeparation(group=group, n=int(w.sum()), n_failed=int(w[failed].sum()),
                            n_success=int(w[~failed].sum()))
    if out.n_failed:
        out.flagged_failed = int(w[failed & (scores > 0)].sum()) / out.n_failed
    if out.n_success:
        out.flagged_success = int(w[~failed & (scores > 0)].sum()) / out.n_success
    origin = None if sources is None else np.asarray(sources, dtype=object)[known]
    strata = Strata.of(origin, failed, w) if origin is not None else None
    if strata is not None and strata.mixed:
        return _stratified(out, scores, failed, origin, strata, rounds, seed, w)
    if not out.n_failed or not out.n_success:
        out.note = "needs both failed and successful runs with a known outcome"
        return out
    out.auroc = auroc(scores, failed, w)
    out.auroc_ci = auroc_ci(scores, failed, rounds=rounds, seed=seed, weights=w)
    if out.auroc_ci and out.auroc_ci[0] <= 0.5 <= out.auroc_ci[1]:
        out.note = "the CI includes 0.5: on these runs the vectors do not tell failures from successes"
    return out


def _stratified(out: OutcomeSeparation, scores: np.ndarray, failed: np.ndarray, origin: np.ndarray,
                strata: Strata, rounds: int, seed: int, w: np.ndarray) -> OutcomeSeparation:
    out.stratified = True
    out.auroc_pooled = auroc(scores, failed, w) if out.n_failed and out.n_success else None
    out.auroc, out.auroc_ci, per_source = stratified_auroc(scores, failed, origin, rounds=rounds, seed=seed,
                                                           weights=w)
    flagged = scores > 0
    for s in strata.strata:
        rows = origin == s.source
        f, ok = rows & failed, rows & ~failed
        out.sources.append(SourceOutcome(
            source=s.source, n=s.n, n_failed=s.n_failed, n_success=s.n_success, auroc=per_source.get(s.source),
            flagged_failed=int(w[f & flagged].sum()) / int(w[f].sum()) if f.any() else None,
            flagged_success=int(w[ok & flagged].sum()) / int(w[ok].sum()) if ok.any() else None))
    one_sided = [s.source for s in strata.strata if not s.informative]
    out.sources_note = (f"{len(strata.strata)} sources ({strata.describe()}): AUROC within each source, combined "
                        "weighted by its failed x successful pairs")
    if one_sided:
        out.sources_note += f"; left out, one outcome only: {', '.join(one_sided)}"
    pooled = "" if out.auroc_pooled is None else f"; pooled {out.auroc_pooled:.2f} mixes them"
    if out.auroc is None:
        out.note = f"no source has both failed and successful runs{pooled}"
        return out
    out.note = f"within {len(strata.strata) - len(one_sided)} of {len(strata.strata)} sources{pooled}"
    if out.auroc_ci and out.auroc_ci[0] <= 0.5 <= out.auroc_ci[1]:
        out.note += "; the CI includes 0.5: within sources the vectors do not tell failures from successes"
    return out


def separation_by_group(present: np.ndarray, success: np.ndarray, groups: np.ndarray, *,
                        sources: np.ndarray | None = None, rounds: int = BOOTSTRAP_ROUNDS,
                        seed: int = SEED, weights: np.ndarray | None = None) -> list[OutcomeSeparation]:
    """Overall ("all") first, then one entry per group when there is more than one."""
    w = _weights(weights, len(success))
    out = [outcome_separation(present, success, sources=sources, rounds=rounds, seed=seed, weights=w)]
    names = sorted(set(np.asarray(groups).tolist()))
    if len(names) > 1:
        for name in names:
            rows = np.asarray(groups) == name
            out.append(outcome_separation(present[rows], success[rows], group=str(name),
                                          sources=None if sources is None else np.asarray(sources)[rows],
                                          rounds=rounds, seed=seed, weights=w[rows]))
    return out


def separation_sentence(sep: OutcomeSeparation) -> str:
    """The reliability card's one sentence about a separation figure."""
    if sep.auroc is None:
        return f"No AUROC of the failure vectors: {sep.note or 'no runs with a known outcome'}."
    ci = f" [{sep.auroc_ci[0]:.2f}, {sep.auroc_ci[1]:.2f}]" if sep.auroc_ci else ""
    within = " within sources" if sep.stratified else ""
    text = (f"The failure vectors of this judge tell failed from successful runs{within} with AUROC "
            f"{sep.auroc:.2f}{ci} on {sep.n} runs.")
    if sep.stratified:
        text += f" The runs come from {sep.sources_note} ({sep.note})."
    if sep.auroc_ci and sep.auroc_ci[0] <= 0.5 <= sep.auroc_ci[1]:
        text += " Warning: the interval includes 0.5 (chance)."
    return text


# -- Rogan-Gladen -----------------------------------------------------------------------------------------


def rogan_gladen(p: float, sensitivity: float, specificity: float) -> float | None:
    """(p + sp - 1) / (se + sp - 1), clipped to [0, 1]; None when se + sp - 1 <= :data:`MIN_INFORMATIVE`."""
    youden = sensitivity + specificity - 1
    if youden <= MIN_INFORMATIVE + _EPS:
        return None
    return float(min(1.0, max(0.0, (p + specificity - 1) / youden)))


@dataclass
class CorrectedPrevalence:
    prevalence: float | None = None  # the judge's raw prevalence over every assessed trace
    sensitivity: float | None = None
    specificity: float | None = None
    corrected: float | None = None
    corrected_ci: tuple[float, float] | None = None
    n_overlap: int = 0
    note: str | None = None


def corrected_prevalence(judged: np.ndarray, overlap_judged: np.ndarray, overlap_reference: np.ndarray, *,
                         overlap_in_group: np.ndarray | None = None, rounds: int = BOOTSTRAP_ROUNDS,
                         seed: int = SEED) -> CorrectedPrevalence:
    """Rogan-Gladen prevalence of one mode in one group.

    ``judged``: the judge's calls (bool) on the group's assessed traces the reference does not label;
    ``overlap_judged`` / ``overlap_reference``: the judge's and the reference's calls on the traces both
    assessed (the judge's error is measured there); ``overlap_in_group``: which of those belong to the group
    (default all), so they count in its raw prevalence too. The bootstrap resamples the overlap and the rest
    separately (seeded); rounds where the resampled overlap has no positive or negative, or the judge is no
    better than chance, are left out (no CI when they are half or more).
    """
    rest = np.asarray(judged, dtype=bool)
    oj, orf = np.asarray(overlap_judged, dtype=bool), np.asarray(overlap_reference, dtype=bool)
    ing = np.ones(len(oj), dtype=bool) if overlap_in_group is None else np.asarray(overlap_in_group, dtype=bool)
    n_group = len(rest) + int(ing.sum())
    out = CorrectedPrevalence(n_overlap=len(oj))
    if n_group:
        out.prevalence = float((rest.sum() + oj[ing].sum()) / n_group)
    n_pos, n_neg = int(orf.sum()), int((~orf).sum())
    if n_pos == 0 or n_neg == 0:
        kind = "positive" if n_pos == 0 else "negative"
        out.note = f"no correction: the reference marks no {kind} on the {len(oj)} traces both assessed"
        return out
    out.sensitivity = float(oj[orf].mean())
    out.specificity = float((~oj[~orf]).mean())
    if out.prevalence is None:
        return out
    out.corrected = rogan_gladen(out.prevalence, out.sensitivity, out.specificity)
    if out.corrected is None:
        out.note = (f"no correction: the judge barely beats chance here (sensitivity + specificity - 1 = "
                    f"{out.sensitivity + out.specificity - 1:.2f} <= {MIN_INFORMATIVE})")
        return out
    rng = np.random.default_rng(seed)
    ov = rng.integers(0, len(oj), size=(rounds, len(oj)))
    bj, br, bi = oj[ov], orf[ov], ing[ov]
    tp, pos = (bj & br).sum(1), br.sum(1)
    tn, neg = (~bj & ~br).sum(1), (~br).sum(1)
    rest_pos = rng.binomial(len(rest), rest.mean(), size=rounds) if len(rest) else np.zeros(rounds)
    with np.errstate(divide="ignore", invalid="ignore"):
        se, sp = tp / pos, tn / neg
        p = (rest_pos + (bj & bi).sum(1)) / (len(rest) + bi.sum(1))
        youden = se + sp - 1
        value = np.clip((p + sp - 1) / youden, 0.0, 1.0)
    ok = (pos > 0) & (neg > 0) & (youden > MIN_INFORMATIVE + _EPS) & np.isfinite(value)
    if ok.sum() > 0.5 * rounds:
        out.corrected_ci = (float(np.percentile(value[ok], 2.5)), float(np.percentile(value[ok], 97.5)))
    return out


def correct_prevalences(groups: list[GroupStats], labels: np.ndarray, present: np.ndarray, assessed: np.ndarray,
                        reference: np.ndarray, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = SEED) -> None:
    """Fill each group's modes with the judge's sensitivity, specificity and corrected prevalence.

    ``reference``: traces x modes aligned with ``present`` (-1 not labelled, 0 absent, 1 present). The judge's
    error is measured on every trace both assessed (all groups), the raw prevalence per group.
    """
    for g in groups:
        rows = labels == g.name
        for j, mode in enumerate(g.modes):
            overlap = assessed[:, j] & (reference[:, j] >= 0)
            cp = corrected_prevalence(present[rows & assessed[:, j] & ~overlap, j], present[overlap, j],
                                      reference[overlap, j] == 1, overlap_in_group=rows[overlap],
                                      rounds=rounds, seed=seed)
            mode.sensitivity, mode.specificity, mode.n_reference_overlap = cp.sensitivity, cp.specificity, cp.n_overlap
            mode.prevalence_corrected, mode.prevalence_corrected_ci = cp.corrected, cp.corrected_ci
            mode.prevalence_corrected_note = cp.note if cp.n_overlap else "no trace labelled by the reference"
