"""Verification by assertion in a team: an agent says a result is verified, confirmed or the request is
satisfied (an orchestrator's ledger ``"is_request_satisfied": {"answer": true}``) without having checked
anything itself since the result it vouches for came in. Read by FM-3.2 (no or incomplete verification).

A check of one's own is a tool call or execution made by the claiming agent after the vouched-for input
and before the claim. The input is the latest tool result or teammate report before the claim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mastlens.judges.rules.tool_errors import _CLAUSE_START, _NOT_YET
from mastlens.judges.rules.view import TraceView
from mastlens.trace import Step, StepKind

VOUCH = re.compile(
    r"\b(?:(?:has|have|was|were|been|is|are)\s+(?:been\s+)?(?:verified|confirmed|validated|double-checked)"
    r"|(?:I|we)\s+(?:have\s+)?(?:verified|confirmed|validated|double-checked)"
    r"|verification\s+(?:of\s+[^.;:!?\n]{1,60}?\s+)?(?:is\s+)?complete"
    r"|confirming\s+that|(?:this|which|that)\s+confirms|(?:is|are)\s+(?:correct|accurate)\b(?!\?))\b",
    re.IGNORECASE)
_LEDGER_SATISFIED = re.compile(r'"is_request_satisfied"\s*:\s*\{[^{}]*"answer"\s*:\s*true', re.IGNORECASE)


@dataclass
class Vouch:
    claim: Step
    words: str
    rests_on: Step  # the result or report the claim vouches for


def _claim(step: Step) -> str | None:
    head = step.content[:6000]
    ledger = _LEDGER_SATISFIED.search(head)
    if ledger:
        return '"is_request_satisfied"'
    for match in VOUCH.finditer(head):
        start = max((m.end() for m in _CLAUSE_START.finditer(head, 0, match.start())), default=0)
        end = _CLAUSE_START.search(head, match.end())
        if not _NOT_YET.search(head[start:match.start()]) and not (end and end.group(0) == "?"):
            return match.group(0)
    return None


_VERIFY_INTENT = re.compile(r"\b(?:let(?:'s| us) (?:verify|double-check|check)|to verify|verification(?: of| steps?)?:"
                            r"|verify(?:ing)? (?:the|all|each|our|this|that|these)\b)", re.IGNORECASE)


def verified_by_reading(view: TraceView) -> list[Step]:
    """In a team that runs tools: messages after the run's last tool call that set out to verify the result
    ("let's verify...", "Verification:") when no tool call follows them: the check was done by re-reading."""
    if not view.calls or len(team_agents(view)) < 2:
        return []
    last_call = view.calls[-1].step.index
    return [s for s in view.agent_steps if s.kind is StepKind.ASSISTANT and s.index > last_call
            and _VERIFY_INTENT.search(s.content[:6000])]


def team_agents(view: TraceView) -> set[str]:
    return {s.agent for s in view.agent_steps if s.kind is StepKind.ASSISTANT and s.agent}


def vouches(view: TraceView) -> list[Vouch]:
    """Claims of verification with no check of the claimer's own since the input they vouch for."""
    return view.once("vouches", _vouches)


def _vouches(view: TraceView) -> list[Vouch]:
    if len(team_agents(view)) < 2:
        return []
    found: list[Vouch] = []
    steps = view.trace.steps
    callers = {c.step.call_id: c.step.agent for c in view.calls if c.step.call_id}
    for claim in view.agent_steps:
        if claim.kind is not StepKind.ASSISTANT:
            continue
        words = _claim(claim)
        if words is None:
            continue
        rests_on = None
        for step in reversed(steps[:view.position(claim)]):
            if step.kind is StepKind.TOOL_CALL and step.agent == claim.agent:
                break  # the claimer ran a check of its own after the input
            if step.kind is StepKind.TOOL_RESULT and callers.get(step.call_id or "") == claim.agent:
                break  # the result of the claimer's own check
            if step.kind is StepKind.TOOL_RESULT or (
                    step.kind is StepKind.ASSISTANT and step.agent != claim.agent and step.content.strip()):
                rests_on = step
                break
        if rests_on is not None and not any(s.kind is StepKind.TOOL_CALL and s.agent == claim.agent
                                            for s in steps[view.position(rests_on):view.position(claim)]):
            found.append(Vouch(claim, words, rests_on))
    return found
