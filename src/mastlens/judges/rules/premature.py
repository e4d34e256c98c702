"""FM-3.1 premature termination."""

from __future__ import annotations

import re

from mastlens.judges.rules.commands import changes
from mastlens.judges.rules.config import RulesConfig
from mastlens.judges.rules.evidence import absent, cite, cite_all, not_assessed, present
from mastlens.judges.rules.omission import declared_omission
from mastlens.judges.rules.team_ending import closing_turn, is_autonomous_team, open_ending
from mastlens.judges.rules.termination import cut_by_limit
from mastlens.judges.rules.tool_errors import ACKNOWLEDGED
from mastlens.judges.rules.view import TraceView, compiled
from mastlens.trace import Evidence, ModeVerdict, Step, StepKind

MODE = "FM-3.1"
_PROMISE = re.compile(r"\b(?:I'll|I will|I am going to|I'm going to|Next,? I|Now I'll|Let me(?! know))\b",
                      re.IGNORECASE)
_WAITS_FOR_USER = re.compile(r"\?|\b(?:once|if|when|after) you\b|\byour (?:confirmation|approval|go-ahead)\b"
                            r"|\blet me know\b", re.IGNORECASE)
# What follows "I'll" in a courteous sign-off ("I'll be happy to help", "I'll gladly assist"): no work promised.
_COURTESY = re.compile(r"\s*(?:now\s+)?(?:be (?:happy|glad|here|available|delighted|around)|gladly|happily|remember"
                       r"|help|assist)\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!])\s+")
_PLAN_TOOLS = {"update_plan", "todo_write", "TodoWrite"}
_DONE = {"completed", "complete", "done", "cancelled", "canceled"}


def _diagnosis_evidence(view: TraceView, status: str, config: RulesConfig) -> list[Evidence]:
    """Where the missing or empty diagnosis shows: the call that wrote it empty, else the run's end."""
    if status == "empty":
        for call in reversed(view.calls):
            if "entities" in call.step.content and not call.failed and changes(call):
                item = cite(call.step, "entities", config.excerpt_chars)
                if item:
                    return [item]
    end = view.final_answer or view.end_event or (view.agent_steps[-1] if view.agent_steps else None)
    item = cite(end, None, config.excerpt_chars) if end is not None else None
    return [item] if item else []


def _pending_plan(view: TraceView) -> tuple[Step, list[str]] | None:
    """The last plan the agent wrote, if it still lists unfinished items."""
    for call in reversed(view.calls):
        if call.tool in _PLAN_TOOLS and isinstance(call.step.arguments, dict):
            items = call.step.arguments.get("plan") or call.step.arguments.get("todos") or []
            if not isinstance(items, list):
                return None
            pending = [str(i.get("step") or i.get("content") or "") for i in items
                       if isinstance(i, dict) and str(i.get("status", "")).lower() not in _DONE]
            return (call.step, pending) if pending else None
    return None


def _promise_at_end(view: TraceView) -> tuple[Step, str] | None:
    """(step, promise) for a closing message whose last sentence announces work, when nothing but
    events follows it and it does not wait for the user."""
    final = view.final_answer
    if final is None or _WAITS_FOR_USER.search(final.content):
        return None
    if any(s.kind is not StepKind.EVENT for s in view.steps_after(final)):
        return None
    last_sentence = [p for p in _SENTENCE_END.split(final.content.strip()) if p.strip()][-1]
    match = _PROMISE.search(last_sentence)
    if match is None or _COURTESY.match(last_sentence, match.end()):
        return None
    return final, match.group(0)


def _quoting(step: Step, words: str, confidence: float, reason: str, config: RulesConfig) -> ModeVerdict:
    item = cite(step, words, config.excerpt_chars)
    return present(MODE, confidence, reason, [item] if item else [])


def crashed_at_end(view: TraceView) -> tuple[Step, str] | None:
    """(step, crash text) when the run's last message or result (events aside) ends on a crash."""
    last = next((s for s in reversed(view.trace.steps) if s.kind is not StepKind.EVENT and s.content.strip()), None)
    if last is None or last.kind not in (StepKind.ASSISTANT, StepKind.TOOL_RESULT, StepKind.ERROR):
        return None
    tail = last.content[-3000:]
    match = compiled(view.config.crash_patterns).search(tail)
    return (last, match.group(0).strip()) if match else None


def detect_premature_termination(view: TraceView, config: RulesConfig) -> ModeVerdict:
    """Premature termination: the agent stops before its required output exists (an ITBench run whose
    ``agent_output.json`` is missing or lists no entities), with its own plan still showing unfinished
    items, with a closing message that only promises the next step, submitting after its own words set part
    of the task aside with no change after them (:mod:`.omission`), right after a failed tool call that
    nothing after it resolved (its last call failed) and that no later message of the agent owns up to (telling
    the user it cannot be done is an ending, not a premature one), or right after its last message or result reported a
    crash (``crash_patterns``: a traceback, an API error code).

    Precondition: a stated required output, a plan, a closing message, a submission, a crash at the end, or tool
    calls with results.

    Ignores: runs cut off while looping or at a recorded turn/step/time limit (FM-1.5: the agent did not
    stop, it was stopped), aborts by the user, and giving up early on tasks whose required output the
    trace does not name (not judged)."""
    status = view.trace.metadata.get("diagnosis_status")
    if status != "present" and cut_by_limit(view):
        return not_assessed(MODE, "the run was cut while looping or at a limit (see FM-1.5), so it did not "
                                  "stop by itself")
    if status in ("missing", "empty"):
        what = "was never written" if status == "missing" else "lists no root-cause entities"
        return present(MODE, 0.9 if status == "missing" else 0.85,
                       f"the run ended and the required diagnosis (agent_output.json) {what}",
                       _diagnosis_evidence(view, status, config))
    if not view.content_captured:
        return not_assessed(MODE, "the trace was recorded without content: plans, messages and results cannot be read")
    plan = _pending_plan(view)
    if plan is not None and view.final_answer is not None:
        step, pending = plan
        item = cite(step, pending[0][:40] or None, config.excerpt_chars)
        return present(MODE, 0.75, f"the run ended with {len(pending)} plan item(s) not done "
                                   f"(last plan at step {step.index})", [item] if item else [])
    promise = _promise_at_end(view)
    if promise is not None:
        step, words = promise
        return _quoting(step, words, 0.6, f"the closing message (step {step.index}) promises work that never follows",
                        config)
    if status == "present":
        return absent(MODE, 0.7, "the required diagnosis exists and names root-cause entities")
    omitted = declared_omission(view)
    if omitted is not None:
        step, words = omitted
        return _quoting(step, words, 0.6, f"the agent said it left part of the task out (step {step.index}: "
                        f"{words!r}), changed nothing after and submitted", config)
    crash = crashed_at_end(view)
    if crash is not None:
        step, words = crash
        return _quoting(step, words, 0.7, f"the run ended right after step {step.index} reported a crash ({words!r})",
                        config)
    team = is_autonomous_team(view) and closing_turn(view) is not None
    if team and (ending := open_ending(view, config.team_ending_sentences)) is not None:
        what = {"request": "asks the team for something nobody gave", "promise": "announces work that never follows",
                "gave up": "says the task could not be done"}[ending.kind]
        return _quoting(ending.step, ending.words, 0.65, f"the team's closing turn (step {ending.step.index}) {what}: "
                        "the run ended before its objective was met", config)
    if not view.calls and team:
        return absent(MODE, 0.55, "the team's closing turn gives an answer, not an open request, promise or give-up")
    if not view.calls:
        return not_assessed(MODE, "no tool calls and no stated output: nothing shows whether the work was done")
    last = view.calls[-1]
    told = any(s.index > last.step.index and ACKNOWLEDGED.search(s.content[:3000]) for s in view.agent_steps
               if s.kind is StepKind.ASSISTANT)
    if last.failed and last.result is not None and not told:
        end = view.final_answer
        pairs = [(last.result, None)] + ([(end, None)] if end is not None else [])
        return present(MODE, 0.65, f"the run stopped right after a failed call (step {last.step.index}) that "
                                   "nothing resolved", cite_all(pairs, config.excerpt_chars))
    return absent(MODE, 0.6, "the run's last tool call succeeded and it did not end on a promise or a pending plan")
