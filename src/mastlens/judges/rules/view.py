"""A read-only view of a trace that the detectors share: tool calls paired with their results, the
agent's own words, the instructions and how the run ended. Built once per trace, in one pass; tool
outputs are never scanned beyond a short head."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from mastlens.judges.rules.config import DEFAULT_ERROR_DESPITE_EXIT_0, DEFAULT_ERROR_PATTERNS, RulesConfig
from mastlens.judges.rules.shell import exit_1_is_an_answer
from mastlens.trace import Step, StepKind, Trace

_VOLATILE_ARGS = {"timeout", "timeout_ms", "timeout_s", "yield_time_ms", "max_output_tokens"}
_AGENT_KINDS = (StepKind.ASSISTANT, StepKind.REASONING)
_ABORT_EVENTS = {"turn_aborted"}
# How multi-agent frameworks mark the end (AutoGen's "TERMINATE", Magentic-One's "FINAL ANSWER:").
FINAL_MARKER = re.compile(r"\bTERMINATE\W*$|^\s*FINAL ANSWER\s*:", re.MULTILINE)


# A progress ledger a multi-agent orchestrator writes each turn (Magentic-One): its own verdict on looping.
_LEDGER_LOOP = re.compile(r'"is_in_loop"\s*:\s*\{[^{}]*"answer"\s*:\s*true', re.IGNORECASE)
_LEDGER_KEY = '"is_in_loop"'
_TOOLS_OFFERED = re.compile(r"\b(?:tool|function)[ _-]?calls?\b|\b(?:use|call) (?:the |your |these )?(?:tools|functions)\b",
                            re.IGNORECASE)


@lru_cache(maxsize=256)
def _offers_tools(text: str) -> bool:
    return _TOOLS_OFFERED.search(text) is not None  # cached: runs of one agent share their instructions


def users_actions_as_input(trace: Trace) -> Trace:
    """``trace`` with the user's own tool calls and their results (agent ``user``: in tau2's dual-control domains the
    user toggles a setting on their phone while the agent guides them) read as user steps: what the user does is
    input to the agent, never the agent's action. Step numbers and contents are kept; ``trace`` itself when the
    user made no tool call."""
    calls = [s for s in trace.steps if s.kind is StepKind.TOOL_CALL and s.agent == "user"]
    if not calls:
        return trace
    user_calls = {s.call_id for s in calls if s.call_id}

    def users(step: Step) -> bool:
        if step.kind is StepKind.TOOL_CALL:
            return step.agent == "user"
        return step.kind is StepKind.TOOL_RESULT and (step.agent == "user" or step.call_id in user_calls)

    steps = [s.model_copy(update={"kind": StepKind.USER, "agent": "user"}) if users(s) else s for s in trace.steps]
    return trace.model_copy(update={"steps": steps})


def normalize_text(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Call:
    """A tool call and, when the trace has it, its result."""

    step: Step
    result: Step | None
    failed: bool
    key: str
    # Filled on first use by mastlens.judges.rules.commands (parsed once, shared by all detectors).
    parsed: bool = False
    commands: list[list[str]] | None = None
    changes: list[Any] | None = None

    @property
    def tool(self) -> str:
        return self.step.tool or ""

    @property
    def output(self) -> str:
        return self.result.content if self.result is not None else ""


def _cached(cache: dict[Any, Any] | None, key: Any, compute: Any) -> Any:
    """``compute()``, looked up in and stored to ``cache`` under ``key`` when a cache is given."""
    if cache is None:
        return compute()
    value = cache.get(key)
    if value is None:
        value = cache[key] = compute()
    return value


def call_key(step: Step) -> str:
    """Tool name plus arguments, normalized: whitespace collapsed, keys sorted, timeouts dropped."""
    args = step.arguments
    if isinstance(args, dict):
        command = args.get("command", args.get("cmd"))
        if command is not None:
            body = normalize_text(step.content or json.dumps(command))
        else:
            kept = {k: v for k, v in args.items() if k not in _VOLATILE_ARGS}
            body = json.dumps(kept, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    elif args is not None:
        body = normalize_text(args if isinstance(args, str) else json.dumps(args, sort_keys=True, default=str))
    else:
        body = normalize_text(step.content)
    return f"{step.tool or ''}\x00{body}"


# Words one of the default error shapes needs: a head holding none of them is not scanned (keeps the
# common case, a clean output, at a few substring tests).
_DEFAULT_HINTS = ("error", "exception", "fatal", "failed", "denied", "traceback", "errno", "not found", "no such",
                  "exit", "http", "status")
_DEFAULT_HINTS_EXIT_0 = ("traceback", "errno", "not found", "no such")


def _hinted(head: str, hints: tuple[str, ...]) -> bool:
    low = head.lower()
    return any(h in low for h in hints)


@lru_cache(maxsize=16)
def compiled(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE | re.MULTILINE)


def result_failed(call: Step, result: Step | None, config: RulesConfig,
                  patterns: tuple[re.Pattern[str], re.Pattern[str]] | None = None) -> bool:
    """A failed tool call: a non-zero exit code or an error flag from the adapter, or (for formats that
    record neither) an output whose head shows one of ``config.error_patterns``; with exit code 0, only
    the shapes of ``error_patterns_despite_exit_0`` (a printed traceback). Exit code 1 of a shell command
    ending in grep, diff or test is a negative answer, not a failure."""
    if result is None:
        return False
    meta = result.metadata
    code = meta.get("exit_code")
    head = result.content[:config.error_head_chars]
    if isinstance(code, int) and not isinstance(code, bool):
        if code == 1 and isinstance(call.arguments, dict) and ("command" in call.arguments or "cmd" in call.arguments):
            return not exit_1_is_an_answer(call.content)
        if code != 0 or meta.get("is_error") is True:
            return True
        if config.error_patterns_despite_exit_0 == DEFAULT_ERROR_DESPITE_EXIT_0 and not _hinted(head, _DEFAULT_HINTS_EXIT_0):
            return False
        return bool((patterns[1] if patterns else compiled(config.error_patterns_despite_exit_0)).search(head))
    if meta.get("is_error") is True:
        return True
    if config.error_patterns == DEFAULT_ERROR_PATTERNS and not _hinted(head, _DEFAULT_HINTS):
        return False
    return bool((patterns[0] if patterns else compiled(config.error_patterns)).search(head))


@dataclass
class TraceView:
    """What the detectors read. ``calls`` are in trace order."""

    trace: Trace
    config: RulesConfig
    calls: list[Call] = field(default_factory=list)
    agent_steps: list[Step] = field(default_factory=list)
    memo: dict[str, Any] = field(default_factory=dict)  # per-trace results several detectors share

    def once(self, key: str, compute: Any) -> Any:
        """``compute(self)``, computed once per trace under ``key``."""
        if key not in self.memo:
            self.memo[key] = compute(self)
        return self.memo[key]

    @classmethod
    def build(cls, trace: Trace, config: RulesConfig, *, keys: dict[int, str] | None = None,
              failures: dict[tuple[int, int], bool] | None = None) -> TraceView:
        """The view of ``trace``. ``keys`` (step index -> :func:`call_key`) and ``failures`` ((call index,
        result index) -> :func:`result_failed`), when given, are caches kept across several builds over
        the same run, so each value is computed once."""
        view = cls(users_actions_as_input(trace), config)
        trace = view.trace
        patterns = (compiled(config.error_patterns), compiled(config.error_patterns_despite_exit_0))
        by_id: dict[str, Call] = {}
        pending: list[Call] = []  # calls without an id, answered in order by results without one
        for step in trace.steps:
            if step.kind is StepKind.TOOL_CALL:
                call = Call(step, None, False, _cached(keys, step.index, lambda: call_key(step)))
                view.calls.append(call)
                if step.call_id:
                    by_id[step.call_id] = call
                else:
                    pending.append(call)
            elif step.kind is StepKind.TOOL_RESULT:
                call = by_id.get(step.call_id) if step.call_id else (pending.pop(0) if pending else None)
                if call is not None and call.result is None:
                    call.result = step
                    call.failed = _cached(failures, (call.step.index, step.index),
                                          lambda: result_failed(call.step, step, config, patterns))
            elif step.kind in _AGENT_KINDS and step.content.strip():
                view.agent_steps.append(step)
        return view

    @cached_property
    def final_answer(self) -> Step | None:
        """The agent's closing message: the last assistant message with no tool call after it."""
        for step in reversed(self.trace.steps):
            if step.kind is StepKind.TOOL_CALL:
                return None
            if step.kind is StepKind.ASSISTANT and step.content.strip():
                return step
        return None

    @cached_property
    def end_event(self) -> Step | None:
        """The abort event the run ends on, if it was cut (nothing the agent said comes after it)."""
        for step in reversed(self.trace.steps):
            if step.kind is StepKind.EVENT and step.metadata.get("event") in _ABORT_EVENTS:
                return step
            if step.kind in (StepKind.ASSISTANT, StepKind.TOOL_CALL, StepKind.USER):
                return None
        return None

    @cached_property
    def instructions(self) -> list[Step]:
        """The task as given: system steps and user messages before the agent's first action."""
        out: list[Step] = []
        for step in self.trace.steps:
            if step.kind in (StepKind.TOOL_CALL, StepKind.ASSISTANT):
                break
            if step.kind in (StepKind.SYSTEM, StepKind.USER) and step.content.strip():
                out.append(step)
        return out

    @cached_property
    def ledgers(self) -> list[Step]:
        """Agent steps holding an orchestrator's progress ledger (``is_in_loop`` ...)."""
        return [s for s in self.agent_steps if _LEDGER_KEY in s.content[:4000]]

    @cached_property
    def ledger_loops(self) -> list[Step]:
        """Ledger steps in which the orchestrator itself says the team is in a loop."""
        return [s for s in self.ledgers if _LEDGER_LOOP.search(s.content[:4000])]

    @cached_property
    def orchestrators(self) -> set[str | None]:
        """Agents that run the team rather than work in it: they write a progress ledger or address the
        others (``metadata["addressed_to"]``)."""
        return {s.agent for s in self.ledgers} | {s.agent for s in self.agent_steps if s.metadata.get("addressed_to")}

    @cached_property
    def has_tools(self) -> bool:
        """Whether the run could check things with tools: it made tool calls, its executor answered that
        there was nothing to run (a team with an executor that was never given code), or its instructions
        speak of the agent's tool or function calls."""
        return bool(self.calls) or self.tools_offered or any(
            s.kind is StepKind.EVENT and s.metadata.get("event") == "nothing_to_execute" for s in self.trace.steps)

    @cached_property
    def tools_offered(self) -> bool:
        """Whether the instructions tell the agent it has tools ("make a tool call", "call the functions")."""
        return any(_offers_tools(s.content[:20000]) for s in self.instructions if s.kind is StepKind.SYSTEM)

    @cached_property
    def content_captured(self) -> bool:
        """False when the trace says message content (arguments, results, text) was not recorded."""
        return self.trace.metadata.get("content_captured") is not False

    @cached_property
    def _position(self) -> dict[int, int]:
        return {step.index: i for i, step in enumerate(self.trace.steps)}

    def steps_between(self, first: Step, last: Step) -> list[Step]:
        """The steps strictly between two steps of the trace."""
        return self.trace.steps[self._position[first.index] + 1:self._position[last.index]]

    def position(self, step: Step) -> int:
        """Where ``step`` sits in ``trace.steps``."""
        return self._position[step.index]

    def steps_after(self, step: Step) -> list[Step]:
        return self.trace.steps[self._position[step.index] + 1:]
