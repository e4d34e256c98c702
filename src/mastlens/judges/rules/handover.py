"""A team's answer taken over from a teammate or a tool with no check of it (read by FM-3.2).

A team that ends on an answer (a closing turn marked as the answer: ``FINAL ANSWER:``, ``TERMINATE``, a
``\\boxed{}`` result, or a finishing call such as ``complete_task()``) rests it on whatever came right before:
when that is a result another party handed over (a teammate's report, an inter-agent message, an execution's
output) and nothing checked it (no test run, no read-back, no review in between), the answer was adopted
unverified. Running the code that computes a result produces it; it does not check it.

Not read here: an orchestrator's instructions and ledgers between the result and the answer (they pass the
floor, they hand over nothing); answers resting on the answerer's own turn, a human's message, a canned prompt repeated from
earlier (it hands over nothing), a handed-over result that itself states a check (:mod:`.vouching` weighs
those claims), and closing turns that give up instead of answering (FM-3.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mastlens.judges.rules.commands import call_commands, runs_tests
from mastlens.judges.rules.team_ending import _GAVE_UP, closing_turn
from mastlens.judges.rules.termination import finishing_call
from mastlens.judges.rules.view import FINAL_MARKER, TraceView, normalize_text
from mastlens.judges.rules.vouching import _claim, team_agents
from mastlens.trace import Step, StepKind

_BOXED = re.compile(r"\\boxed\{")  # the usual delimiter of a math answer (LaTeX)


@dataclass
class Handover:
    answer: Step  # the team's closing answer (or the turn that made the finishing call)
    result: Step | None  # the result it takes over, None when it rests on its own work or a checked result
    why: str
    claimed: Step | None = None  # the teammate's report it takes over when that report states a check of its own


def team_answer(view: TraceView) -> Step | None:
    """The closing turn of a team (two or more agents speak) when the run ends on an answer: a closing message
    marked as the answer (or sealed by a bare end marker), or the turn that produced a finishing call; None
    for runs that end otherwise or give up."""
    if len(team_agents(view)) < 2:
        return None
    answer: Step | None = None
    closing = closing_turn(view)
    if closing is not None:
        step, sealed = closing
        if sealed or FINAL_MARKER.search(step.content) or _BOXED.search(step.content[-3000:]):
            answer = step
    else:
        call = finishing_call(view)
        if call is not None:
            pos = view.position(call.step)
            before = view.trace.steps[pos - 1] if pos > 0 else None
            answer = before if before is not None and before.kind is StepKind.ASSISTANT \
                and before.agent == call.step.agent else call.step
    if answer is None or _GAVE_UP.search(answer.content[-3000:]):
        return None
    return answer


def _is_test_run(view: TraceView, result: Step) -> bool:
    call = next((c for c in view.calls if c.result is result), None)
    if call is None:
        return False
    return any(runs_tests(tokens) for tokens in call_commands(call) or [])


def handover(view: TraceView) -> Handover | None:
    return view.once("handover", _handover)


def _handover(view: TraceView) -> Handover | None:
    """The team's answer and the result it takes over unchecked (``result`` None when the answer rests on
    its own work, a human's words, a canned prompt or a checked result); None when the team does not end
    on an answer."""
    answer = team_answer(view)
    if answer is None:
        return None
    for step in reversed(view.trace.steps[:view.position(answer)]):
        if step.kind in (StepKind.EVENT, StepKind.SYSTEM, StepKind.REASONING) or not step.content.strip():
            continue
        if step.kind in (StepKind.ASSISTANT, StepKind.TOOL_CALL) and step.agent == answer.agent:
            return Handover(answer, None, "the answer rests on the answerer's own turn")
        if step.kind is StepKind.ASSISTANT and step.agent in view.orchestrators:
            continue  # an orchestrator passing the floor or instructing hands over no result
        if step.kind is StepKind.USER and not step.metadata.get("to"):
            return Handover(answer, None, "the answer follows a person's message")
        if step.kind is StepKind.TOOL_RESULT and _is_test_run(view, step):
            return Handover(answer, None, "the answer follows a test run")
        if _claim(step) is not None:
            return Handover(answer, None, "the result handed over states a check of its own", claimed=step)
        if step.kind is StepKind.ASSISTANT and _repeats_earlier(view, step):
            return Handover(answer, None, "the answer follows a canned prompt that hands over nothing")
        return Handover(answer, step, "the answer takes over the result right before it, which nothing checked")
    return Handover(answer, None, "nothing came before the answer")


def _repeats_earlier(view: TraceView, step: Step) -> bool:
    text = normalize_text(step.content)
    return any(s.agent == step.agent and normalize_text(s.content) == text
               for s in view.agent_steps if s.index < step.index and s.kind is StepKind.ASSISTANT)
