"""Where a run went wrong, for the rules judge: the decisive step and agent, by one documented rule,
applied only when some mode is present (a failure the rules cannot explain names no step).

1. When the team's progress ledger says it is in a loop (Magentic-One's ``is_in_loop``): the last report
   of another agent before the first such entry, the input the team then went in circles on.
2. Otherwise, when the team's closing answer takes over a teammate's report that says the result was
   checked, and its author made no check of its own (an unchecked vouch, :mod:`.vouching`): the first
   unchecked claim of the chain it relays (:func:`first_vouch`). The team stopped checking because of
   that claim: it is the decisive one, the teammates who repeated it only relayed it.
3. Otherwise, in a team (two or more agents speak) that made tool calls: the turn that produced its
   first call (the message holding the code or command). The first action is what the rest of the run
   builds on: in the human attributions of multi-agent runs we measured (Who&When dev set), the decisive
   mistake is the first executed code or query far more often than any later failure, which tends to
   be its consequence.
4. Otherwise, the turn that produced the first failed tool call nothing later made good (no later
   success of the same tool).
5. Otherwise, in a team: the orchestrator's ledger entry declaring the request satisfied on a report no
   one checked (the decision to finish on it, :mod:`.vouching`), or, when that report itself claims a
   check its author never made, the first such claim (as in 2), else the first turn that acted on the
   task (after it was posed; an orchestrator's own planning skipped).
6. Otherwise, the earliest evidence step of the present modes, moved from a tool result to the turn
   that produced its call.
"""

from __future__ import annotations

from mastlens.judges.rules.handover import handover
from mastlens.judges.rules.view import Call, TraceView
from mastlens.judges.rules.vouching import vouches
from mastlens.trace import ModeVerdict, Step, StepKind


def producer(view: TraceView, call: Call) -> Step:
    """The agent's turn that produced ``call``: the message right before it from the same agent, when
    the adapter split one turn into a message and a call; else the call."""
    pos = view.position(call.step)
    if pos > 0:
        before = view.trace.steps[pos - 1]
        if before.kind is StepKind.ASSISTANT and before.agent == call.step.agent \
                and before.metadata.get("history_index") == call.step.metadata.get("history_index"):
            return before
    return call.step


def first_reply(view: TraceView) -> Step | None:
    """The first agent turn after the task was posed, skipping an orchestrator's own planning (the agent
    that writes a progress ledger or addresses the others): the first turn that acts on the task."""
    orchestrators = view.orchestrators
    posed = False
    for step in view.trace.steps:
        if step.kind in (StepKind.USER, StepKind.SYSTEM):
            posed = posed or step.kind is StepKind.USER
            continue
        if step.kind is not StepKind.ASSISTANT or not step.content.strip():
            continue
        if not posed:
            posed = True  # a team member posing the task (AG2 teams open with the task as a member's message)
            continue
        if step.agent not in orchestrators:
            return step
    return None


def first_unrecovered_failure(view: TraceView) -> Call | None:
    for i, call in enumerate(view.calls):
        if call.failed and not any(later.tool == call.tool and not later.failed and later.result is not None
                                   for later in view.calls[i + 1:]):
            return call
    return None


def first_vouch(view: TraceView, claim: Step) -> Step | None:
    """The first claim of a chain of unchecked vouches ending at ``claim``: while the report an unchecked
    claim of verification rests on is itself one (its author checked nothing either), step back to it.
    None when ``claim`` is no unchecked vouch (its author ran a check of its own, or it claims none)."""
    by_claim = {v.claim.index: v for v in vouches(view)}
    if claim.index not in by_claim:
        return None
    seen = {claim.index}
    while (v := by_claim.get(claim.index)) is not None and v.rests_on.index in by_claim \
            and v.rests_on.index not in seen:
        claim = v.rests_on
        seen.add(claim.index)
    return claim


def relayed_vouch(view: TraceView) -> Step | None:
    """The first unchecked claim of verification the team's closing answer relays (rule 2), else None."""
    ending = handover(view)
    if ending is None or ending.claimed is None or ending.claimed.agent == ending.answer.agent:
        return None
    return first_vouch(view, ending.claimed)


def _origin(view: TraceView, step: Step) -> Step:
    """A tool result's evidence points back at the turn that made its call."""
    if step.kind is StepKind.TOOL_RESULT:
        for call in view.calls:
            if call.result is step:
                return producer(view, call)
    if step.kind is StepKind.TOOL_CALL:
        for call in view.calls:
            if call.step is step:
                return producer(view, call)
    return step


def decisive(view: TraceView, modes: dict[str, ModeVerdict]) -> tuple[Step | None, str]:
    """(decisive step, reason) by the rule in the module docstring; (None, "") when no mode is present."""
    present = [v for v in modes.values() if v.status.value == "present" and v.first_step is not None]
    if not present:
        return None, ""
    if view.ledger_loops:
        first = view.ledger_loops[0]
        for step in reversed(view.trace.steps[:view.position(first)]):
            if step.kind is StepKind.ASSISTANT and step.agent != first.agent and step.content.strip():
                return step, f"the last report before the team's ledger first said it was looping (step {first.index})"
    relayed = relayed_vouch(view)
    if relayed is not None:
        return relayed, ("the team's answer relays a claim that the result was checked, made with no check "
                         f"of its claimer's own (step {relayed.index})")
    team = len({s.agent for s in view.agent_steps if s.kind is StepKind.ASSISTANT and s.agent}) >= 2
    if team and view.calls:
        return producer(view, view.calls[0]), "produced the team's first action (tool call), which the rest builds on"
    failure = first_unrecovered_failure(view)
    if failure is not None:
        return producer(view, failure), (f"produced the first failed call (step {failure.step.index}) that nothing "
                                         "later made good")
    if team:
        closing = next((v for v in vouches(view) if v.claim in view.ledgers), None)
        origin = first_vouch(view, closing.rests_on) if closing is not None else None
        if origin is not None:
            return origin, (f"the orchestrator declared the request satisfied (step {closing.claim.index}) on "
                            f"a report claiming a check its author never made (step {origin.index})")
        if closing is not None:
            return closing.claim, (f"the orchestrator declared the request satisfied (step {closing.claim.index}) on "
                                   f"a report nobody checked (step {closing.rests_on.index})")
    first = first_reply(view) if team else None
    if first is not None:
        return first, "the first turn that acted on the task (no tool calls in this run), which the rest builds on"
    earliest = min(present, key=lambda v: v.first_step)
    return _origin(view, view.trace.steps[_index_of(view, earliest.first_step)]), f"the earliest evidence of {earliest.id}"


def _index_of(view: TraceView, step_index: int) -> int:
    for i, step in enumerate(view.trace.steps):
        if step.index == step_index:
            return i
    raise ValueError(f"no step {step_index}")
