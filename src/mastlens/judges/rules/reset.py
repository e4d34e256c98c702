"""FM-2.1 conversation reset: the run starts over mid-way and the progress made so far is lost.

Three shapes, each read from structure:

* the opening task issued again by the user after the agent had started on it (word for word, or whole in a
  message that is mostly it);
* the harness starting a new session mid-run (an event the format records, ``session_start`` /
  ``context_reset``) after the agents had worked, with more work after it;
* in an autonomous team, the agent that opened the work sending its opening turn again, nearly word for
  word, after the others had acted: the plan is made from scratch again, nothing learned carried over.
"""

from __future__ import annotations

import re

from mastlens.judges.rules.config import RulesConfig
from mastlens.judges.rules.evidence import absent, cite_all, not_assessed, present
from mastlens.judges.rules.team_ending import is_autonomous_team
from mastlens.judges.rules.view import TraceView, normalize_text
from mastlens.trace import ModeVerdict, Step, StepKind

MODE = "FM-2.1"
_RESET_EVENTS = {"turn_aborted", "compacted", "session_start", "context_reset"}
_RESTART_EVENTS = {"session_start", "context_reset"}
_WORKING = (StepKind.ASSISTANT, StepKind.TOOL_CALL)
# A later message re-issues the task when it holds the whole opening request and is mostly that request
# ("I already told you: <request>"); a long message that merely quotes the task (a framework's phase
# prompt embedding it) is not a re-issue. Very short openings ("hi") only count word for word.
_MIN_CONTAINED_CHARS = 30
_MIN_TASK_SHARE = 0.6
_WORD = re.compile(r"[a-z0-9]+")
_SHINGLE = 4  # words per shingle when comparing two turns
_COMPARE_CHARS = 6000  # turns are compared on their heads: MB-sized turns stay cheap


def reissues(message: str, task: str) -> bool:
    """Whether ``message`` (normalized) issues ``task`` (normalized) again."""
    if message == task:
        return True
    return (len(task) >= _MIN_CONTAINED_CHARS and task.lower() in message.lower()
            and len(task) >= _MIN_TASK_SHARE * len(message))


def shingles(text: str) -> frozenset[tuple[str, ...]]:
    """The text's runs of four words (lower-cased; digits kept, punctuation and log timestamps' separators
    dropped), the unit two turns are compared in."""
    words = _WORD.findall(text[:_COMPARE_CHARS].lower())
    return frozenset(tuple(words[i:i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1))


def similarity(a: frozenset, b: frozenset) -> float:
    """Jaccard similarity of two shingle sets."""
    return len(a & b) / len(a | b) if a and b else 0.0


def user_reissues(view: TraceView, task: Step) -> list[tuple[Step, str | None]]:
    """The user re-issuing the opening task after the agent acted on it (with the abort/compaction event
    just before it, when there is one)."""
    wanted = normalize_text(task.content)
    acted = False
    previous: Step | None = None
    out: list[tuple[Step, str | None]] = []
    for step in view.steps_after(task):
        if step.kind in _WORKING:
            acted = True
        elif step.kind is StepKind.USER and acted and reissues(normalize_text(step.content), wanted):
            if previous is not None and previous.kind is StepKind.EVENT \
                    and previous.metadata.get("event") in _RESET_EVENTS:
                out.append((previous, None))
            out.append((step, None))
            acted = False
        previous = step
    return out


def session_restarts(view: TraceView) -> list[Step] | None:
    """Session-start events the harness recorded after the agents had worked, with agent work after them
    (consecutive events count once: the first of them is returned); None when the trace records no session
    start at all."""
    out: list[Step] = []
    recorded = worked = False
    pending: Step | None = None
    for step in view.trace.steps:
        if step.kind is StepKind.EVENT:
            if step.metadata.get("event") in _RESTART_EVENTS:
                recorded = True
                if worked and pending is None:
                    pending = step
        elif step.kind in _WORKING and step.content.strip():
            if pending is not None:
                out.append(pending)
                pending = None
            worked = True
    return out if recorded else None


def repeated_opening(view: TraceView, config: RulesConfig) -> tuple[Step, list[Step]] | None:
    """(the team's opening turn, its later near-copies): in an autonomous team, turns by the agent that
    opened the work whose text is at least ``reset_min_similarity`` alike (4-word shingles, Jaccard) to
    its opening turn, sent after another agent acted. A turn shorter than ``reset_min_shingles`` shingles
    (an "OK", a canned prompt) is no plan."""
    if not is_autonomous_team(view):
        return None
    turns = [s for s in view.agent_steps if s.kind is StepKind.ASSISTANT and s.agent]
    opening = next((s for s in turns if len(shingles(s.content)) >= config.reset_min_shingles), None)
    if opening is None:
        return None
    first = shingles(opening.content)
    copies: list[Step] = []
    others_acted = False
    for step in view.steps_after(opening):
        if step.kind in _WORKING and step.agent != opening.agent:
            others_acted = True
        elif step.kind is StepKind.ASSISTANT and step.agent == opening.agent and others_acted \
                and similarity(first, shingles(step.content)) >= config.reset_min_similarity:
            copies.append(step)
            others_acted = False
    return (opening, copies) if copies else None


def detect_conversation_reset(view: TraceView, config: RulesConfig) -> ModeVerdict:
    """Conversation reset: the run starts over mid-way. The user issues the opening task again after the
    agent had acted on it (word for word, or whole inside a later message that is mostly that request); the
    harness records a new session starting after the agents had worked (and work goes on in it); or, in an
    autonomous team, the agent that opened the work sends its opening turn again nearly word for word
    (``reset_min_similarity``) after others had acted: the plan made from scratch, the progress lost.

    Precondition: an opening user message, a team's opening turn, or a recorded session start to compare
    against. Ignores: compaction on its own (the context is summarized, not dropped), rollbacks the user
    asked for (``thread_rolled_back``: a deliberate undo), new and different user requests, paraphrases of
    the request, long messages that only quote it (a framework's phase prompt embedding the task), and a
    re-plan that carries what was learned (an orchestrator's new plan with an updated fact sheet is much
    less alike than a copy)."""
    if not view.content_captured:
        return not_assessed(MODE, "the trace was recorded without content: messages cannot be compared")
    task = next((s for s in view.instructions if s.kind is StepKind.USER), None)
    team = is_autonomous_team(view)
    restarts = session_restarts(view)
    if task is None and not team and restarts is None:
        return not_assessed(MODE, "no opening user message, team opening or session record to compare the run with")
    pairs: list[tuple[Step, str | None]] = []
    reasons: list[str] = []
    reissued = user_reissues(view, task) if task is not None else []
    if reissued:
        pairs += reissued
        at = [s.index for s, _ in reissued if s.kind is StepKind.USER]
        reasons.append(f"the opening task re-issued mid-run at step(s) {', '.join(map(str, at))}")
    if restarts:
        pairs += [(s, None) for s in restarts[:3]]
        reasons.append(f"the harness started a new session mid-run {len(restarts)} time(s) (first at step "
                       f"{restarts[0].index})")
    repeated = repeated_opening(view, config) if team else None
    if repeated is not None:
        opening, copies = repeated
        pairs += [(opening, None)] + [(s, None) for s in copies[:3]]
        reasons.append(f"{opening.agent} sent its opening turn (step {opening.index}) again at step(s) "
                       + ", ".join(str(s.index) for s in copies))
    if not pairs:
        return absent(MODE, 0.7, "the run did not start over: no re-issued task, new session or repeated opening")
    return present(MODE, 0.85 if reissued or restarts else 0.75,
                   "; ".join(reasons) + ": the run starts over and its progress is lost",
                   cite_all(pairs, config.excerpt_chars))
