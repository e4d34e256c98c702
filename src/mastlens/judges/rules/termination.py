"""FM-1.5 unaware of termination conditions."""

from __future__ import annotations

import re

from mastlens.adapters.executions import code_blocks
from mastlens.judges.rules.config import RulesConfig
from mastlens.judges.rules.evidence import absent, cite, cite_all, not_assessed, present
from mastlens.judges.rules.team_ending import is_autonomous_team
from mastlens.judges.rules.view import FINAL_MARKER, Call, TraceView, normalize_text
from mastlens.trace import Evidence, ModeVerdict, Step, StepKind

MODE = "FM-1.5"
_LIMIT = re.compile(
    r"\b(?:max(?:imum)?[ _-]?(?:turns?|steps?|iterations?|rounds?)|(?:turn|step|iteration|round|time)[ _-]limit"
    r"|max(?:imum)?[ _-]?time\b[^\n.]{0,20}\b(?:reached|exceeded)"
    r"|context (?:window|length) (?:exceeded|exhausted)|ran out of (?:turns|steps|time)|timed out"
    r"|limits?[ _-]?exceeded|(?:cost|budget)[ _-]limit|too[ _-]many[ _-]errors)\b",
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
    return view.once("trailing_loop", lambda v: trailing_loop(v.calls, v.config))


# Where formats record why a run stopped: a stop-reason field of the outcome or the trace metadata
# (chat logs, agent SDKs), or Inspect's ``limit`` ({"type": "message", "limit": 50}) when a sample hit one.
_REASON_FIELD = re.compile(r"^(?:stop|finish|termination|end|exit)_?reason$|^stopped_by$|^exit_?status$", re.IGNORECASE)
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


# Tools that end a run by design: a handoff to another party, a submission, the agent's own "done".
_FINISH_TOOL = re.compile(r"^(?:transfer|handoff|hand_off|escalate|submit|finish|terminate|complete_task|task_complete"
                          r"|final_answer|done)(?:_|$)", re.IGNORECASE)
_FINISH_CALL = re.compile(r"\b(?:complete_task|submit|finish|terminate|final_answer)\s*\(")


def ends_by_design(call: Call) -> bool:
    """A call that ends the run by design: a handoff, a submission (also one the reader marked on its result,
    ``metadata["submission"]``), the agent's own "done"."""
    return bool(_FINISH_TOOL.match(call.tool) or _FINISH_CALL.search(call.step.content[-2000:])) or is_submission(call)


def is_submission(call: Call) -> bool:
    """A call whose result the reader marked as the run's submission (mini-swe-agent's final diff)."""
    return call.result is not None and call.result.metadata.get("submission") is True


def submission(view: TraceView) -> Call | None:
    """The call that submitted the run's work, when the run ends on it: a call the reader marked as the
    submission, or a finishing call named for submitting (``submit``)."""
    call = finishing_call(view)
    if call is not None and (is_submission(call) or call.tool.lower().startswith("submit")):
        return call
    return None


def _finishes(view: TraceView, result: Step) -> bool:
    call = next((c for c in view.calls if c.result is result), None)
    if call is None:
        return bool(_FINISH_TOOL.match(result.tool or ""))
    return ends_by_design(call)


def finishing_call(view: TraceView) -> Call | None:
    """The call that ended the run by design (``complete_task()``, ``submit``, a handoff ...) when the run
    ends on it or on its result."""
    last = next((s for s in reversed(view.trace.steps) if s.kind is not StepKind.EVENT), None)
    if last is None or last.kind not in (StepKind.TOOL_CALL, StepKind.TOOL_RESULT):
        return None
    call = next((c for c in reversed(view.calls) if c.step is last or c.result is last), None)
    return call if call is not None and ends_by_design(call) else None


def cut_mid_work(view: TraceView) -> Step | None:
    return view.once("cut_mid_work", _cut_mid_work)


def _cut_mid_work(view: TraceView) -> Step | None:
    """The step the run stops on when it was cut in the middle of work: a tool result no agent went on
    to read, or (in a run with an executor) an agent turn whose code never ran. None for runs that end
    on an agent's words, a tool that ends the run by design (a handoff ``transfer_to_*``, ``submit``,
    ``terminate``, ``complete_task(...)``), or an abort."""
    if view.end_event is not None:
        return None
    last = next((s for s in reversed(view.trace.steps) if s.kind is not StepKind.EVENT), None)
    if last is None:
        return None
    if last.kind is StepKind.TOOL_RESULT and not _finishes(view, last):
        return last
    if last.kind is StepKind.ASSISTANT and view.has_tools and "```" in last.content and code_blocks(last.content) \
            and not FINAL_MARKER.search(last.content):
        return last
    return None


def nudge_loop(view: TraceView, config: RulesConfig) -> list[Step]:
    """The repeated prompts when an autonomous team's run ends stuck on one: an agent sends the same message
    (at least ``repeat_min_message_chars`` long) ``nudge_min_repeats`` times or more, each answered by another
    agent, and the run ends on it or on one reply to it. An auto-reply ("Continue, keep solving ...") that
    never sees that the other side has finished or given up keeps the team going until a round limit."""
    if not is_autonomous_team(view):
        return []
    turns = [s for s in view.agent_steps if s.kind is StepKind.ASSISTANT and s.agent]
    for candidate in {t.agent for t in turns[-2:]}:
        repeats: list[Step] = []
        text: str | None = None
        replied = False  # another agent answered the latest repeat found (walking backwards)
        tail = 0  # turns after the last repeat
        for turn in reversed(turns):
            if turn.agent != candidate:
                replied = True
                tail += not repeats
                continue
            body = normalize_text(turn.content)
            if text is None:
                text = body
            if body != text or (repeats and not replied):
                break
            repeats.append(turn)
            replied = False
        if tail <= 1 and len(repeats) >= config.nudge_min_repeats and len(text or "") >= config.repeat_min_message_chars:
            return repeats[::-1]
    return []


def cut_by_limit(view: TraceView) -> bool:
    """Whether the run was stopped from outside: cut inside a loop, mid-work, or at a recorded limit."""
    return bool(ended_in_loop(view)) or _limit_step(view) is not None or recorded_limit(view) is not None \
        or cut_mid_work(view) is not None


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
    finishing), stops mid-work (on a tool result no agent read, or on code that never ran: cut from
    outside, typically at a round limit the trace does not record), ends in a team stuck on an auto-reply
    (one agent sending the same prompt again and again whatever the other answers, :func:`nudge_loop`), hits a turn/step/time limit (an event or error step saying so, or a stop reason the format
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
    nudges = nudge_loop(view, config) if not loop else []
    cut = cut_mid_work(view) if not loop else None
    evidence: list[Evidence] = []
    reasons = []
    if cut is not None and (item := cite(cut, None, config.excerpt_chars)):
        evidence.append(item)
        reasons.append(f"the run stops mid-work at step {cut.index} ("
                       + ("a tool result nobody read" if cut.kind is StepKind.TOOL_RESULT else "code that never ran")
                       + "): it was cut off, not finished")
    if loop:
        evidence += cite_all([(c.step, None) for c in loop], config.excerpt_chars)
        if view.end_event is not None and (item := cite(view.end_event, None, config.excerpt_chars)):
            evidence.append(item)
        reasons.append(f"the run ends inside a loop of {len(loop)} repeated calls (from step {loop[0].step.index}) "
                       "without a final answer")
    if nudges:
        evidence += cite_all([(s, None) for s in nudges[:4]], config.excerpt_chars)
        reasons.append(f"{nudges[0].agent} sends the same prompt {len(nudges)} times (from step {nudges[0].index}) "
                       "whatever the reply, to the end of the run: the team never sees the task end")
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
        return present(MODE, 0.85 if loop or continued or nudges else 0.75, "; ".join(reasons), evidence)
    if view.final_answer is not None or finishing_call(view) is not None or (
            view.trace.steps and view.trace.steps[-1].kind is StepKind.TOOL_RESULT):
        return absent(MODE, 0.7, "the run ended on the agent's final answer, a submission or a handoff, not in a loop "
                      "or at a limit")
    return not_assessed(MODE, "the run ends without a final answer, a loop or a recorded limit")
