"""FM-1.3 step repetition."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from mastlens.judges.rules.config import RulesConfig
from mastlens.judges.rules.evidence import absent, cite, cite_all, not_assessed, present
from mastlens.judges.rules.view import Call, TraceView, normalize_text
from mastlens.trace import ModeVerdict, Step, StepKind

MODE = "FM-1.3"
_INPUT_KINDS = (StepKind.USER, StepKind.TOOL_RESULT, StepKind.ERROR)
_INPUT_HEAD = 2000  # a long input is compared by its head
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def repeated_call_runs(view: TraceView, min_calls: int) -> list[list[Call]]:
    """Runs of back-to-back identical calls whose results are identical too (nothing new learned).

    A user message between two calls ends a run (new input may justify asking again)."""
    runs: list[list[Call]] = []
    current: list[Call] = []
    previous_step: Step | None = None
    for call in view.calls:
        same = (current and call.key == current[-1].key and call.output == current[-1].output
                and call.result is not None and not _user_between(view, previous_step, call.step))
        if same:
            current.append(call)
        else:
            if len(current) >= min_calls:
                runs.append(current)
            current = [call] if call.result is not None else []
        previous_step = call.step
    if len(current) >= min_calls:
        runs.append(current)
    return runs


def repeated_cycles(view: TraceView, config: RulesConfig) -> list[list[Call]]:
    """Blocks of 2 to ``loop_max_period`` different calls repeated ``repeat_min_cycles`` times back to back
    anywhere in the run (A,B,A,B,A,B), each repetition getting the same results: a loop that learned nothing.
    No user message may fall inside the repeated stretch."""
    calls = [c for c in view.calls if c.result is not None]
    if max(Counter(c.key for c in calls).values(), default=0) < config.repeat_min_cycles:
        return []  # no call comes round often enough to be part of a repeated block
    sig = [(c.key, normalize_text(c.output[:_INPUT_HEAD])) for c in calls]
    found: list[list[Call]] = []
    i = 0
    while i < len(calls):
        best = 0
        for period in range(2, config.loop_max_period + 1):
            block = sig[i:i + period]
            if len(block) < period or len({k for k, _ in block}) < period:
                continue
            cycles = 1
            while sig[i + cycles * period:i + (cycles + 1) * period] == block:
                cycles += 1
            if cycles >= config.repeat_min_cycles and cycles * period > best:
                best = cycles * period
        if best and not _user_between(view, calls[i].step, calls[i + best - 1].step):
            found.append(calls[i:i + best])
            i += best
        else:
            i += 1
    return found


def _error_head(call: Call) -> str:
    """The error a call got, for comparing retries: its output head with numbers (timings, ids) blanked."""
    return _NUMBER.sub("#", normalize_text(call.output[:_INPUT_HEAD]))


def repeated_failures(view: TraceView, config: RulesConfig) -> list[list[Call]]:
    """Runs of ``repeat_min_failures`` calls of the same tool in a row that all fail with the same error
    (arguments may differ) with no user message and nothing but reasoning tools (``reasoning_tools``) between:
    retrying without learning anything from the error."""
    runs: list[list[Call]] = []
    current: list[Call] = []
    thinking = {t.lower() for t in config.reasoning_tools}
    for call in view.calls:
        if call.tool.lower() in thinking and not call.failed:
            continue  # noting or computing between attempts looks nothing up
        if call.failed and current and call.tool == current[-1].tool and _error_head(call) == _error_head(current[-1]) \
                and not _user_between(view, current[-1].step, call.step):
            current.append(call)
            continue
        if len(current) >= config.repeat_min_failures:
            runs.append(current)
        current = [call] if call.failed else []
    if len(current) >= config.repeat_min_failures:
        runs.append(current)
    return runs


def _user_between(view: TraceView, first: Step | None, last: Step) -> bool:
    return first is not None and any(s.kind is StepKind.USER for s in view.steps_between(first, last))


def _reply(view: TraceView, step: Step) -> str:
    """What came back to a message: the next step from another party (a tool result, a user, another
    agent), normalized by its head; reasoning, events and the agent's own steps are skipped."""
    steps = view.trace.steps
    for i in range(view.position(step) + 1, len(steps)):
        other = steps[i]
        if other.kind in _INPUT_KINDS or (other.kind is StepKind.ASSISTANT and other.agent != step.agent):
            return normalize_text(other.content[:_INPUT_HEAD])
    return ""


def repeated_messages(view: TraceView, config: RulesConfig) -> list[list[Step]]:
    """Groups of identical messages from the same agent, long enough to matter, each answered the same way
    (nothing new learned, like a call repeated with the same result). A copy sent back to back with nothing
    in between is one message logged twice, not a repeat."""
    groups: dict[tuple[str, str, str], list[Step]] = defaultdict(list)
    previous: tuple[Step, str] | None = None
    for step in view.agent_steps:
        if step.kind is not StepKind.ASSISTANT or len(step.content) < config.repeat_min_message_chars:
            continue
        text = normalize_text(step.content)
        if previous is not None and (previous[0].agent, previous[1]) == (step.agent, text) \
                and all(s.kind is StepKind.EVENT for s in view.steps_between(previous[0], step)):
            previous = (step, text)
            continue
        groups[(step.agent or "", text, _reply(view, step))].append(step)
        previous = (step, text)
    return [g for g in groups.values() if len(g) >= config.repeat_min_messages]


def detect_step_repetition(view: TraceView, config: RulesConfig) -> ModeVerdict:
    """Step repetition: the same tool call (tool + normalized arguments) made ``repeat_min_calls`` times
    back to back with the same result each time; a block of calls repeated ``repeat_min_cycles`` times
    with the same results (A,B,A,B,A,B); the same tool failing ``repeat_min_failures`` times in a row with
    the same error; the same message sent ``repeat_min_messages`` times and getting the same reply each
    time; or the team's own progress ledger saying it is in a loop (Magentic-One's ``is_in_loop``).

    Ignores: calls whose arguments changed (iteration), repeats whose results differ (polling that
    learned something), repeats separated by other calls or by new user input, short messages, the same
    message answered differently each time (a code action stepping through items, a framework's canned
    "continue" prompt, the same apology met by new user words), and a message logged twice in a row
    (a logging artifact, not a second send)."""
    if not view.content_captured:
        return not_assessed(MODE, "the trace was recorded without content: arguments and results cannot be compared")
    if len(view.calls) < 2 and len(view.agent_steps) < 2:
        return not_assessed(MODE, "too few tool calls or messages to judge repetition")
    runs = repeated_call_runs(view, config.repeat_min_calls)
    cycles = repeated_cycles(view, config)
    failures = repeated_failures(view, config)
    messages = repeated_messages(view, config)
    ledger = view.ledger_loops
    if not runs and not messages and not cycles and not failures and not ledger:
        return absent(MODE, 0.7, "no tool call or message repeated without new information in between")
    evidence = []
    parts = []
    for run in runs:
        evidence += cite_all([(c.step, None) for c in run], config.excerpt_chars)
        parts.append(f"{run[0].tool or 'a tool'} called {len(run)} times in a row with the same arguments "
                     f"and the same result (steps {', '.join(str(c.step.index) for c in run)})")
    for run in cycles:
        evidence += cite_all([(c.step, None) for c in run], config.excerpt_chars)
        parts.append(f"a cycle of calls repeated with the same results (steps {run[0].step.index}-{run[-1].step.index})")
    for run in failures:
        evidence += cite_all([(c.result or c.step, None) for c in run], config.excerpt_chars)
        parts.append(f"{run[0].tool or 'a tool'} failed {len(run)} times in a row with the same error "
                     f"(steps {', '.join(str(c.step.index) for c in run)})")
    if ledger:
        evidence += cite_all([(s, "is_in_loop") for s in ledger[:3]], config.excerpt_chars)
        parts.append(f"the team's progress ledger says it is in a loop (step(s) {', '.join(str(s.index) for s in ledger)})")
    for group in messages:
        evidence += [e for e in (cite(s, None, config.excerpt_chars) for s in group) if e]
        parts.append(f"the same message sent {len(group)} times (steps {', '.join(str(s.index) for s in group)})")
    longest = max([len(r) for r in runs + cycles + failures] + [len(g) for g in messages] + [3])
    confidence = min(0.95, 0.75 + 0.05 * (longest - 3))
    return present(MODE, confidence, "; ".join(parts), evidence)
