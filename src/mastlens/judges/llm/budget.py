"""A trace's budget for what is cut: its long tool outputs together, and its long call arguments together.

Each has a total that grows with the trace (a share of its raw characters, never less than nine default-sized
output cuts, or eight argument cuts), split over the items by :func:`cuts.allocate`. Only what the default
limit cuts counts: an output or a value it shows whole stays whole. While a trace's long outputs fit (most
runs: a few each), every one keeps the default limit and the rendering is what it was without a budget; over
it (a coding rollout of megabytes whose every command prints tens of kilobytes), each long output gets its
share, twice as much for the last outputs and the failing ones (exit code, error flag, an error step), and
long arguments (patch bodies, inline scripts) theirs.
"""

from __future__ import annotations

from mastlens.judges.llm.cuts import allocate
from mastlens.trace import Step, StepKind, Trace

RESULTS_SHARE = 0.01  # of the trace's raw characters, for its long outputs together
ARGUMENTS_SHARE = 0.004  # ... for its long call arguments together
MIN_OUTPUTS = 9  # the outputs' total is never below this many default-sized cuts
MIN_ARGUMENTS = 8  # ... nor the arguments' total
LAST_WEIGHTED = 3  # the last outputs, which show how the run ended, weigh double
_CUT_KINDS = {StepKind.TOOL_RESULT, StepKind.ERROR, StepKind.EVENT}


def _failing(step: Step) -> bool:
    return (step.kind is StepKind.ERROR or step.metadata.get("exit_code") not in (None, 0)
            or bool(step.metadata.get("is_error")))


def _longest_value(value: object) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return max((_longest_value(v) for v in value), default=0)
    if isinstance(value, dict):
        return max((_longest_value(v) for v in value.values()), default=0)
    return 0


def step_limits(trace: Trace, raw_chars: int, output_chars: int, argument_chars: int) -> dict[int, int]:
    """Position in ``trace.steps`` -> characters that step's output (or each long argument value) may keep, for
    the steps whose share is below the default limit; an empty mapping when the trace is within its budget."""
    out: dict[int, int] = {}
    out.update(_outputs(trace, raw_chars, output_chars))
    out.update(_arguments(trace, raw_chars, argument_chars))
    return out


def _outputs(trace: Trace, raw_chars: int, cap: int) -> dict[int, int]:
    floor = max(120, cap // 5)
    seen: set[str] = set()
    positions, needs, weights = [], [], []
    for pos, step in enumerate(trace.steps):
        if step.kind not in _CUT_KINDS or len(step.content) <= cap:  # shown whole, as without a budget
            continue
        repeat = step.content in seen  # shown as [same as step N]: it costs nothing where it refers back
        seen.add(step.content)
        positions.append(pos)
        needs.append(0 if repeat else len(step.content))
        weights.append(2.0 if _failing(step) else 1.0)
    for k in range(max(0, len(weights) - LAST_WEIGHTED), len(weights)):
        weights[k] = 2.0
    total = max(MIN_OUTPUTS * cap, int(RESULTS_SHARE * raw_chars))
    limits = allocate(needs, weights, total, cap=cap, floor=floor)
    return {p: n for p, n in zip(positions, limits) if n < cap}


def _arguments(trace: Trace, raw_chars: int, cap: int) -> dict[int, int]:
    floor = max(120, cap // 3)
    positions, needs = [], []
    for pos, step in enumerate(trace.steps):
        if step.kind is not StepKind.TOOL_CALL:
            continue
        need = max(len(step.content), _longest_value(step.arguments))
        if need > cap:
            positions.append(pos)
            needs.append(need)
    total = max(MIN_ARGUMENTS * cap, int(ARGUMENTS_SHARE * raw_chars))
    limits = allocate(needs, [1.0] * len(needs), total, cap=cap, floor=floor)
    return {p: n for p, n in zip(positions, limits) if n < cap}
