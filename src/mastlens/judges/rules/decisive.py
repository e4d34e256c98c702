"""Where a run went wrong, for the rules judge: the decisive step and agent, by one documented rule.

1. The first unrecovered failure: the first failed tool call that no later call of the same tool made
   good (a later success of that tool means the team got past it). The decisive step is the message
   that produced the call (the agent's turn holding the code or command; the call itself when the
   format has no such message).
2. Otherwise, when the team's progress ledger says it is in a loop: the last report of another agent
   before the first such ledger entry (the input the team then went in circles on).
3. Otherwise, the earliest evidence step of the present modes, moved from a tool result to the message
   that produced its call.
No present mode and no failure: no decisive step.
"""

from __future__ import annotations

from mastlens.judges.rules.view import Call, TraceView
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


def first_unrecovered_failure(view: TraceView) -> Call | None:
    for i, call in enumerate(view.calls):
        if call.failed and not any(later.tool == call.tool and not later.failed and later.result is not None
                                   for later in view.calls[i + 1:]):
            return call
    return None


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
    """(decisive step, reason) by the rule in the module docstring."""
    failure = first_unrecovered_failure(view)
    if failure is not None:
        return producer(view, failure), (f"produced the first failed call (step {failure.step.index}) that nothing "
                                         "later made good")
    if view.ledger_loops:
        first = view.ledger_loops[0]
        author = first.agent
        for step in reversed(view.trace.steps[:view.position(first)]):
            if step.kind is StepKind.ASSISTANT and step.agent != author and step.content.strip():
                return step, f"the last report before the team's ledger first said it was looping (step {first.index})"
    present = [v for v in modes.values() if v.status.value == "present" and v.first_step is not None]
    if not present:
        return None, ""
    earliest = min(present, key=lambda v: v.first_step)
    step = _origin(view, view.trace.steps[view.position(view.trace.steps[_index_of(view, earliest.first_step)])])
    return step, f"the earliest evidence of {earliest.id}"


def _index_of(view: TraceView, step_index: int) -> int:
    for i, step in enumerate(view.trace.steps):
        if step.index == step_index:
            return i
    raise ValueError(f"no step {step_index}")
