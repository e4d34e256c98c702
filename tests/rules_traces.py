"""A small builder for the traces the rules-judge tests construct (steps numbered in order), and the real
dev-set runs they read from ../shared."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from conftest import FIXTURES

import mastlens
from mastlens.judges.rules import DEFAULT_CONFIG, RulesConfig, judge_trace
from mastlens.trace import ModeVerdict, Source, Step, StepKind, Trace

READ_ONLY_TASK = ("Diagnose the incident in namespace otel-demo. Work read-only: this is a diagnosis task. "
                  "Do not change the cluster. Write agent_output.json and validate it with `jq`.")


class TraceBuilder:
    """Append steps with the same shapes the adapters produce; ``build()`` numbers them."""

    def __init__(self, task: str | None = "Find why checkout fails.", system: str | None = None):
        self.steps: list[Step] = []
        self._ids = 0
        if system:
            self._add(StepKind.SYSTEM, system)
        if task:
            self.user(task)

    def _add(self, kind: StepKind, content: str = "", **extra: Any) -> Step:
        step = Step(index=len(self.steps), kind=kind, content=content, **extra)
        self.steps.append(step)
        return step

    def user(self, text: str) -> TraceBuilder:
        self._add(StepKind.USER, text, agent="user")
        return self

    def say(self, text: str, *, agent: str = "assistant", final: bool = False) -> TraceBuilder:
        self._add(StepKind.ASSISTANT, text, agent=agent, metadata={"phase": "final_answer"} if final else {})
        return self

    def think(self, text: str) -> TraceBuilder:
        self._add(StepKind.REASONING, text)
        return self

    def error(self, text: str) -> TraceBuilder:
        self._add(StepKind.ERROR, text)
        return self

    def event(self, name: str, text: str = "") -> TraceBuilder:
        self._add(StepKind.EVENT, text or name, metadata={"event": name})
        return self

    def call(self, tool: str, arguments: Any = None, output: str = "", *, content: str | None = None,
             exit_code: int | None = None, is_error: bool = False, with_result: bool = True) -> TraceBuilder:
        self._ids += 1
        call_id = f"call_{self._ids}"
        self._add(StepKind.TOOL_CALL, content if content is not None else str(arguments or ""), agent="assistant",
                  tool=tool, arguments=arguments, call_id=call_id)
        if with_result:
            meta: dict[str, Any] = {"exit_code": exit_code}
            if is_error or exit_code not in (None, 0):
                meta["is_error"] = True
            self._add(StepKind.TOOL_RESULT, output, agent="tool", tool=tool, call_id=call_id, metadata=meta)
        return self

    def shell(self, command: str, output: str = "", exit_code: int = 0) -> TraceBuilder:
        return self.call("shell", {"command": ["bash", "-lc", command], "timeout_ms": 120000}, output,
                         content=command, exit_code=exit_code)

    def build(self, *, trace_id: str = "t", **metadata: Any) -> Trace:
        return Trace(id=trace_id, source=Source(format="native"), steps=self.steps, metadata=metadata)


def verdict_of(trace: Trace, mode: str, config: RulesConfig = DEFAULT_CONFIG) -> ModeVerdict:
    return judge_trace(trace, config).modes[mode]


def evidence_steps(verdict: ModeVerdict) -> list[int]:
    return [e.step for e in verdict.evidence]


def assert_quotes_verify(trace: Trace, mode: str) -> None:
    """The rules verdict for ``mode`` on ``trace`` has evidence, and the verifier finds every quote in its step."""
    from mastlens.judges.llm.verify import verify_evidence

    verdict = judge_trace(trace).modes[mode]
    assert verdict.evidence
    checked = verify_evidence(trace, [(e.step, e.quote) for e in verdict.evidence])
    assert all(e.verified for e in checked), [(e.step, e.quote) for e in checked]


@cache
def devset_traces(relative: str) -> dict[str, Trace]:
    """The traces of ``../shared/devsets/<relative>`` by id (the test is skipped when it is absent)."""
    path = FIXTURES.parent / "devsets" / relative
    if not path.exists():
        pytest.skip(f"dev set {path} not found")
    return {t.id: t for t in mastlens.load_traces(str(path))}


def swe_run(instance: str) -> Trace:
    """The mini-swe-agent dev run of SWE-bench ``instance``."""
    runs = devset_traces(f"swe_bench/gemini-3-pro-mini-swe-agent/trajs/{instance}")
    return next(iter(runs.values()))
