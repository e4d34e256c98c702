"""Reviewer decisions: appended to ``review_decisions``, never updated or deleted; a human set's current
label of a mode is its latest decision, kept as an ordinary annotation set (judge ``labels``) so that
``agree``, ``stats``, ``report --reference`` and ``import-labels`` read and write it like any other.

A label written to a ``human:*`` set by anything else (``import-labels``) is appended to the same history by
the store's trigger, with the value it replaced, so a review and an import of one trace never overwrite
each other silently.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from mastlens.store import Store
from mastlens.taxonomy import load_taxonomy
from mastlens.trace import Annotation, AnnotationStatus, Evidence, ModeStatus, ModeVerdict, Verdict

HUMAN_PREFIX = "human:"
# The judge of label sets (analysis.labels.LABELS_JUDGE), so import-labels can write into a human set; not
# imported from there because that pulls in the whole analysis stack and the server should start fast.
LABELS_JUDGE = "labels"
MAX_NOTE = 2000
_NAME = re.compile(r"[\w.@+-]{1,64}")

HISTORY_COLUMNS = ["id", "set_name", "trace_id", "mode_id", "status", "step", "note", "previous_status",
                   "judge_set", "judge_status", "judge_confidence", "trace_hash", "reviewer", "source", "decided_at"]


class StaleTrace(Exception):
    """The trace's stored content changed (or it is gone) since the reviewer opened it."""


@dataclass(frozen=True)
class Label:
    status: ModeStatus
    step: int | None = None
    note: str = ""


def human_set_name(reviewer: str) -> str:
    """``human:NAME`` for a reviewer name (letters, digits and ``. @ + - _`` only)."""
    name = reviewer[len(HUMAN_PREFIX):] if reviewer.startswith(HUMAN_PREFIX) else reviewer
    if not _NAME.fullmatch(name):
        raise ValueError(f"reviewer name {reviewer!r}: use 1-64 letters, digits or . @ + - _")
    return HUMAN_PREFIX + name


def current_labels(store: Store, set_name: str, trace_id: str) -> dict[str, Label]:
    """The set's current label of each mode of one trace (empty when it has none or it is stale)."""
    row = store.conn.execute("SELECT stale, status FROM trace_annotations WHERE set_name = ? AND trace_id = ?",
                             (set_name, trace_id)).fetchone()
    if row is None or row["stale"] or row["status"] != "ok":
        return {}
    out = {}
    for m in store.conn.execute("SELECT mode_id, status, reason, evidence FROM mode_annotations "
                                "WHERE set_name = ? AND trace_id = ?", (set_name, trace_id)):
        steps = [e["step"] for e in json.loads(m["evidence"])]
        out[m["mode_id"]] = Label(ModeStatus(m["status"]), min(steps) if steps else None, m["reason"])
    return out


def judge_modes(store: Store, set_name: str, trace_id: str) -> dict[str, ModeVerdict]:
    """The judge set's verdict of each mode of one trace."""
    return {m["mode_id"]: ModeVerdict(
        id=m["mode_id"], status=ModeStatus(m["status"]), confidence=m["confidence"], reason=m["reason"],
        evidence=[Evidence(**e) for e in json.loads(m["evidence"])], flip_rate=m["flip_rate"])
        for m in store.conn.execute("SELECT * FROM mode_annotations WHERE set_name = ? AND trace_id = ?",
                                    (set_name, trace_id))}


def save_review(store: Store, *, human_set: str, judge_set: str, trace_id: str, loaded_hash: str,
                choices: dict[str, Label], reviewer: str) -> int:
    """Append one decision per chosen mode and make them the human set's current labels, in one
    transaction; refuse (``StaleTrace``) when the trace's stored content hash is not ``loaded_hash``.
    Modes without a choice keep their current label. Returns the number of decisions appended."""
    mode_ids = load_taxonomy().ids
    with store.conn:
        store.conn.execute("BEGIN IMMEDIATE")
        # the row stays locked to the commit: a re-ingest from another host waits, then marks this set stale
        row = store.conn.execute(f"SELECT hash FROM traces WHERE id = ?{store.dialect.lock_row}",
                                 (trace_id,)).fetchone()
        if row is None:
            raise StaleTrace(f"trace {trace_id!r} is no longer stored")
        if row["hash"] != loaded_hash:
            raise StaleTrace("this trace was re-ingested with other content after you opened it; reload the page "
                             "and review the current content (nothing was saved)")
        current = current_labels(store, human_set, trace_id)
        judge = judge_modes(store, judge_set, trace_id)
        rows = []
        for mode_id, label in choices.items():
            shown = judge.get(mode_id)
            previous = current.get(mode_id)
            rows.append((human_set, trace_id, mode_id, label.status.value, label.step, label.note,
                         previous.status.value if previous else None, judge_set,
                         shown.status.value if shown else None, shown.confidence if shown else None,
                         loaded_hash, reviewer))
        store.conn.executemany(
            """INSERT INTO review_decisions (set_name, trace_id, mode_id, status, step, note, previous_status,
               judge_set, judge_status, judge_confidence, trace_hash, reviewer, source)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'review')""", rows)
        merged = {m: choices.get(m) or current.get(m) or Label(ModeStatus.NOT_ASSESSED) for m in mode_ids}
        if store.get_set(human_set) is None:
            store.ensure_set(human_set, judge=LABELS_JUDGE, taxonomy_version=load_taxonomy().version,
                             params={"source": "mastlens review"})
        store._write_annotation(_label_annotation(human_set, trace_id, merged, loaded_hash, reviewer))
    return len(rows)


def _label_annotation(set_name: str, trace_id: str, labels: dict[str, Label], trace_hash: str,
                      reviewer: str) -> Annotation:
    modes = {m: ModeVerdict(id=m, status=lab.status, reason=lab.note,
                            evidence=[] if lab.step is None else [Evidence(step=lab.step, quote="")])
             for m, lab in labels.items()}
    return Annotation(trace_id=trace_id, set=set_name, status=AnnotationStatus.OK, trace_hash=trace_hash,
                      verdict=Verdict(modes=modes, metadata={"review_save": reviewer}))


def history(store: Store, set_name: str, trace_id: str | None = None) -> list[dict[str, Any]]:
    """Every decision of a set (or one trace of it), oldest first."""
    sql = f"SELECT {', '.join(HISTORY_COLUMNS)} FROM review_decisions WHERE set_name = ?"
    args: list[Any] = [set_name]
    if trace_id is not None:
        sql += " AND trace_id = ?"
        args.append(trace_id)
    return [dict(r) for r in store.conn.execute(sql + " ORDER BY id", args)]


def history_frame(store: Store, set_name: str):  # noqa: ANN201 - a pandas DataFrame
    """All decisions of a set as a table (``mastlens export --history``)."""
    import pandas as pd

    return pd.DataFrame(history(store, set_name), columns=HISTORY_COLUMNS)
