"""Failure vectors: one row per annotated trace, its metadata and outcome, one tri-state column per mode.

Mode columns (``FM-1.1`` ...) are pandas nullable booleans: True present, False absent, <NA> not assessed.
``<mode>@step`` columns hold the mode's onset (earliest evidence step) when it is present and localized;
``decisive_step`` / ``decisive_agent`` say where the judge says the run went wrong (null when it names none);
``judge_task_completed`` is the judge's own call on the outcome (null when it made none), beside ``success``.
``format`` is the reader that read the trace and ``source`` where it came from (format/system/domain, or the
run tag ``source``; see :mod:`mastlens.analysis.strata`).
Scalar trace metadata becomes ``meta.<key>`` columns and run tags (``ingest --tag KEY=VALUE``) ``tag.<key>``
columns (both usable with ``--group-by <key>``; a tag wins over a metadata key of the same name). Stale annotations
and judge errors are left out; their counts are in ``df.attrs["excluded"]``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from mastlens.analysis.results import Calibration, CalibrationApplied
from mastlens.analysis.strata import SOURCE_TAG, source_label
from mastlens.store import Store
from mastlens.taxonomy import Taxonomy, load_taxonomy
from mastlens.trace import Outcome, SuccessRule, SuccessTally

AS_INGESTED = "as ingested"
BASE_COLUMNS = ("id", "model", "system", "task", "format", "source", "success", "score")
ONSET_SUFFIX = "@step"
JUDGE_TASK_COMPLETED = "judge_task_completed"  # the judge's own outcome call, beside the real ``success``
TAG_PREFIX = "tag."


def onset_column(mode_id: str) -> str:
    return f"{mode_id}{ONSET_SUFFIX}"


def _success(outcome: dict[str, Any] | None, rule: SuccessRule | None, tally: SuccessTally) -> bool | None:
    parsed = Outcome.model_validate(outcome or {})
    decided = parsed if rule is None else rule.apply(parsed, override=True)
    tally.add(decided)
    return decided.success


def _first_step(evidence: str, onset_step: int | None = None) -> float:
    try:
        steps = [e["step"] for e in json.loads(evidence) if isinstance(e.get("step"), int)]
    except (ValueError, TypeError, AttributeError):
        steps = []
    if onset_step is not None:
        steps.append(onset_step)
    return float(min(steps)) if steps else np.nan


def failure_vectors(store: Store, set_name: str, success_rule: str | None = None,
                    taxonomy: Taxonomy | None = None, calibration: Calibration | None = None) -> pd.DataFrame:
    """The failure vectors of annotation set ``set_name`` joined with the stored traces.

    ``success_rule`` (e.g. ``"score>0"``) decides success for every trace whose outcome has its field
    (the source's own flag stays for the others); a rule naming a field no trace has raises
    :class:`~mastlens.trace.SuccessRuleError`. Without it the outcome stored at ingest is used.
    ``df.attrs["success_decided"]`` says which decided how many traces. With ``calibration``, a present
    verdict whose confidence is below its mode's threshold counts as absent; ``df.attrs["calibration"]``
    (a :class:`~mastlens.analysis.results.CalibrationApplied`) says how many.
    """
    taxonomy = taxonomy or load_taxonomy()
    rule = SuccessRule.parse(success_rule) if success_rule else None
    mode_ids = taxonomy.ids
    conn = store.conn
    counts = conn.execute(
        """SELECT SUM(stale = 1), SUM(stale = 0 AND status = 'error') FROM trace_annotations
           WHERE set_name = ?""", (set_name,)).fetchone()
    rows = conn.execute(
        """SELECT t.id, t.model, t.system, t.task, t.format, json_extract(t.data, '$.outcome') AS outcome,
                  json_extract(t.data, '$.metadata') AS metadata, a.decisive_step, a.decisive_agent,
                  a.task_completed
           FROM trace_annotations a JOIN traces t ON t.id = a.trace_id
           WHERE a.set_name = ? AND a.stale = 0 AND a.status = 'ok' ORDER BY t.id""", (set_name,)).fetchall()
    n_ok = conn.execute(
        "SELECT COUNT(*) FROM trace_annotations WHERE set_name = ? AND stale = 0 AND status = 'ok'",
        (set_name,)).fetchone()[0]

    index = {r["id"]: i for i, r in enumerate(rows)}
    n, m = len(rows), len(mode_ids)
    col = {mode_id: j for j, mode_id in enumerate(mode_ids)}
    status = np.full((n, m), -1, dtype=np.int8)  # -1 not assessed, 0 absent, 1 present
    onset = np.full((n, m), np.nan)
    thresholds = calibration.thresholds if calibration is not None else {}
    demoted: dict[str, int] = {}
    for r in conn.execute(
        """SELECT mo.trace_id, mo.mode_id, mo.status, mo.evidence, mo.onset_step, mo.confidence
           FROM mode_annotations mo
           JOIN trace_annotations a ON a.set_name = mo.set_name AND a.trace_id = mo.trace_id
           WHERE mo.set_name = ? AND a.stale = 0 AND a.status = 'ok'""", (set_name,)):
        i, j = index.get(r[0]), col.get(r[1])
        if i is None or j is None or r[2] == "not_assessed":
            continue
        present = r[2] == "present"
        if present and r[1] in thresholds and r[5] is not None and r[5] < thresholds[r[1]]:
            present = False  # below its mode's calibrated threshold
            demoted[r[1]] = demoted.get(r[1], 0) + 1
        status[i, j] = int(present)
        if present:
            onset[i, j] = _first_step(r[3], r[4])

    data: dict[str, Any] = {
        "id": [r["id"] for r in rows],
        "model": [r["model"] for r in rows],
        "system": [r["system"] for r in rows],
        "task": [r["task"] for r in rows],
        "format": [r["format"] for r in rows],
        "source": [],  # filled once the run tags are read (a ``source`` tag wins)
    }
    outcomes = [json.loads(r["outcome"]) if r["outcome"] else {} for r in rows]
    tally = SuccessTally(rule)
    data["success"] = pd.array([_success(o, rule, tally) for o in outcomes], dtype="boolean")
    tally.check()
    data["score"] = pd.array([o.get("score") for o in outcomes], dtype="Float64")
    data["decisive_step"] = pd.array([r["decisive_step"] for r in rows], dtype="Int64")
    data["decisive_agent"] = [r["decisive_agent"] for r in rows]
    data[JUDGE_TASK_COMPLETED] = pd.array([None if r["task_completed"] is None else bool(r["task_completed"])
                                           for r in rows], dtype="boolean")
    meta: dict[str, list[Any]] = {}
    metadata = [json.loads(r["metadata"]) if r["metadata"] else {} for r in rows]
    for i, r in enumerate(rows):
        for key, value in metadata[i].items():
            if value is None or isinstance(value, (str, int, float, bool)):
                meta.setdefault(key, [None] * n)[i] = value
    for key, values in sorted(meta.items()):
        data[f"meta.{key}"] = values
    tags: dict[str, list[Any]] = {}
    for trace_id, key, value in conn.execute("SELECT trace_id, key, value FROM trace_tags ORDER BY key"):
        i = index.get(trace_id)
        if i is not None:
            tags.setdefault(key, [None] * n)[i] = value
    for key, values in tags.items():
        data[f"{TAG_PREFIX}{key}"] = values
    source_tags = tags.get(SOURCE_TAG, [None] * n)
    data["source"] = [source_label(r["format"], r["system"], metadata[i], source_tags[i]) for i, r in enumerate(rows)]
    for mode_id, j in col.items():
        data[mode_id] = pd.array(np.where(status[:, j] < 0, None, status[:, j] == 1), dtype="boolean")
    for mode_id, j in col.items():
        data[onset_column(mode_id)] = onset[:, j]
    df = pd.DataFrame(data)
    df.attrs["set"] = set_name
    df.attrs["success_rule"] = str(rule) if rule else AS_INGESTED
    df.attrs["success_decided"] = tally.describe() if tally.total else ""
    df.attrs["excluded"] = {"stale": int(counts[0] or 0), "errors": int(counts[1] or 0),
                            "not_in_store": int(n_ok - n)}
    df.attrs["modes"] = list(mode_ids)
    if calibration is not None:
        df.attrs["calibration"] = CalibrationApplied.of(calibration, dict(sorted(demoted.items())))
    return df


def mode_matrices(df: pd.DataFrame, mode_ids: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(present, assessed, onset) as numpy arrays of shape (n traces, n modes)."""
    if len(df) == 0:
        empty = np.zeros((0, len(mode_ids)), dtype=bool)
        return empty, empty, np.zeros((0, len(mode_ids)))
    values = df[mode_ids]
    assessed = values.notna().to_numpy(dtype=bool)
    present = values.fillna(False).to_numpy(dtype=bool)
    onset_cols = [onset_column(m) for m in mode_ids]
    onset = (df[onset_cols].to_numpy(dtype=float) if all(c in df for c in onset_cols)
             else np.full(present.shape, np.nan))
    onset = np.where(present, onset, np.nan)
    return present, assessed, onset
