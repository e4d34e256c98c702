"""Per-trace drill-down data: steps cut to a budget, each mode flagged at its evidence steps.

Everything here returns plain text pieces; escaping is the template's job (autoescape), so trace
content never becomes markup.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from mastlens.judges.llm.render import arguments_text
from mastlens.report.source_labels import SourceLabel, source_labels
from mastlens.trace import ModeStatus, Step, StepKind, Trace, Verdict

# Tool outputs are cut harder than what the agent itself wrote, like the judge's rendering.
TOOL_OUTPUT_LIMIT = 600
MESSAGE_LIMIT = 1500
QUOTE_WINDOW = 160
# Steps shown per trace; beyond that only both ends, the evidence steps and (room permitting) the
# step before each are kept.
MAX_STEPS = 30
EDGE_STEPS = 3
# Characters of step content per trace: the report's total is shared by its traces within these
# bounds (1,000 traces stay under 15 MB; a handful of traces are shown nearly whole). Evidence steps
# share most of a trace's budget, the other shown steps the rest, each with a floor.
REPORT_CHAR_BUDGET = 4_500_000
MIN_TRACE_CHARS = 5000
MAX_TRACE_CHARS = 60_000
MIN_FLAGGED_CHARS = 300
MIN_STEP_CHARS = 120


@dataclass
class Segment:
    text: str
    mark: bool = False


@dataclass
class StepView:
    index: int
    kind: str
    label: str
    segments: list[Segment]
    omitted_chars: int = 0
    total_chars: int = 0
    modes: list[str] = field(default_factory=list)
    is_error: bool = False
    decisive: bool = False  # where the verdict says the run went wrong
    source_mark: str = ""  # the source's own label of this step (e.g. Who&When's decisive mistake)


@dataclass
class GapView:
    """A run of steps left out of the drill-down."""

    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1


@dataclass
class ModeFlag:
    id: str
    name: str
    steps: list[int]
    quotes: list[tuple[int, str, bool]]
    confidence: float | None
    reason: str
    verified: bool


@dataclass
class TraceView:
    anchor: str
    id: str
    group: str
    group_key: str
    outcome: str  # "success" | "failure" | "unknown"
    score: float | None
    task: str | None
    status: str  # annotation status: ok | error | missing
    error: str | None
    summary: str
    flags: list[ModeFlag]
    rows: list[StepView | GapView]
    n_steps: int
    show_command: str
    truncated: bool
    # where the run went wrong: the verdict's decisive step (or its earliest present mode's onset)
    decisive_step: int | None = None
    decisive_agent: str | None = None
    decisive_reason: str = ""
    decisive_from: str = ""  # "judge" | "earliest evidence"
    n_assessed: int = 0
    not_assessed: list[str] = field(default_factory=list)
    source_labels: list[SourceLabel] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the reader's notes on the trace (trace.metadata["notes"])
    task_completed: bool | None = None  # the judge's own outcome call, shown beside ``outcome``

    @property
    def mode_ids(self) -> list[str]:
        return [f.id for f in self.flags]


def step_text(step: Step) -> str:
    """What a step says, with a tool call's arguments after its text, once: adapters often put the command
    or the arguments in the content too, and then only the fuller of the two is shown."""
    body = step.content or ""
    if step.kind is not StepKind.TOOL_CALL or step.arguments is None:
        return body
    args = arguments_text(step.arguments)
    stripped = body.strip()
    if not args or args in body or _same_json(stripped, step.arguments):
        return body
    if not stripped or stripped in args:
        return args
    return f"{body}\n{args}".strip()


def _same_json(text: str, arguments: object) -> bool:
    if not text.startswith(("{", "[")):
        return False
    try:
        return json.loads(text) == arguments
    except ValueError:
        return False


def _find(text: str, quote: str) -> tuple[int, int] | None:
    """Where a quote sits in the text: exact, then case-insensitive, then whitespace-tolerant."""
    quote = quote.strip()
    if not quote:
        return None
    pos = text.find(quote)
    if pos >= 0:
        return pos, pos + len(quote)
    pos = text.lower().find(quote.lower())
    if pos >= 0:
        return pos, pos + len(quote)
    words = quote.split()
    if len(words) > 1 and len(quote) < 2000:
        pattern = r"\s+".join(re.escape(w) for w in words)
        m = re.search(pattern, text, re.IGNORECASE)
        if m:
            return m.start(), m.end()
    return None


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def cut_segments(text: str, quotes: list[str], limit: int) -> tuple[list[Segment], int]:
    """Head + tail of ``text`` within ``limit`` characters, plus a window around every quote,
    with quotes marked. Returns the segments and how many characters were left out."""
    marks = _merge([s for s in (_find(text, q) for q in quotes) if s])
    if len(text) <= limit:
        keep = [(0, len(text))]
    else:
        half = limit // 2
        keep = [(0, half), (len(text) - half, len(text))]
        keep += [(max(0, a - QUOTE_WINDOW), min(len(text), b + QUOTE_WINDOW)) for a, b in marks]
        keep = _merge(keep)
    segments: list[Segment] = []
    shown = 0
    prev_end = 0
    for start, end in keep:
        if start > prev_end:
            segments.append(Segment(f"\n[... {start - prev_end} characters omitted ...]\n"))
        segments.extend(_marked(text, start, end, marks))
        shown += end - start
        prev_end = end
    return segments, len(text) - shown


def _marked(text: str, start: int, end: int, marks: list[tuple[int, int]]) -> list[Segment]:
    out: list[Segment] = []
    pos = start
    for a, b in marks:
        a, b = max(a, start), min(b, end)
        if a >= b:
            continue
        if a > pos:
            out.append(Segment(text[pos:a]))
        out.append(Segment(text[a:b], mark=True))
        pos = b
    if pos < end:
        out.append(Segment(text[pos:end]))
    return out


def _flags(verdict: Verdict | None, names: dict[str, str], n_steps: int) -> list[ModeFlag]:
    if verdict is None:
        return []
    flags = []
    for mode_id in names:
        mv = verdict.modes.get(mode_id)
        if mv is None or mv.status is not ModeStatus.PRESENT:
            continue
        flags.append(ModeFlag(
            id=mode_id, name=names[mode_id], steps=sorted({e.step for e in mv.evidence if 0 <= e.step < n_steps}),
            quotes=[(e.step, e.quote, e.verified) for e in mv.evidence], confidence=mv.confidence,
            reason=mv.reason, verified=mv.has_verified_evidence,
        ))
    return flags


def trace_char_budget(n_traces: int) -> int:
    """Each trace's share of the report's character budget."""
    return max(MIN_TRACE_CHARS, min(MAX_TRACE_CHARS, REPORT_CHAR_BUDGET // max(1, n_traces)))


def _visible_steps(n_steps: int, flagged: set[int], max_steps: int = MAX_STEPS) -> list[int]:
    if n_steps <= max_steps:
        return list(range(n_steps))
    keep = set(range(min(EDGE_STEPS, n_steps))) | set(range(max(0, n_steps - EDGE_STEPS), n_steps))
    keep |= {s for s in flagged if 0 <= s < n_steps}
    for s in sorted(flagged):
        if len(keep) >= max_steps:
            break
        if s - 1 >= 0:
            keep.add(s - 1)
    return sorted(keep)


def _shares(visible: list[int], flagged: set[int], budget: int) -> tuple[int, int]:
    """Character limits for evidence steps and for the other shown steps of one trace."""
    n_flagged = sum(1 for i in visible if i in flagged)
    n_plain = len(visible) - n_flagged
    if not n_flagged:
        return MESSAGE_LIMIT, max(MIN_STEP_CHARS, budget // max(1, n_plain))
    flagged_share = max(MIN_FLAGGED_CHARS, int(0.7 * budget) // n_flagged)
    plain_share = max(MIN_STEP_CHARS, int(0.3 * budget) // max(1, n_plain))
    return flagged_share, plain_share


def build_trace_view(
    trace: Trace, *, anchor: str, group: str, group_key: str, success: bool | None, verdict: Verdict | None,
    status: str, error: str | None, mode_names: dict[str, str], char_budget: int = MIN_TRACE_CHARS,
    db: str | None = None,
) -> TraceView:
    """The drill-down of one trace, within the per-trace budget; ``db`` names a store that is not the default
    in the full-text command."""
    flags = _flags(verdict, mode_names, len(trace.steps))
    by_step: dict[int, list[str]] = {}
    quotes_by_step: dict[int, list[str]] = {}
    for f in flags:
        for step, quote, _ in f.quotes:
            by_step.setdefault(step, []).append(f.id)
            quotes_by_step.setdefault(step, []).append(quote)
    decisive = _decisive(verdict, trace)
    # A larger budget also shows more steps (about 300 characters each).
    max_steps = max(MAX_STEPS, min(150, char_budget // 300))
    labels = source_labels(trace)
    marks = {label.step: label.headline for label in labels if label.step is not None}
    keep = set(by_step) | set(marks) | ({decisive[0]} if decisive else set())
    visible = _visible_steps(len(trace.steps), keep, max_steps)
    flagged_share, plain_share = _shares(visible, set(by_step), char_budget)
    rows: list[StepView | GapView] = []
    prev = -1
    for i in visible:
        if i > prev + 1:
            rows.append(GapView(prev + 1, i - 1))
        view = _step_view(trace.steps[i], sorted(set(by_step.get(i, []))), quotes_by_step.get(i, []),
                          flagged_share if i in by_step else plain_share)
        view.source_mark = marks.get(i, "")
        view.decisive = bool(decisive) and decisive[0] == i
        rows.append(view)
        prev = i
    if prev < len(trace.steps) - 1:
        rows.append(GapView(prev + 1, len(trace.steps) - 1))
    truncated = any(isinstance(r, GapView) or r.omitted_chars for r in rows)
    outcome = "unknown" if success is None else ("success" if success else "failure")
    not_assessed = [] if verdict is None else [
        m for m in mode_names if m not in verdict.modes or verdict.modes[m].status is ModeStatus.NOT_ASSESSED]
    return TraceView(
        anchor=anchor, id=trace.id, group=group, group_key=group_key, outcome=outcome,
        score=trace.outcome.score, task=trace.task, status=status, error=error,
        summary=verdict.summary if verdict else "", flags=flags, rows=rows, n_steps=len(trace.steps),
        show_command=f"mastlens show {_shell_quote(trace.id)} --full" + (f" --db {_shell_quote(db)}" if db else ""),
        truncated=truncated, n_assessed=len(mode_names) - len(not_assessed), not_assessed=not_assessed,
        source_labels=labels,
        **({"decisive_step": decisive[0], "decisive_agent": decisive[1], "decisive_reason": decisive[2],
            "decisive_from": decisive[3]} if decisive else {}),
        notes=[str(n) for n in trace.metadata.get("notes") or []],
        task_completed=verdict.task_completed if verdict else None,
    )


def _decisive(verdict: Verdict | None, trace: Trace) -> tuple[int, str | None, str, str] | None:
    """(step, agent, reason, source) of where the run went wrong, if the verdict localizes it in the trace."""
    if verdict is None:
        return None
    if verdict.decisive_step is not None:
        step, reason, source = verdict.decisive_step, verdict.decisive_reason, "judge"
    else:
        onset = verdict.earliest_onset()
        if onset is None:
            return None
        step, reason, source = onset[0], f"earliest evidence of {onset[1]}", "earliest evidence"
    if not 0 <= step < len(trace.steps):
        return None
    return step, verdict.decisive_agent or trace.steps[step].agent, reason, source


def _step_view(step: Step, modes: list[str], quotes: list[str], share: int) -> StepView:
    text = step_text(step)
    limit = TOOL_OUTPUT_LIMIT if step.kind in (StepKind.TOOL_RESULT, StepKind.EVENT) else MESSAGE_LIMIT
    limit = min(limit, share)
    segments, omitted = cut_segments(text, quotes, limit)
    label = " | ".join(x for x in (f"step {step.index}", step.kind.value, step.agent, step.tool) if x)
    return StepView(
        index=step.index, kind=step.kind.value, label=label, segments=segments, omitted_chars=omitted,
        total_chars=len(text), modes=modes,
        is_error=step.kind is StepKind.ERROR or bool(step.metadata.get("is_error")),
    )


def _shell_quote(value: str) -> str:
    if re.fullmatch(r"[\w@%+=:,./-]+", value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"
