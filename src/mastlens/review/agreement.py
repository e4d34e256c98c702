"""The agreement page's numbers: exactly ``compute_agreement(human set, judge set)`` (what
``mastlens agree human:NAME SET`` prints), beside the judge's prevalence over its whole set."""

from __future__ import annotations

from dataclasses import dataclass

from mastlens.analysis import AgreementResult, compute_agreement
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


def judge_prevalence(store: Store, judge_set: str) -> dict[str, tuple[int, float | None]]:
    """mode -> (traces that assessed it, share present) over the judge set's current, successful annotations."""
    out = {}
    for mode_id, assessed, present in store.conn.execute(
            """SELECT m.mode_id, SUM(m.status != 'not_assessed'), SUM(m.status = 'present')
               FROM mode_annotations m JOIN trace_annotations a ON a.set_name = m.set_name AND a.trace_id = m.trace_id
               WHERE m.set_name = ? AND a.stale = 0 AND a.status = 'ok' GROUP BY m.mode_id""", (judge_set,)):
        out[mode_id] = (int(assessed or 0), present / assessed if assessed else None)
    return out


def corrected_prevalences(store: Store, judge_set: str, result: AgreementResult) -> dict[str, float] | None:
    """The judge's prevalence corrected for its measured error against the human labels.

    Hook for the trustworthy-verdicts analysis (Rogan-Gladen from sensitivity and specificity): once
    ``mastlens.analysis`` offers ``corrected_prevalence(store, judge_set, agreement)`` returning mode ->
    corrected share, the page shows it; until then this returns None and the page says so."""
    from mastlens import analysis

    correct = getattr(analysis, "corrected_prevalence", None)
    return None if correct is None else dict(correct(store, judge_set, result))


def agreement_view(store: Store, human_set: str, judge_set: str) -> AgreementView:
    taxonomy = load_taxonomy()
    prevalence = judge_prevalence(store, judge_set)
    result = compute_agreement(store, human_set, judge_set) if store.get_set(human_set) else None
    corrected = corrected_prevalences(store, judge_set, result) if result and result.n_traces else None
    rows = []
    if result is not None:
        for stat in result.modes:
            judged, share = prevalence.get(stat.id, (0, None))
            rows.append(ModeRow(stat=stat, name=taxonomy.mode(stat.id).name, judged=judged, judge_prevalence=share,
                                corrected_prevalence=(corrected or {}).get(stat.id)))
    return AgreementView(result=result, rows=rows, corrected_available=corrected is not None)
