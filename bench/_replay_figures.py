"""Per-source fidelity figures of a replayed annotation set, on the traces a replay selected.

The same figures as ``bench_fidelity.py`` (outcome separation for runs with an outcome, Who&When localization
beside the naive baseline, MAST-Data agreement with the annotators' majority), each restricted to the given
trace ids, plus what the replay adds: MAST-Data micro/macro kappa and per-mode prevalence beside the humans',
and the share of outcome runs whose ``task_completed`` matches the outcome. Every figure comes from the analysis
functions ``agree`` and ``stats`` use.
"""

from __future__ import annotations

from _fidelity_figures import agreement_on, localization as _localization, outcome_matrices, shared_labels
from _fidelity_print import ci as _ci, localization_lines, pct as _pct
from mastlens.analysis.fidelity import outcome_separation
from mastlens.store import Store


def separation(store: Store, set_name: str, ids: set[str], group: str) -> dict:
    """AUROC (with CI), flag rates, mode prevalence split by outcome, and ``task_completed`` accuracy."""
    df, mode_ids, present, success = outcome_matrices(store, set_name, ids)
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
    """Who&When as bench_fidelity measures it, on the runs the judge annotated: the naive baseline is then
    scored on the same runs as the judge (a run the judge errored on is in neither)."""
    annotated = {a.trace_id for a in store.get_annotations(set_name) if a.verdict is not None and a.trace_id in ids}
    return _localization(store, set_name, annotated)


def kappas(store: Store, set_name: str, ids: set[str]) -> dict:
    """MAST-Data: per-mode and micro/macro kappa of ``set_name`` against the annotators' majority, with each
    mode's prevalence beside the humans'."""
    n, result = agreement_on(store, set_name, ids)
    if result is None:
        return {"n": 0, "modes": [], "micro": None, "macro": None, "shared_labels": []}
    return {"n": n, "micro": result.micro.model_dump(mode="json"), "macro": result.macro.kappa,
            "shared_labels": shared_labels(store, ids),
            "modes": [{"id": s.id, "n": s.n, "positives": s.tp + s.fn, "kappa": s.kappa, "kappa_ci": s.kappa_ci,
                       "prevalence_humans": s.prevalence_a, "prevalence_judge": s.prevalence_b}
                      for s in result.modes]}


def figures_for(store: Store, set_name: str, kind: str, ids: set[str], group: str) -> dict:
    if kind == "localization":
        return {"kind": kind, **localization(store, set_name, ids)}
    if kind == "kappa":
        return {"kind": kind, **kappas(store, set_name, ids)}
    return {"kind": "outcome", **separation(store, set_name, ids, group)}


def print_figures(group: str, fig: dict, counts: dict) -> None:
    """One source's block: how many traces were judged and errored, then its figures."""
    print(f"\n{group}: {counts['annotated']}/{counts['traces']} annotated, {counts['errors']} errors"
          + (f" (unanswered: {counts['unanswered']})" if counts.get("unanswered") else "")
          + (f"; {counts['unverified_evidence']} of {counts['evidence']} evidence quotes not found in the record"
             if counts.get("evidence") else ""))
    if fig["kind"] == "outcome":
        auroc = "-" if fig["auroc"] is None else f"{fig['auroc']:.2f}{_ci(fig['auroc_ci'], as_pct=False)}"
        print(f"  {fig['n']} runs ({fig['n_failed']} failed, {fig['n_success']} successful): flagged failed "
              f"{_pct(fig['flagged_failed'])}, successful {_pct(fig['flagged_success'])}; AUROC {auroc}")
        print(f"  task_completed right on {fig['task_completed_right']} of {fig['n']} "
              f"({fig['task_completed_said']} said)")
        print(f"  modes on successful runs: {fig['modes_on_success'] or 'none'}")
        print(f"  modes on failed runs: {fig['modes_on_failed'] or 'none'}")
    elif fig["kind"] == "localization":
        print(f"  {fig['n']} failed runs judged, any mode present {_pct(fig['any_mode'])}")
        print("\n".join(localization_lines(fig, "naive first agent message")))
    else:
        micro = fig["micro"] or {}
        kappa, macro = micro.get("kappa"), fig["macro"]
        for line in fig.get("shared_labels", []):
            print(f"  warning: {line}")
        print(f"  {fig['n']} traces: micro kappa {'-' if kappa is None else f'{kappa:+.2f}'}"
              f"{_ci(micro.get('kappa_ci'), as_pct=False)}, macro {'-' if macro is None else f'{macro:+.2f}'}; "
              f"prevalence judge {_pct(micro.get('prevalence_b'))} vs humans {_pct(micro.get('prevalence_a'))}")
        for m in fig["modes"]:
            if m["n"]:
                k = "-" if m["kappa"] is None else f"{m['kappa']:+.2f}"
                print(f"    {m['id']:<7} kappa {k:>5}  judge {_pct(m['prevalence_judge']):>6}  humans "
                      f"{_pct(m['prevalence_humans']):>6}  ({m['positives']} positives of {m['n']})")
