"""Per-source fidelity figures of one annotation set, on one half of the dev sets.

Importable by every bench that measures a judge on ``../shared/devsets`` (the rules bench, the LLM judge
replay): :func:`source_figures` takes a store the dev sets were ingested into, the judge's annotation set and
a split (``build``, ``validate`` or ``all``) and returns one entry per source:

* outcome sources (tau-bench per domain, tau2, SWE-bench): AUROC of the failure vector (number of present
  modes) for failure with a seeded bootstrap 95% CI, and the share of failed and of successful runs flagged;
* Who&When: decisive step exact / +-1 / +-3 and agent accuracy against the human attribution, per subset,
  beside the naive first-agent-message baseline;
* MAST-Data: per-mode Cohen's kappa against the annotators' majority.

Every figure comes from the analysis functions ``agree`` and ``stats`` use.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from _fidelity_sources import Origin, ids_by_group, origins
from mastlens.analysis.agreement import agreement_from_matrices, describe_shared_labels, shared_label_blocks, statuses
from mastlens.analysis.fidelity import outcome_separation
from mastlens.analysis.localization import localization_by_group, localization_pairs
from mastlens.analysis.vectors import failure_vectors, mode_matrices
from mastlens.store import Store
from mastlens.taxonomy import load_taxonomy

ATTRIBUTION = "whowhen-attribution"
MAJORITY = "mad-majority"


def outcome_matrices(store: Store, set_name: str, ids: set[str]) -> tuple[pd.DataFrame, list[str], np.ndarray, np.ndarray]:
    """``set_name``'s failure vectors on the traces ``ids``: the frame, its mode ids, the present matrix and the
    outcomes (1 success, 0 failed, -1 unknown)."""
    df = failure_vectors(store, set_name)
    df = df[df["id"].isin(ids)]
    mode_ids = [m for m in load_taxonomy().ids if m in df.columns]
    present, _, _ = mode_matrices(df, mode_ids)
    success = df["success"].astype("Int8").fillna(-1).to_numpy(dtype=np.int8)
    return df, mode_ids, present, success


def separation(store: Store, set_name: str, ids: set[str], group: str, *, rounds: int | None = None) -> dict:
    """AUROC (with CI) and flag rates of ``set_name``'s failure vectors on the traces ``ids``."""
    _, _, present, success = outcome_matrices(store, set_name, ids)
    kwargs = {"rounds": rounds} if rounds is not None else {}
    return outcome_separation(present, success, group=group, **kwargs).model_dump(mode="json")


def localization(store: Store, set_name: str, ids: set[str], *, rounds: int | None = None) -> dict:
    """Who&When: any-mode share, and the judge's and the naive baseline's localization per subset."""
    anns = {a.trace_id: a.verdict for a in store.get_annotations(set_name) if a.verdict is not None and a.trace_id in ids}
    kwargs = {"rounds": rounds} if rounds is not None else {}
    judged = [p for p in localization_pairs(store, ATTRIBUTION, set_name, group_by="subset") if p.trace_id in ids]
    naive = [p for p in localization_pairs(store, ATTRIBUTION, None, group_by="subset", baseline=True)
             if p.trace_id in ids]
    return {"n": len(anns), "any_mode": sum(bool(v.present()) for v in anns.values()) / len(anns) if anns else None,
            "judge": [x.model_dump(mode="json") for x in localization_by_group(judged, **kwargs)],
            "naive": [x.model_dump(mode="json") for x in localization_by_group(naive, **kwargs)]}


def agreement_on(store: Store, set_name: str, ids: set[str], *, rounds: int | None = None):  # noqa: ANN201
    """(number of traces, ``AgreementResult``) of ``set_name`` against the annotators' majority on the traces
    ``ids`` both sets judged; ``(0, None)`` when the store holds no majority labels."""
    mode_ids = load_taxonomy().ids
    if store.get_set(MAJORITY) is None:
        return 0, None
    sa, sb = statuses(store, MAJORITY, mode_ids), statuses(store, set_name, mode_ids)
    common = sorted(set(sa) & set(sb) & ids)
    empty = np.zeros((0, len(mode_ids)), dtype=np.int8)
    a = np.array([sa[t] for t in common]) if common else empty
    b = np.array([sb[t] for t in common]) if common else empty
    kwargs = {"rounds": rounds} if rounds is not None else {}
    return len(common), agreement_from_matrices(a, b, mode_ids, MAJORITY, set_name, **kwargs)


def kappas(store: Store, set_name: str, ids: set[str], *, rounds: int | None = None) -> dict:
    """MAST-Data: per-mode kappa of ``set_name`` against the annotators' majority on the traces ``ids``."""
    n, result = agreement_on(store, set_name, ids, rounds=rounds)
    if result is None:
        return {"n": 0, "modes": [], "shared_labels": []}
    return {"n": n, "modes": [{"id": s.id, "n": s.n, "positives": s.tp + s.fn, "kappa": s.kappa,
                               "kappa_ci": s.kappa_ci} for s in result.modes],
            "shared_labels": shared_labels(store, ids)}


def shared_labels(store: Store, ids: set[str]) -> list[str]:
    """The warning lines when the majority's labels repeat one block across the measured traces (the
    published human-labelled file does: MAST issue #16)."""
    found = shared_label_blocks(store, MAJORITY, sorted(ids))
    return describe_shared_labels([found]) if found is not None else []


def source_figures(store: Store, set_name: str, split: str | None, *, rounds: int | None = None,
                   known: dict[str, Origin] | None = None) -> dict[str, dict]:
    """group -> figures of ``set_name`` on the ``split`` half of every dev-set source in ``store``.

    Groups: ``tau-bench <domain>``, ``tau2 <domain>``, ``swe-bench`` (each ``{"kind": "outcome", ...}``),
    ``who&when`` (``"localization"``), ``mast-data`` (``"kappa"``). ``known``: the store's origins, when the
    caller has them already (:func:`_fidelity_sources.origins`)."""
    known = known if known is not None else origins(store)
    out: dict[str, dict] = {}
    for group, ids in ids_by_group(store, split, known=known).items():
        source = known[next(iter(ids))].source
        if source == "who&when":
            out[group] = {"kind": "localization", **localization(store, set_name, ids, rounds=rounds)}
        elif source == "mast-data":
            out[group] = {"kind": "kappa", **kappas(store, set_name, ids, rounds=rounds)}
        else:
            out[group] = {"kind": "outcome", **separation(store, set_name, ids, group, rounds=rounds)}
    return out


def headline(figures: dict) -> float | None:
    """The one figure a source is judged on: AUROC (outcome sources), Who&When step exact over all records,
    MAST-Data mean kappa over the modes both sides assessed with a positive."""
    if figures["kind"] == "outcome":
        return figures.get("auroc")
    if figures["kind"] == "localization":
        return figures["judge"][0]["step_exact"] if figures["judge"] else None
    values = [m["kappa"] for m in figures["modes"] if m["kappa"] is not None]
    return float(np.mean(values)) if values else None
