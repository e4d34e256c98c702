"""What the queue and trace pages show, read from the store (plain data; the templates escape it)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mastlens.report.drilldown import MAX_TRACE_CHARS, TraceView, build_trace_view
from mastlens.review.decisions import MAX_NOTE, Label, current_labels, history, judge_modes
from mastlens.store import Store
from mastlens.taxonomy import load_taxonomy
from mastlens.trace import ModeStatus, ModeVerdict

PAGE_SIZE = 50
OUTCOMES = ("failure", "success", "unknown")
STATES = ("todo", "done")
# A reviewer reads one trace at a time: it gets the report's largest per-trace budget, twice over.
REVIEW_CHAR_BUDGET = 2 * MAX_TRACE_CHARS


class BadRequest(ValueError):
    """A request value the app cannot use; the message says which and why (shown with a 400)."""


@dataclass(frozen=True)
class ReviewConfig:
    """One review session: who labels which judge set's queue, in which store."""

    db: str
    human_set: str
    judge_set: str
    reviewer: str
    queue_id: int
    strategy: str
    against_set: str = ""
    seed: int = 0


@dataclass
class QueueFilters:
    group: str = ""
    outcome: str = ""
    mode: str = ""
    state: str = ""
    page: int = 1

    @classmethod
    def parse(cls, params: Any, mode_ids: list[str]) -> QueueFilters:
        f = cls(group=params.get("group", ""), outcome=params.get("outcome", ""), mode=params.get("mode", ""),
                state=params.get("state", ""))
        if f.outcome and f.outcome not in OUTCOMES:
            raise BadRequest(f"outcome must be one of {', '.join(OUTCOMES)} (got {f.outcome!r})")
        if f.mode and f.mode not in mode_ids:
            raise BadRequest(f"mode must be a mode id such as {mode_ids[0]} (got {f.mode!r})")
        if f.state and f.state not in STATES:
            raise BadRequest(f"state must be todo or done (got {f.state!r})")
        try:
            f.page = int(params.get("page", "1") or 1)
        except ValueError:
            raise BadRequest(f"page must be a whole number (got {params.get('page')!r})") from None
        if f.page < 1:
            raise BadRequest("page must be 1 or more")
        return f


_LABELLED = ("EXISTS (SELECT 1 FROM trace_annotations h WHERE h.set_name = :human AND h.trace_id = q.trace_id "
             "AND h.stale = 0 AND h.status = 'ok')")


def _where(f: QueueFilters) -> str:
    """Filters on the queue's own columns (no join: a 100,000-trace queue filters in one table scan)."""
    parts = ["q.queue_id = :queue"]
    if f.group:
        parts.append("q.grp = :group")
    if f.outcome:
        parts.append("q.outcome = :outcome")
    if f.mode:
        parts.append("q.judge_present LIKE :mode_pattern")
    if f.state:
        parts.append(_LABELLED if f.state == "done" else f"NOT {_LABELLED}")
    return " AND ".join(parts)


def queue_groups(store: Store, queue_id: int) -> list[str]:
    return [r[0] for r in store.conn.execute(
        "SELECT DISTINCT grp FROM review_queue_items WHERE queue_id = ? ORDER BY 1", (queue_id,))]


def queue_progress(store: Store, cfg: ReviewConfig) -> tuple[int, int]:
    """(labelled, total) over the queue; the labelled count walks the human set, which is the small side."""
    total = store.conn.execute("SELECT COUNT(*) FROM review_queue_items WHERE queue_id = ?",
                               (cfg.queue_id,)).fetchone()[0]
    done = store.conn.execute(
        """SELECT COUNT(*) FROM trace_annotations h
           WHERE h.set_name = ? AND h.stale = 0 AND h.status = 'ok' AND EXISTS (
               SELECT 1 FROM review_queue_items q WHERE q.queue_id = ? AND q.trace_id = h.trace_id)""",
        (cfg.human_set, cfg.queue_id)).fetchone()[0]
    return done, total


def queue_page(store: Store, cfg: ReviewConfig, f: QueueFilters) -> dict[str, Any]:
    args = {"queue": cfg.queue_id, "human": cfg.human_set, "group": f.group, "outcome": f.outcome,
            "mode_pattern": f"% {f.mode} %"}
    where = _where(f)
    matching = store.conn.execute(f"SELECT COUNT(*) FROM review_queue_items q WHERE {where}", args).fetchone()[0]
    pages = max(1, math.ceil(matching / PAGE_SIZE))
    rows = store.conn.execute(
        f"""SELECT q.position, q.trace_id, q.why, q.grp, q.outcome, t.n_steps, {_LABELLED} AS labelled
            FROM (SELECT * FROM review_queue_items q WHERE {where} ORDER BY q.position
                  LIMIT {PAGE_SIZE} OFFSET {(f.page - 1) * PAGE_SIZE}) q
            LEFT JOIN traces t ON t.id = q.trace_id ORDER BY q.position""", args).fetchall()
    items = [{"position": r["position"], "trace_id": r["trace_id"], "why": r["why"], "group": r["grp"],
              "outcome": r["outcome"], "n_steps": r["n_steps"], "labelled": bool(r["labelled"])} for r in rows]
    done, total = queue_progress(store, cfg)
    return {"items": items, "matching": matching, "pages": pages, "filters": f, "done": done, "total": total,
            "next_todo": next_todo(store, cfg, -1)}


def next_todo(store: Store, cfg: ReviewConfig, after: int) -> int | None:
    """The first queue position after ``after`` without a label, wrapping round once."""
    args = {"queue": cfg.queue_id, "human": cfg.human_set, "after": after}
    for cond in ("q.position > :after", "q.position <= :after"):
        row = store.conn.execute(f"SELECT q.position FROM review_queue_items q WHERE q.queue_id = :queue AND {cond} "
                                 f"AND NOT {_LABELLED} ORDER BY q.position LIMIT 1", args).fetchone()
        if row is not None:
            return row[0]
    return None


def queue_trace(store: Store, cfg: ReviewConfig, position: int) -> str | None:
    row = store.conn.execute("SELECT trace_id FROM review_queue_items WHERE queue_id = ? AND position = ?",
                             (cfg.queue_id, position)).fetchone()
    return row[0] if row else None


@dataclass
class ModePanel:
    index: int
    id: str
    name: str
    definition: str
    judge: ModeVerdict | None
    label: Label | None
    chosen: str  # the radio checked on load: the current human label, else the judge's status
    history: list[dict[str, Any]] = field(default_factory=list)


def item_page(store: Store, cfg: ReviewConfig, position: int) -> dict[str, Any] | None:
    trace_id = queue_trace(store, cfg, position)
    if trace_id is None:
        return None
    row = store.conn.execute("SELECT hash, success FROM traces WHERE id = ?", (trace_id,)).fetchone()
    trace = store.get_trace(trace_id)
    if trace is None or row is None:
        return {"missing": trace_id, "position": position}
    taxonomy = load_taxonomy()
    judged = judge_modes(store, cfg.judge_set, trace_id)
    labels = current_labels(store, cfg.human_set, trace_id)
    decisions = history(store, cfg.human_set, trace_id)
    panels = []
    for i, mode in enumerate(taxonomy.modes):
        judge, label = judged.get(mode.id), labels.get(mode.id)
        chosen = (label.status if label else judge.status if judge else ModeStatus.NOT_ASSESSED).value
        panels.append(ModePanel(index=i, id=mode.id, name=mode.name, definition=mode.definition, judge=judge,
                                label=label, chosen=chosen, history=[d for d in decisions if d["mode_id"] == mode.id]))
    from mastlens.trace import Verdict

    view: TraceView = build_trace_view(
        trace, anchor="t", group=trace.model or trace.system or "unknown", group_key="g",
        success=None if row["success"] is None else bool(row["success"]), verdict=Verdict(modes=judged),
        status="ok" if judged else "missing", error=None, mode_names={m.id: m.name for m in taxonomy.modes},
        char_budget=REVIEW_CHAR_BUDGET, db=cfg.db)
    done, total = queue_progress(store, cfg)
    return {"position": position, "trace": trace, "view": view, "hash": row["hash"], "panels": panels,
            "decisions": decisions, "done": done, "total": total, "max_note": MAX_NOTE,
            "prev": position - 1 if position > 0 else None, "next": position + 1 if position + 1 < total else None}


def parse_choices(form: Any, mode_ids: list[str], n_steps: int) -> dict[str, Label]:
    """The reviewer's label for each mode the form names; ``BadRequest`` says which value is wrong."""
    known = set(mode_ids)
    for key in form.keys():
        prefix, _, mode_id = key.partition(":")
        if prefix in ("status", "step", "note") and mode_id not in known:
            raise BadRequest(f"field {key!r} names no mode of the taxonomy")
    choices = {}
    for mode_id in mode_ids:
        status = form.get(f"status:{mode_id}")
        if status is None:
            continue
        try:
            status_value = ModeStatus(status)
        except ValueError:
            raise BadRequest(f"{mode_id}: status must be present, absent or not_assessed (got {status!r})") from None
        step_text = (form.get(f"step:{mode_id}") or "").strip()
        step = None
        if step_text:
            if not step_text.isdigit() or not 0 <= int(step_text) < n_steps:
                raise BadRequest(f"{mode_id}: step must be a step number from 0 to {n_steps - 1} (got {step_text!r})")
            step = int(step_text)
        note = form.get(f"note:{mode_id}") or ""
        if len(note) > MAX_NOTE:
            raise BadRequest(f"{mode_id}: the note has {len(note)} characters; at most {MAX_NOTE} are kept")
        choices[mode_id] = Label(status_value, step, note.strip())
    return choices
