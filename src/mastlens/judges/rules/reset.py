"""FM-2.1 conversation reset."""

from __future__ import annotations

from mastlens.judges.rules.config import RulesConfig
from mastlens.judges.rules.evidence import absent, cite_all, not_assessed, present
from mastlens.judges.rules.view import TraceView, normalize_text
from mastlens.trace import ModeVerdict, Step, StepKind

MODE = "FM-2.1"
_RESET_EVENTS = {"turn_aborted", "compacted", "session_start", "context_reset"}
# A later message re-issues the task when it holds the whole opening request and is mostly that request
# ("I already told you: <request>"); a long message that merely quotes the task (a framework's phase
# prompt embedding it) is not a re-issue. Very short openings ("hi") only count word for word.
_MIN_CONTAINED_CHARS = 30
_MIN_TASK_SHARE = 0.6


def reissues(message: str, task: str) -> bool:
    """Whether ``message`` (normalized) issues ``task`` (normalized) again."""
    if message == task:
        return True
    return (len(task) >= _MIN_CONTAINED_CHARS and task.lower() in message.lower()
            and len(task) >= _MIN_TASK_SHARE * len(message))


def detect_conversation_reset(view: TraceView, config: RulesConfig) -> ModeVerdict:
    """Conversation reset: the opening task message is issued again after the agent had already acted on
    it: word for word, or whole inside a later user message that is mostly that request ("I already told
    you: <request>"): the run starts over and its progress is lost. The abort or compaction event just
    before the re-issue is cited with it.

    Ignores: compaction on its own (the context is summarized, not dropped), rollbacks the user asked for
    (``thread_rolled_back``: a deliberate undo, not a failure), new and different user requests, paraphrases
    of the request, and long messages that only quote it (a framework prompt embedding the task)."""
    if not view.content_captured:
        return not_assessed(MODE, "the trace was recorded without content: messages cannot be compared")
    task = next((s for s in view.instructions if s.kind is StepKind.USER), None)
    if task is None:
        return not_assessed(MODE, "no opening user message to compare later messages with")
    wanted = normalize_text(task.content)
    acted = False
    previous: Step | None = None
    reissued: list[tuple[Step, str | None]] = []
    for step in view.steps_after(task):
        if step.kind in (StepKind.TOOL_CALL, StepKind.ASSISTANT):
            acted = True
        elif step.kind is StepKind.USER and acted and reissues(normalize_text(step.content), wanted):
            if previous is not None and previous.kind is StepKind.EVENT \
                    and previous.metadata.get("event") in _RESET_EVENTS:
                reissued.append((previous, None))
            reissued.append((step, None))
            acted = False
        previous = step
    if not reissued:
        return absent(MODE, 0.7, "the task was not issued again after the agent started on it")
    at = [s.index for s, _ in reissued if s.kind is StepKind.USER]
    return present(MODE, 0.85, f"the opening task re-issued mid-run at step(s) {', '.join(map(str, at))}, "
                               "so the agent starts over", cite_all(reissued, config.excerpt_chars))
