"""The agreement page's numbers: exactly ``compute_agreement(human set, judge set)`` (what
``mastlens agree human:NAME SET`` prints), beside the judge's prevalence over its whole set.

The page reads the judge set only on the traces the human set labelled (a few hundred, not 100,000) and
hands the same matrices to the same ``agreement_from_matrices``, so the numbers are identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mastlens.analysis import AgreementResult
from mastlens.analysis.agreement import agreement_from_matrices
from mastlens.analysis.results import AgreementStat
from mastlens.store import Store
from mastlens.taxonomy import load_taxonomy


@dataclass
class ModeRow:
    stat: AgreementStat
    name: str
    judged: int  # traces of the judge set that assessed this mode
    judge_prevalence: float | None  # over the judge set's whole sample, as `stats` counts it
    corrected_prevalence: float | None


@dataclass
class AgreementView:
    result: AgreementResult | None
    rows: list[ModeRow]
    corrected_available: bool


def human_agreement(store: Store, human_set: str, judge_set: str) -> AgreementResult:
    """``compute_agreement(store, human_set, judge_set)``, reading the judge set only where the human set is."""
    mode_ids = load_taxonomy().ids
    col = {m: j for j, m in enumerate(mode_ids)}
    # CROSS JOIN keeps SQLite walking the (small) human set first, not the judge's 100,000 rows.
    join = store.dialect.ordered_join
    joins = f"""FROM trace_annotations h
               {join} trace_annotations b ON b.set_name = :judge AND b.trace_id = h.trace_id
                    AND b.stale = 0 AND b.status = 'ok'"""
    where = "WHERE h.set_name = :human AND h.stale = 0 AND h.status = 'ok'"
    args = {"human": human_set, "judge": judge_set}
    common = [r[0] for r in store.conn.execute(f"SELECT h.trace_id {joins} {where} ORDER BY h.trace_id", args)]
    row = {t: i for i, t in enumerate(common)}
    matrices = {}
    for name in ("human", "judge"):
        matrix = np.full((len(common), len(mode_ids)), -1, dtype=np.int8)
        for trace_id, mode_id, status in store.conn.execute(
                f"""SELECT m.trace_id, m.mode_id, m.status {joins}
                    {join} mode_annotations m ON m.set_name = :{name} AND m.trace_id = h.trace_id {where}""", args):
            if mode_id in col and status != "not_assessed":
                matrix[row[trace_id], col[mode_id]] = int(status == "present")
        matrices[name] = matrix
    return agreement_from_matrices(matrices["human"], matrices["judge"], mode_ids, human_set, judge_set)


_PREVALENCE_CACHE: dict[tuple[str, str], tuple[tuple[Any, ...], dict[str, tuple[int, float | None]]]] = {}


def judge_prevalence(store: Store, judge_set: str) -> dict[str, tuple[int, float | None]]:
    """mode -> (traces that assessed it, share present) over the judge set's current, successful annotations.
    Kept while the set is unchanged (a reviewer's saves do not touch it; 100,000 traces take a while)."""
    version = tuple(store.conn.execute(
        "SELECT COUNT(*), MAX(updated_at), SUM(stale) FROM trace_annotations WHERE set_name = ?", (judge_set,)
    ).fetchone())
    cached = _PREVALENCE_CACHE.get((str(store.path), judge_set))
    if cached is not None and cached[0] == version:
        return cached[1]
    out = {}
    for mode_id, assessed, present in store.conn.execute(
            """SELECT mode_id, SUM(status != 'not_assessed'), SUM(status = 'present') FROM mode_annotations
               WHERE set_name = :set AND trace_id NOT IN (
                   SELECT trace_id FROM trace_annotations WHERE set_name = :set AND (stale = 1 OR status != 'ok'))
               GROUP BY mode_id""", {"set": judge_set}):
        out[mode_id] = (int(assessed or 0), present / assessed if assessed else None)
    _PREVALENCE_CACHE[(str(store.path), judge_set)] = (version, out)
    return out


def corrected_prevalences(prevalence: dict[str, tuple[int, float | None]],
                          result: AgreementResult) -> dict[str, float | None]:
    """mode -> the judge's prevalence over the whole set (:func:`judge_prevalence`) corrected for its error
    measured against the human labels so far (Rogan-Gladen, as ``mastlens stats --reference``); None where it
    cannot be corrected (no human positive or negative yet, or a judge no better than chance)."""
    from mastlens.analysis.fidelity import rogan_gladen

    out: dict[str, float | None] = {}
    for stat in result.modes:
        share = prevalence.get(stat.id, (0, None))[1]
        positives, negatives = stat.tp + stat.fn, stat.tn + stat.fp
        if share is None or not positives or not negatives:
            out[stat.id] = None
            continue
        out[stat.id] = rogan_gladen(share, stat.tp / positives, stat.tn / negatives)
    return out


def agreement_view(store: Store, human_set: str, judge_set: str) -> AgreementView:
    taxonomy = load_taxonomy()
    prevalence = judge_prevalence(store, judge_set)
    result = human_agreement(store, human_set, judge_set) if store.get_set(human_set) else None
    corrected = corrected_prevalences(prevalence, result) if result and result.n_traces else None
    rows = []
    if result is not None:
        for stat in result.modes:
            judged, share = prevalence.get(stat.id, (0, None))
            rows.append(ModeRow(stat=stat, name=taxonomy.mode(stat.id).name, judged=judged, judge_prevalence=share,
                                corrected_prevalence=(corrected or {}).get(stat.id)))
    return AgreementView(result=result, rows=rows, corrected_available=corrected is not None)
