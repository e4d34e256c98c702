"""How an autonomous team's run ended: on an answer, or on an open thread.

A team of agents (two or more speak, no user message once they began) has no one outside to hand an open
question to. When its closing turn (the last substantive message; a bare ``TERMINATE`` after it only
seals it) asks the others for something, announces work that never follows, or says the task could not
be done, the team stopped before its objective was met (FM-3.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mastlens.judges.rules.view import FINAL_MARKER, TraceView
from mastlens.trace import Step, StepKind

_BARE_MARKER = re.compile(r"^\W*(?:TERMINATE|FINAL ANSWER)\W*$", re.IGNORECASE)
# An open request to teammates in the closing sentences: a question, or "please review/share/run ...".
_REQUEST = re.compile(r"\?\s*$|\bplease (?:review|share|confirm|verify|check|run|execute|provide|advise|let (?:me|us) "
                      r"know)\b|\b(?:what|how) (?:does|do|should) (?:the team|we|everyone)\b", re.IGNORECASE)
_PROMISE = re.compile(r"\b(?:I|we)(?:'ll| will| am going to| are going to)\b(?! (?:be (?:happy|glad)|gladly))"
                      r"|\bplease (?:hold on|stand ?by|wait)\b", re.IGNORECASE)
_GAVE_UP = re.compile(
    r"\b(?:I|we) (?:cannot|can't|could not|couldn't|am unable to|are unable to|was unable to|were unable to) "
    r"(?:complete|finish|proceed|access|retrieve|obtain|find|determine|solve|verify|answer)\b"
    r"|\bunable to (?:complete|finish|proceed with|access|retrieve|obtain|determine|solve)\b", re.IGNORECASE)
_SENTENCES = re.compile(r"(?<=[.!?])\s+")


@dataclass
class OpenEnding:
    step: Step
    kind: str  # "request", "promise" or "gave up"
    words: str


def is_autonomous_team(view: TraceView) -> bool:
    """Two or more agents speak and no user message comes after the first agent turn (computed once per trace)."""
    return view.once("autonomous_team", _is_autonomous_team)


def _is_autonomous_team(view: TraceView) -> bool:
    agents = {s.agent for s in view.agent_steps if s.kind is StepKind.ASSISTANT and s.agent}
    if len(agents) < 2:
        return False
    started = False
    for step in view.trace.steps:
        if step.kind is StepKind.ASSISTANT:
            started = True
        elif started and step.kind is StepKind.USER:
            return False
    return True


def closing_turn(view: TraceView) -> tuple[Step, bool] | None:
    """(the team's closing substantive message, whether a bare end marker sealed it afterwards); None when
    the run ends on a tool call or result, or has no agent message."""
    sealed = False
    for step in reversed(view.trace.steps):
        if step.kind is StepKind.EVENT or (step.kind in (StepKind.ASSISTANT, StepKind.REASONING)
                                           and not step.content.strip()):
            continue
        if step.kind is not StepKind.ASSISTANT:
            return None
        if _BARE_MARKER.match(step.content):
            sealed = True
            continue
        return step, sealed
    return None


def open_ending(view: TraceView, max_sentences: int) -> OpenEnding | None:
    """The open thread the team's closing turn leaves: a give-up anywhere in it, else a request or a promise
    in its last ``max_sentences`` sentences. A turn that itself says TERMINATE decided to finish: only giving
    up counts there."""
    closing = closing_turn(view)
    if closing is None:
        return None
    step, _sealed = closing
    text = step.content.strip()[-3000:]
    sentences = [p.strip() for p in _SENTENCES.split(FINAL_MARKER.sub("", text).strip()) if p.strip()]
    tail = sentences[-max_sentences:]
    gave_up = _GAVE_UP.search(text)  # a give-up anywhere in the closing turn ends the run on it
    if gave_up:
        return OpenEnding(step, "gave up", gave_up.group(0))
    if FINAL_MARKER.search(text):
        return None
    for kind, pattern in (("request", _REQUEST), ("promise", _PROMISE)):
        for sentence in reversed(tail):
            if pattern.search(sentence):
                return OpenEnding(step, kind, sentence.splitlines()[-1][-80:].strip())
    return None
