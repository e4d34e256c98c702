"""FM-1.5 unaware of termination conditions."""

from __future__ import annotations

import re

from mastlens.judges.rules.config import RulesConfig
from mastlens.judges.rules.evidence import absent, cite, cite_all, not_assessed, present
from mastlens.judges.rules.view import FINAL_MARKER, Call, TraceView
from mastlens.trace import Evidence, ModeVerdict, Step, StepKind

MODE = "FM-1.5"
_LIMIT = re.compile(
    r"\b(?:max(?:imum)?[ _-]?(?:turns?|steps?|iterations?|rounds?)|(?:turn|step|iteration|round|time)[ _-]limit"
    r"|context (?:window|length) (?:exceeded|exhausted)|ran out of (?:turns|steps|time)|timed out)\b",
    re.IGNORECASE)


def trailing_loop(calls: list[Call], config: RulesConfig) -> list[Call]:
    """The calls of a cycle (period up to ``loop_max_period``) repeated at least ``loop_min_cycles``
    times back to back at the very end of the calls; empty when the calls do not end in a loop."""
    keys = [c.key for c in calls]
    best: list[Call] = []
    for period in range(1, config.loop_max_period + 1):
        block = keys[-period:]
        if len(keys) < period * config.loop_min_cycles or len(set(block)) < period:
            continue  # a block with a repeated key is a shorter period, found already
        cycles = 0
        while keys[len(keys) - (cycles + 1) * period:len(keys) - cycles * period] == block:
            cycles += 1
            if (cycles + 1) * period > len(keys):
                break
        if cycles >= config.loop_min_cycles and cycles * period > len(best):
            best = calls[len(calls) - cycles * period:]
    return best


def ended_in_loop(view: TraceView) -> list[Call]:
    """The looping calls when the run stopped inside a loop (no final answer after it)."""
    if view.final_answer is not None or not view.calls:
        return []
    return trailing_loop(view.calls, view.config)


# Where formats record why a run stopped: a stop-reason field of the outcome or the trace metadata
# (chat logs, agent SDKs), or Inspect's ``limit`` ({"type": "message", "limit": 50}) when a sample hit one.
_REASON_FIELD = re.compile(r"^(?:stop|finish|termination|end|exit)_?reason$|^stopped_by$", re.IGNORECASE)
_INSPECT_LIMITS = {"message", "token", "time", "working", "context"}  # not "operator" (a person stopped it)


def _limit_step(view: TraceView) -> Step | None:
    """An event or error near the end saying a limit stopped the run, when the agent did nothing after it
    (a timeout it recovered from, going on to call tools or answer, stopped nothing)."""
    for step in reversed(view.trace.steps[-5:]):
        if step.kind in (StepKind.ASSISTANT, StepKind.TOOL_CALL):
            return None
        if step.kind in (StepKind.EVENT, StepKind.ERROR) and _LIMIT.search(step.content[:500]):
            return step
    return None


def recorded_limit(view: TraceView) -> str | None:
    """``field=value`` when the trace's outcome or metadata records that the run stopped at a turn, step,
    time or context limit (not a per-message token cap such as ``finish_reason=length``)."""
    trace = view.trace
    for where, fields in (("outcome", trace.outcome.metrics), ("metadata", trace.metadata)):
        for key, value in fields.items():
            if _REASON_FIELD.match(key) and isinstance(value, str) and _LIMIT.search(value):
                return f"{where} {key}={value}"
    limit = trace.metadata.get("limit")
    if isinstance(limit, dict) and str(limit.get("type", "")).lower() in _INSPECT_LIMITS:
        return f"metadata limit={limit.get('type')} limit ({limit.get('limit')})"
    return None


def cut_by_limit(view: TraceView) -> bool:
    """Whether the run was stopped from outside: cut inside a loop, or at a recorded limit."""
    return bool(ended_in_loop(view)) or _limit_step(view) is not None or recorded_limit(view) is not None


def _last_agent_step(view: TraceView) -> Step | None:
    for step in reversed(view.trace.steps):
        if step.kind in (StepKind.ASSISTANT, StepKind.TOOL_CALL) and (step.content.strip() or step.arguments):
            return step
    return None


def _continued_after_final(view: TraceView, config: RulesConfig) -> tuple[Step, list[Step]] | None:
    """The final-answer step and the agent actions after it, when no user input came in between."""
    declared: Step | None = None
    after: list[Step] = []
    for step in view.trace.steps:
        if step.kind is StepKind.USER:
            if declared is not None and len(after) >= config.continue_after_final_min_calls:
                return declared, after
            declared, after = None, []
        elif declared is None:
            if step.kind is StepKind.ASSISTANT and (step.metadata.get("phase") == "final_answer"
                                                     or FINAL_MARKER.search(step.content)):
                declared = step
        elif step.kind is StepKind.TOOL_CALL:
            after.append(step)
    if declared is not None and len(after) >= config.continue_after_final_min_calls:
        return declared, after
    return None


def detect_unaware_of_termination(view: TraceView, config: RulesConfig) -> ModeVerdict:
    """Unaware of termination: the run stops inside a loop of repeated calls (cut off rather than
    finishing), hits a turn/step/time limit (an event or error step saying so, or a stop reason the format
    keeps in the outcome or metadata: ``stop_reason=max_turns``, Inspect's message/time/token limit; the
    evidence is then the agent's last action), or keeps calling tools after declaring its final answer
    without new input.

    Ignores: loops the agent broke out of by itself (that is FM-1.3 at most), aborts without a loop or a
    limit (a user may stop a run for any reason), a model reply cut at its token cap
    (``finish_reason=length``: one message, not the run), compaction."""
    if not view.content_captured:
        return not_assessed(MODE, "the trace was recorded without content: repeated calls cannot be told apart")
    loop = ended_in_loop(view)
    limit = _limit_step(view)
    recorded = recorded_limit(view) if limit is None else None
    continued = _continued_after_final(view, config)
    evidence: list[Evidence] = []
    reasons = []
    if loop:
        evidence += cite_all([(c.step, None) for c in loop], config.excerpt_chars)
        if view.end_event is not None and (item := cite(view.end_event, None, config.excerpt_chars)):
            evidence.append(item)
        reasons.append(f"the run ends inside a loop of {len(loop)} repeated calls (from step {loop[0].step.index}) "
                       "without a final answer")
    if limit is not None and (item := cite(limit, _LIMIT.search(limit.content[:500]).group(0), config.excerpt_chars)):
        evidence.append(item)
        reasons.append(f"the run hit a limit (step {limit.index})")
    last = _last_agent_step(view) if recorded is not None else None
    if last is not None and (item := cite(last, None, config.excerpt_chars)):
        evidence.append(item)
        reasons.append(f"the run stopped at a limit ({recorded}); its last action is step {last.index}")
    if continued is not None:
        declared, after = continued
        evidence += cite_all([(declared, None)] + [(s, None) for s in after], config.excerpt_chars)
        reasons.append(f"{len(after)} tool calls after the final answer at step {declared.index}")
    if evidence:
        return present(MODE, 0.85 if loop or continued else 0.75, "; ".join(reasons), evidence)
    if view.final_answer is not None:
        return absent(MODE, 0.7, "the agent ended the run with a final answer, not in a loop or at a limit")
    return not_assessed(MODE, "the run ends without a final answer, a loop or a recorded limit")
