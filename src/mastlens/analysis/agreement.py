"""Agreement of annotation set B with reference set A, mode by mode (A is the truth for precision/recall).

Only traces with a current, successful annotation in both sets count, and for each mode only those where
both sets assessed it. Cohen's kappa gets a percentile bootstrap 95% CI over traces with a fixed seed, so
reruns give the same interval.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from mastlens.analysis.bootstrap import BOOTSTRAP_ROUNDS, SEED, bootstrap_sums
from mastlens.analysis.localization import compute_localization
from mastlens.analysis.proportions import num
from mastlens.analysis.results import (
    AgreementResult, AgreementStat, Calibration, CalibrationApplied, MacroAgreement, SharedLabelBlocks,
)
from mastlens.analysis.thresholds import apply_thresholds
from mastlens.store import Store
from mastlens.taxonomy import load_taxonomy

def statuses(store: Store, set_name: str, mode_ids: list[str]) -> dict[str, np.ndarray]:
    """trace id -> per-mode status (-1 not assessed, 0 absent, 1 present) for current, ok annotations."""
    col = {m: j for j, m in enumerate(mode_ids)}
    out: dict[str, np.ndarray] = {}
    for (trace_id,) in store.conn.execute(
            "SELECT trace_id FROM trace_annotations WHERE set_name = ? AND stale = 0 AND status = 'ok'", (set_name,)):
        out[trace_id] = np.full(len(mode_ids), -1, dtype=np.int8)
    for trace_id, mode_id, status in store.conn.execute(
            "SELECT trace_id, mode_id, status FROM mode_annotations WHERE set_name = ?", (set_name,)):
        row = out.get(trace_id)
        if row is not None and mode_id in col and status != "not_assessed":
            row[col[mode_id]] = int(status == "present")
    return out


def confidences(store: Store, set_name: str, mode_ids: list[str]) -> dict[str, np.ndarray]:
    """trace id -> per-mode confidence of the verdict (NaN where none), for current, ok annotations."""
    col = {m: j for j, m in enumerate(mode_ids)}
    out: dict[str, np.ndarray] = {}
    for trace_id, mode_id, confidence in store.conn.execute(
            """SELECT mo.trace_id, mo.mode_id, mo.confidence FROM mode_annotations mo
               JOIN trace_annotations a ON a.set_name = mo.set_name AND a.trace_id = mo.trace_id
               WHERE mo.set_name = ? AND a.stale = 0 AND a.status = 'ok'""", (set_name,)):
        if mode_id in col and confidence is not None:
            out.setdefault(trace_id, np.full(len(mode_ids), np.nan))[col[mode_id]] = float(confidence)
    return out


def calibrated_statuses(store: Store, set_name: str, mode_ids: list[str],
                        calibration: Calibration) -> tuple[dict[str, np.ndarray], CalibrationApplied]:
    """:func:`statuses` with ``calibration``'s thresholds applied (a present verdict below its mode's
    threshold counts as absent), and what was applied."""
    found = statuses(store, set_name, mode_ids)
    conf = confidences(store, set_name, mode_ids)
    ids = sorted(found)
    none = np.full(len(mode_ids), np.nan)
    matrix = np.array([found[t] for t in ids], dtype=np.int8).reshape(len(ids), len(mode_ids))
    conf_matrix = np.array([conf.get(t, none) for t in ids], dtype=float).reshape(len(ids), len(mode_ids))
    after, demoted = apply_thresholds(matrix, conf_matrix, mode_ids, calibration.thresholds)
    return {t: after[i] for i, t in enumerate(ids)}, CalibrationApplied.of(calibration, demoted)


def kappa_from_counts(tp, fp, fn, tn):  # noqa: ANN001, ANN201 - scalars or arrays alike
    """Cohen's kappa of two binary raters from their confusion counts (NaN when chance agreement is 1)."""
    tp, fp, fn, tn = (np.asarray(v, dtype=float) for v in (tp, fp, fn, tn))
    n = tp + fp + fn + tn
    with np.errstate(divide="ignore", invalid="ignore"):
        po = (tp + tn) / n
        pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
        return np.where(1 - pe > 1e-12, (po - pe) / (1 - pe), np.nan)


def _safe(num_: float, den: float) -> float | None:
    return num_ / den if den else None


def agreement_stat(label: str, tp: int, fp: int, fn: int, tn: int,
                   boot: np.ndarray | None = None) -> AgreementStat:
    n = tp + fp + fn + tn
    kappa = num(kappa_from_counts(tp, fp, fn, tn))
    kappa_ci = None
    if boot is not None:
        finite = boot[np.isfinite(boot)]
        if len(finite) >= 0.5 * len(boot) and len(finite) > 0:
            kappa_ci = (float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5)))
    accuracy = _safe(tp + tn, n)
    return AgreementStat(
        id=label, n=n, prevalence_a=_safe(tp + fn, n), prevalence_b=_safe(tp + fp, n), tp=tp, fp=fp, fn=fn, tn=tn,
        accuracy=accuracy, precision=_safe(tp, tp + fp), recall=_safe(tp, tp + fn), f1=_safe(2 * tp, 2 * tp + fp + fn),
        kappa=kappa, kappa_ci=kappa_ci, pabak=None if accuracy is None else 2 * accuracy - 1,
    )


def agreement_from_matrices(a: np.ndarray, b: np.ndarray, mode_ids: list[str], set_a: str = "a", set_b: str = "b",
                            rounds: int = BOOTSTRAP_ROUNDS, seed: int = SEED) -> AgreementResult:
    """Agreement from status matrices (traces x modes; -1 not assessed, 0 absent, 1 present)."""
    valid = (a >= 0) & (b >= 0)
    pa, pb = valid & (a == 1), valid & (b == 1)
    cells = {"tp": pa & pb, "fp": ~pa & pb & valid, "fn": pa & ~pb, "tn": valid & ~pa & ~pb}
    m = len(mode_ids)
    indicators = np.concatenate([cells[k] for k in ("tp", "fp", "fn", "tn")], axis=1).astype(float)
    boot = bootstrap_sums(indicators, rounds, seed)
    btp, bfp, bfn, btn = (boot[:, k * m:(k + 1) * m] for k in range(4))
    boot_kappa = kappa_from_counts(btp, bfp, bfn, btn)
    micro_boot = kappa_from_counts(btp.sum(1), bfp.sum(1), bfn.sum(1), btn.sum(1))
    counts = {k: v.sum(axis=0) for k, v in cells.items()}
    modes = [agreement_stat(mode_id, *(int(counts[k][j]) for k in ("tp", "fp", "fn", "tn")), boot_kappa[:, j])
             for j, mode_id in enumerate(mode_ids)]
    labelled = (a >= 0).sum(axis=0)
    for j, stat in enumerate(modes):
        stat.n_labelled_a = int(labelled[j])
    micro = agreement_stat("micro", *(int(counts[k].sum()) for k in ("tp", "fp", "fn", "tn")), micro_boot)
    micro.n_labelled_a = int((a >= 0).any(axis=1).sum()) if a.size else 0
    f1s = [s.f1 for s in modes if s.f1 is not None]
    kappas = [s.kappa for s in modes if s.kappa is not None]
    return AgreementResult(a=set_a, b=set_b, n_traces=int(a.shape[0]), modes=modes, micro=micro,
                           macro=MacroAgreement(f1=float(np.mean(f1s)) if f1s else None,
                                                kappa=float(np.mean(kappas)) if kappas else None))


def compute_agreement(store: Store, set_a: str, set_b: str, *, rounds: int = BOOTSTRAP_ROUNDS,
                      seed: int = SEED, calibration: Calibration | None = None) -> AgreementResult:
    """Agreement of ``set_b`` with reference ``set_a`` on the traces both sets annotated; with
    ``calibration``, ``set_b``'s present verdicts below their mode's threshold count as absent."""
    for name in (set_a, set_b):
        if store.get_set(name) is None:
            raise ValueError(f"no annotation set {name!r}")
    mode_ids = load_taxonomy().ids
    sa = statuses(store, set_a, mode_ids)
    used = None
    if calibration is None:
        sb = statuses(store, set_b, mode_ids)
    else:
        sb, used = calibrated_statuses(store, set_b, mode_ids, calibration)
    common = sorted(set(sa) & set(sb))
    empty = np.zeros((0, len(mode_ids)), dtype=np.int8)
    a = np.array([sa[t] for t in common]) if common else empty
    b = np.array([sb[t] for t in common]) if common else empty
    result = agreement_from_matrices(a, b, mode_ids, set_a, set_b, rounds=rounds, seed=seed)
    result.calibration = used
    result.shared_labels = [s for name in dict.fromkeys((set_a, set_b))
                            if (s := shared_label_blocks(store, name, common)) is not None]
    localized = compute_localization(store, set_a, set_b, rounds=rounds, seed=seed)
    result.localization = localized[0] if localized else None
    return result


def shared_label_blocks(store: Store, set_name: str, trace_ids: list[str]) -> SharedLabelBlocks | None:
    """Whether ``set_name``'s labels on ``trace_ids`` repeat one block of labels across traces, as their source
    file recorded it (``label_block`` in each label's metadata, set by the adapter); None when none repeats."""
    wanted = set(trace_ids)
    marked = {trace_id: block for trace_id, block in store.conn.execute(
        """SELECT trace_id, json_extract(verdict_meta, '$.label_block') FROM trace_annotations
           WHERE set_name = ? AND stale = 0 AND status = 'ok'""", (set_name,)) if trace_id in wanted and block}
    counts = Counter(marked.values())
    shared = [t for t, block in marked.items() if counts[block] > 1]
    if not shared:
        return None
    groups = sorted((sorted(t for t, b in marked.items() if b == block) for block in counts),
                    key=lambda ids: (-len(ids), ids))
    return SharedLabelBlocks(set=set_name, n_traces=len(wanted), n_marked=len(marked), n_shared=len(shared),
                             n_blocks=len(counts), example=groups[0][:3])


def describe_shared_labels(shared: list[SharedLabelBlocks]) -> list[str]:
    """One line per finding that label sets repeat blocks of labels across the compared traces (sets with the
    same finding, e.g. two annotators of one file, share a line)."""
    by_finding: dict[tuple, list[str]] = {}
    for s in shared:
        by_finding.setdefault((s.n_shared, s.n_marked, s.n_blocks, tuple(s.example)), []).append(s.set)
    return [f"{' and '.join(names)}: {n_shared} of {n_marked} traces carry the very same block of labels as another "
            f"trace compared here ({n_blocks} distinct blocks; e.g. {' = '.join(example)}): the source file did not "
            "label them one by one, so agreement here counts each block once per copy and says little about how a "
            "trace is judged"
            for (n_shared, n_marked, n_blocks, example), names in by_finding.items()]
