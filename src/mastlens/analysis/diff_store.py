"""``compute_diff``: the diff of two runs as stored (sets, tags, judge errors, evidence), with the check that
both runs were judged by the same judge configuration."""

from __future__ import annotations

import json

from mastlens.analysis.diff import diff_from_vectors, run_rows
from mastlens.analysis.diff_results import DiffResult, EvidenceRef
from mastlens.analysis.groups import DEFAULT_RULES, VerdictRules
from mastlens.analysis.results import Calibration
from mastlens.analysis.stats import UNKNOWN_GROUP
from mastlens.analysis.strata import SOURCE_TAG, source_label
from mastlens.analysis.vectors import failure_vectors
from mastlens.store import AnnotationSetInfo, Store
from mastlens.taxonomy import load_taxonomy

# What of a set's description changes the verdicts (timeouts, retries and prices do not).
OUTPUT_PARAMS = ("provider", "temperature", "max_trace_tokens", "max_output_tokens", "tool_output_chars",
                 "samples", "rules_version")
MAX_QUOTES = 3


class JudgeChangeRefused(ValueError):
    """BASE and NEW were judged by different judge configurations (pass ``allow_judge_change``)."""


def judge_differences(a: AnnotationSetInfo, b: AnnotationSetInfo) -> list[str]:
    """How two sets' judge configurations differ, in words (empty: the same configuration)."""
    pairs = [("judge", a.judge, b.judge), ("model", a.model, b.model), ("prompt hash", a.prompt_hash, b.prompt_hash),
             ("taxonomy", a.taxonomy_version, b.taxonomy_version)]
    pairs += [(key, a.params.get(key), b.params.get(key)) for key in OUTPUT_PARAMS]
    return [f"{what} {old!r} -> {new!r}" for what, old, new in pairs if old != new]


def _set(store: Store, name: str | None) -> str:
    resolved = name or store.latest_set()
    if resolved is None or store.get_set(resolved) is None:
        known = ", ".join(s.name for s in store.list_sets()) or "none yet"
        raise ValueError(f"no annotation set {name!r} (known sets: {known})" if name else "no annotation sets yet")
    return resolved


def judge_errors_in(store: Store, set_name: str, by: str, value: str) -> int:
    """Traces of ``by`` = ``value`` whose current annotation in the set is a judge error."""
    rows = store.conn.execute(
        """SELECT t.id, t.model, t.system, t.task, t.format, json_extract(t.data, '$.metadata') AS metadata
           FROM trace_annotations a JOIN traces t ON t.id = a.trace_id
           WHERE a.set_name = ? AND a.stale = 0 AND a.status = 'error'""", (set_name,)).fetchall()
    if not rows:
        return 0
    tags = store.all_tags()
    count = 0
    for r in rows:
        metadata = json.loads(r["metadata"]) if r["metadata"] else {}
        if by == "model" and not r["model"]:  # grouped by source, as in the statistics
            found = source_label(r["format"], r["system"], metadata, tags.get(r["id"], {}).get(SOURCE_TAG))
        elif by in ("model", "system", "task"):
            found = r[by]
        elif by in tags.get(r["id"], {}):
            found = tags[r["id"]][by]
        else:
            found = metadata.get(by)
        count += int((UNKNOWN_GROUP if found in (None, "") else str(found)) == value)
    return count


def evidence_lookup(store: Store, set_base: str, set_new: str):  # noqa: ANN201 - an EvidenceLookup
    """The judge's reason and evidence for (side, trace, mode), from the side's set."""
    def lookup(side: str, trace_id: str, mode_id: str) -> tuple[str, list[EvidenceRef]]:
        row = store.conn.execute(
            "SELECT reason, evidence FROM mode_annotations WHERE set_name = ? AND trace_id = ? AND mode_id = ?",
            (set_base if side == "base" else set_new, trace_id, mode_id)).fetchone()
        if row is None:
            return "", []
        try:
            items = json.loads(row["evidence"]) or []
        except ValueError:
            items = []
        refs = [EvidenceRef(step=e.get("step") if isinstance(e.get("step"), int) else None,
                            quote=str(e.get("quote") or "")) for e in items[:MAX_QUOTES] if isinstance(e, dict)]
        return row["reason"] or "", refs
    return lookup


def compute_diff(
    store: Store, base: str, new: str, *, by: str = "run", set_name: str | None = None,
    set_base: str | None = None, set_new: str | None = None, match: str | None = None, alpha: float = 0.05,
    allow_judge_change: bool = False, success_rule: str | None = None, rules: VerdictRules = DEFAULT_RULES,
    calibration: Calibration | None = None,
) -> DiffResult:
    """BASE vs NEW: the traces whose ``by`` value is ``base`` (judged in ``set_base``, else ``set_name``, else
    the latest set) against those with ``new`` (in ``set_new`` ...). Raises :class:`JudgeChangeRefused`
    when the two sets come from different judge configurations, unless ``allow_judge_change``; ``ValueError``
    for an unknown set, key or value. ``calibration``'s thresholds apply to both sides."""
    name_base, name_new = _set(store, set_base or set_name), _set(store, set_new or set_name)
    change = None
    if name_base != name_new:
        differences = judge_differences(store.get_set(name_base), store.get_set(name_new))
        if differences and not allow_judge_change:
            raise JudgeChangeRefused(
                f"sets {name_base!r} and {name_new!r} come from different judge configurations "
                f"({'; '.join(differences)}): a diff would mix judge and agent changes; judge both runs with one "
                "configuration, or pass --allow-judge-change")
        change = "; ".join(differences) or None
    taxonomy = load_taxonomy()
    df_base = failure_vectors(store, name_base, success_rule=success_rule, taxonomy=taxonomy,
                              calibration=calibration)
    df_new = df_base if name_new == name_base else failure_vectors(store, name_new, success_rule=success_rule,
                                                                    taxonomy=taxonomy, calibration=calibration)
    base_rows, new_rows = run_rows(df_base, by, base), run_rows(df_new, by, new)
    result = diff_from_vectors(
        base_rows, new_rows, base=base, new=new, by=by, match=match, alpha=alpha, rules=rules, taxonomy=taxonomy,
        set_base=name_base, set_new=name_new,
        judge_errors=(judge_errors_in(store, name_base, by, base), judge_errors_in(store, name_new, by, new)),
        evidence=evidence_lookup(store, name_base, name_new), judge_change=change,
    )
    if calibration is not None:
        result.calibration = [df_base.attrs["calibration"]] + (
            [] if df_new is df_base else [df_new.attrs["calibration"]])
    return result
