"""Who&When's human attribution as a reference set (``whowhen-attribution``) and as trace metadata.

The human ``mistake_step`` is an index into the record's ``history``. The adapter tags every step it builds
from a history message with ``metadata["history_index"]``, so the label maps to our step index by that
tag, never by position: a message that became several steps (or a speaker message read as a tool result)
still maps to the first step built from it. The set assesses no mode (the humans named a step and an
agent, not failure modes); its verdicts carry ``decisive_step``, ``decisive_agent`` and the reason, and
``task_completed`` from the record's outcome flag.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mastlens.adapters.base import ReadContext, TraceLabels
from mastlens.trace import Step

ATTRIBUTION_SET = "whowhen-attribution"
SOURCE = "Who&When human label"


def history_step(steps: Sequence[Step], history_index: int | None) -> int | None:
    """Our index of the first step built from history message ``history_index`` (None when none was)."""
    if history_index is None:
        return None
    return next((s.index for s in steps if s.metadata.get("history_index") == history_index), None)


def attribution_metadata(record: dict[str, Any], steps: Sequence[Step], source_step: int | None,
                         ctx: ReadContext) -> dict[str, Any]:
    """``trace.metadata["attribution"]``: the human label with ``step`` mapped to our step index."""
    our_step = history_step(steps, source_step)
    if source_step is not None and our_step is None:
        ctx.notes.append(f"mistake_step {source_step} is past the end of the history")
    agent = record.get("mistake_agent")
    return {"mistake_agent": None if agent in (None, "") else str(agent), "history_index": source_step,
            "step": our_step, "reason": record.get("mistake_reason"), "source": SOURCE}


def attribution_labels(trace_id: str, attribution: dict[str, Any], success: bool | None) -> TraceLabels | None:
    """The reference-set entry for one record, or None when it names neither a step nor an agent."""
    step, agent = attribution.get("step"), attribution.get("mistake_agent")
    if step is None and not agent:
        return None
    reason = attribution.get("reason")
    metadata = {"source": SOURCE, "history_index": attribution.get("history_index")}
    return TraceLabels(trace_id, ATTRIBUTION_SET, {}, metadata,
                       decisive_step=step, decisive_agent=agent, decisive_reason=str(reason or ""),
                       task_completed=success)
