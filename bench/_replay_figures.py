"""Per-source fidelity figures of a replayed annotation set, on the traces a replay selected.

The same figures as ``bench_fidelity.py`` (outcome separation for runs with an outcome, Who&When localization
beside the naive baseline, MAST-Data agreement with the annotators' majority), each restricted to the given
trace ids, plus what the replay adds: MAST-Data micro/macro kappa and per-mode prevalence beside the humans',
and the share of outcome runs whose ``task_completed`` matches the outcome. Every figure comes from the analysis
functions ``agree`` and ``stats`` use.
"""

from __future__ import annotations

import numpy as np

from mastlens.analysis.agreement import agreement_from_matrices, statuses
from mastlens.analysis.fidelity import outcome_separation
from mastlens.analysis.localization import localization_by_group, localization_pairs
from mastlens.analysis.vectors import failure_vectors, mode_matrices
from mastlens.store import Store
from mastlens.taxonomy import load_taxonomy

ATTRIBUTION = "whowhen-attribution"
MAJORITY = "mad-majority"


def separation(store: Store, set_name: str, ids: set[str], group: str) -> dict:
    """AUROC (with CI), flag rates, mode prevalence split by outcome, and ``task_completed`` accuracy."""
    df = failure_vectors(store, set_name)
    df = df[df["id"].isin(ids)]
    mode_ids = [m for m in load_taxonomy().ids if m in df.columns]
    present, _, _ = mode_matrices(df, mode_ids)
    success = df["success"].astype("Int8").fillna(-1).to_numpy(dtype=np.int8)
    out = outcome_separation(present, success, group=group).model_dump(mode="json")
    ok = success == 1
    out["modes_on_success"] = {m: int(present[ok, j].sum()) for j, m in enumerate(mode_ids) if present[ok, j].any()}
    out["modes_on_failed"] = {m: int(present[~ok, j].sum()) for j, m in enumerate(mode_ids)
                              if present[~ok, j].any()}
    verdicts = {a.trace_id: a.verdict for a in store.get_annotations(set_name) if a.verdict and a.trace_id in ids}
    truth = dict(zip(df["id"], success))
    said = [(v.task_completed, truth.get(t)) for t, v in verdicts.items() if truth.get(t, -1) >= 0]
    out["task_completed_right"] = sum(1 for s, t in said if s is not None and bool(s) == bool(t))
    out["task_completed_said"] = sum(1 for s, _ in said if s is not None)
    return out


def localization(store: Store, set_name: str, ids: set[str]) -> dict:
    """Who&When: any-mode share, and the judge's and the naive baseline's localization per subset, on the runs
    the judge annotated."""
    anns = {a.trace_id: a.verdict for a in store.get_annotations(set_name) if a.verdict is not None and a.trace_id in ids}
    judged = [p for p in localization_pairs(store, ATTRIBUTION, set_name, group_by="subset") if p.trace_id in ids]
    # the naive baseline on the same runs as the judge (a run the judge errored on is in neither)
    naive = [p for p in localization_pairs(store, ATTRIBUTION, None, group_by="subset", baseline=True)
             if p.trace_id in ids and p.trace_id in anns]
    return {"n": len(anns), "any_mode": sum(bool(v.present()) for v in anns.values()) / len(anns) if anns else None,
            "judge": [x.model_dump(mode="json") for x in localization_by_group(judged)],
            "naive": [x.model_dump(mode="json") for x in localization_by_group(naive)]}


def kappas(store: Store, set_name: str, ids: set[str]) -> dict:
    """MAST-Data: per-mode and micro/macro kappa of ``set_name`` against the annotators' majority."""
    mode_ids = load_taxonomy().ids
    if store.get_set(MAJORITY) is None:
        return {"n": 0, "modes": [], "micro": None, "macro": None}
    sa, sb = statuses(store, MAJORITY, mode_ids), statuses(store, set_name, mode_ids)
    common = sorted(set(sa) & set(sb) & ids)
    empty = np.zeros((0, len(mode_ids)), dtype=np.int8)
    a = np.array([sa[t] for t in common]) if common else empty
    b = np.array([sb[t] for t in common]) if common else empty
    result = agreement_from_matrices(a, b, mode_ids, MAJORITY, set_name)
    return {"n": len(common), "micro": result.micro.model_dump(mode="json"), "macro": result.macro.kappa,
            "modes": [{"id": s.id, "n": s.n, "positives": s.tp + s.fn, "kappa": s.kappa, "kappa_ci": s.kappa_ci,
                       "prevalence_humans": s.prevalence_a, "prevalence_judge": s.prevalence_b}
                      for s in result.modes]}


def figures_for(store: Store, set_name: str, kind: str, ids: set[str], group: str) -> dict:
    if kind == "localization":
        return {"kind": kind, **localization(store, set_name, ids)}
    if kind == "kappa":
        return {"kind": kind, **kappas(store, set_name, ids)}
    return {"kind": "outcome", **separation(store, set_name, ids, group)}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _ci(ci: list[float] | None) -> str:
    return "" if not ci else f" [{ci[0]:.2f}, {ci[1]:.2f}]"


def _loc_row(label: str, loc: dict) -> str:
    return (f"    {label:<38} n={loc['n_step']:>3}  step exact {_pct(loc['step_exact']):>6}  +-1 "
            f"{_pct(loc['step_within_1']):>6}  +-3 {_pct(loc['step_within_3']):>6}  agent {_pct(loc['agent']):>6}")


def print_figures(group: str, fig: dict, counts: dict) -> None:
    """One source's block: how many traces were judged and errored, then its figures."""
    print(f"\n{group}: {counts['annotated']}/{counts['traces']} annotated, {counts['errors']} errors"
          + (f" (unanswered: {counts['unanswered']})" if counts.get("unanswered") else "")
          + (f"; {counts['unverified_evidence']} of {counts['evidence']} evidence quotes not found in the record"
             if counts.get("evidence") else ""))
    if fig["kind"] == "outcome":
        auroc = "-" if fig["auroc"] is None else f"{fig['auroc']:.2f}{_ci(fig['auroc_ci'])}"
        print(f"  {fig['n']} runs ({fig['n_failed']} failed, {fig['n_success']} successful): flagged failed "
              f"{_pct(fig['flagged_failed'])}, successful {_pct(fig['flagged_success'])}; AUROC {auroc}")
        print(f"  task_completed right on {fig['task_completed_right']} of {fig['n']} "
              f"({fig['task_completed_said']} said)")
        print(f"  modes on successful runs: {fig['modes_on_success'] or 'none'}")
        print(f"  modes on failed runs: {fig['modes_on_failed'] or 'none'}")
    elif fig["kind"] == "localization":
        print(f"  {fig['n']} failed runs judged, any mode present {_pct(fig['any_mode'])}")
        naive = {x["group"]: x for x in fig["naive"]}
        for loc in fig["judge"]:
            print(_loc_row(f"{loc['group']}: judge", loc))
            if loc["group"] in naive:
                print(_loc_row(f"{loc['group']}: naive first message", naive[loc["group"]]))
    else:
        micro = fig["micro"] or {}
        kappa, macro = micro.get("kappa"), fig["macro"]
        print(f"  {fig['n']} traces: micro kappa {'-' if kappa is None else f'{kappa:+.2f}'}"
              f"{_ci(micro.get('kappa_ci'))}, macro {'-' if macro is None else f'{macro:+.2f}'}; "
              f"prevalence judge {_pct(micro.get('prevalence_b'))} vs humans {_pct(micro.get('prevalence_a'))}")
        for m in fig["modes"]:
            if m["n"]:
                k = "-" if m["kappa"] is None else f"{m['kappa']:+.2f}"
                print(f"    {m['id']:<7} kappa {k:>5}  judge {_pct(m['prevalence_judge']):>6}  humans "
                      f"{_pct(m['prevalence_humans']):>6}  ({m['positives']} positives of {m['n']})")
