"""Render a trace for the judge: labelled steps, long text cut head + tail, repeats shown once, windows.

What the agent was told (system steps), what it said and thought, and which tools it called are kept;
tool output (and error/event bodies) and long tool-call argument values (patch bodies, heredocs, inline
scripts) are cut head + tail, always with an explicit marker, while tool names and short argument values
stay verbatim. A trace whose long outputs (or long arguments) together exceed its budget (``budget``: a share
of its raw size, at least nine default cuts) gets a smaller share per item, cut by whole lines keeping the
lines that say how a command went, or a patch's file names (``cuts``). A tool call's arguments are shown
once, even when the adapter's text repeats them. A long block seen before (the instructions again as the
first user message, a re-sent request, an identical output, a run of an earlier step's lines inside a
wrapper) is replaced by ``[same as step N]``; a long block repeated inside one instruction or request step
(the task instructions and an AGENTS.md file carrying the same document) by ``[same as above: K
characters]``. The instructions come first in every window, before the run's own header (task, step
count), so requests for runs of one family share them in their prefix, which providers cache. Sizes are
estimated offline as characters / 4.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from mastlens.judges.llm.budget import step_limits
from mastlens.judges.llm.cuts import cut_argument, cut_lines
from mastlens.judges.llm.repeats import SAME_ABOVE, EarlierLines, collapse_inner_repeats
from mastlens.trace import Step, StepKind, Trace

CHARS_PER_TOKEN = 4
TOOL_OUTPUT_CHARS = 1200
REPEAT_MIN_CHARS = 200  # shorter repeats stay verbatim, and calls always do: the judge must see loops
_CUT_KINDS = {StepKind.TOOL_RESULT, StepKind.ERROR, StepKind.EVENT}
_PINNED_KINDS = {StepKind.SYSTEM}
_EMBEDDING_KINDS = {StepKind.SYSTEM, StepKind.USER}  # instructions and requests re-sent inside wrappers
SHOWN_ABOVE = "(shown above)"  # stands in the arguments for the command the call shows
_REPEATS_NOTE = "Text repeated from an earlier step is shown once; later copies read [same as step N]."
_INNER_REPEATS_NOTE = ("A long block repeated inside one step is shown once; the later copy reads "
                       "[same as above: K characters].")
_CUT_ARGUMENTS_NOTE = ("Long tool-call arguments (patch bodies, scripts) are cut like long outputs: "
                       "[... K characters omitted ...].")
_OMITTED = " characters omitted ...]"


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def cut_middle(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters: head + explicit omission marker + tail."""
    if len(text) <= limit:
        return text
    head = (limit * 2) // 3
    tail = limit - head
    omitted = len(text) - head - tail
    return f"{text[:head]}\n[... {omitted} characters omitted ...]\n{text[len(text) - tail:]}"


def step_label(step: Step) -> str:
    parts = [f"step {step.index}", step.kind.value, step.agent, step.tool]
    return "[" + " | ".join(p for p in parts if p) + "]"


def arguments_text(arguments: object) -> str:
    """Tool-call arguments as the judges see and quote them (compact JSON, or the string as given)."""
    if arguments is None or arguments == "" or arguments == {}:
        return ""
    if isinstance(arguments, str):
        return arguments
    try:
        return json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return str(arguments)


def step_text(step: Step) -> str:
    """The full text of a step (content, then arguments): what evidence quotes are checked against."""
    args = arguments_text(step.arguments)
    if args:
        return f"{step.content}\narguments: {args}" if step.content else f"arguments: {args}"
    return step.content


def _cut_values(value: object, limit: int, cut: Callable[[str, int], str] = cut_middle) -> object:
    """``value`` with every long string inside it cut head + tail (keys, numbers and short strings kept)."""
    if isinstance(value, str):
        return cut(value, limit)
    if isinstance(value, list):
        return [_cut_values(v, limit, cut) for v in value]
    if isinstance(value, dict):
        return {k: _cut_values(v, limit, cut) for k, v in value.items()}
    return value


def _is_command_list(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _renders(value: object, shown: str) -> bool:
    """Whether ``shown`` is how an adapter renders ``value`` (the string itself, or a joined command)."""
    if isinstance(value, str):
        return value.strip() == shown
    if _is_command_list(value):
        if len(value) >= 2 and value[-2] in ("-c", "-lc") and value[-1].strip() == shown:
            return True  # `bash -lc CMD` shown as CMD
        return shown in (shlex.join(value), " ".join(value))
    return False


def _shown_in(value: object, shown: str) -> bool:
    if _renders(value, shown):
        return True
    if isinstance(value, list):
        return any(_shown_in(v, shown) for v in value)
    if isinstance(value, dict):
        return any(_shown_in(v, shown) for v in value.values())
    return False


def _pointing_above(value: object, shown: str) -> object:
    """``value`` with the part the call's content already shows replaced by a pointer to it."""
    if _renders(value, shown):
        return SHOWN_ABOVE
    if isinstance(value, list):
        return [_pointing_above(v, shown) for v in value]
    if isinstance(value, dict):
        return {k: _pointing_above(v, shown) for k, v in value.items()}
    return value


def _same_json(text: str, arguments: object) -> bool:
    if text == arguments_text(arguments):
        return True
    if text[:1] not in "{[":
        return False
    try:
        return json.loads(text) == arguments
    except ValueError:
        return False


def call_text(step: Step, limit: int = TOOL_OUTPUT_CHARS // 2, cut: Callable[[str, int], str] = cut_middle) -> str:
    """A tool call as the judge sees it: its arguments once, long values cut head + tail.

    When the content is the adapter's rendering of the arguments (the shell command, the arguments'
    JSON), it is not shown twice: a command stays readable (cut like an output) and the arguments point
    at it; other content (the agent's words with the call) is kept whole. ``cut`` cuts a long value.
    """
    args, content = step.arguments, step.content
    text = content.strip()
    if args is None or args == "" or args == {}:
        return content
    if isinstance(args, str):
        shown = cut(args, limit)
        return shown if not text or text == args.strip() else f"{content}\narguments: {shown}"
    if not text or _same_json(text, args):
        return f"arguments: {arguments_text(_cut_values(args, limit, cut))}"
    if _shown_in(args, text):
        rest = arguments_text(_cut_values(_pointing_above(args, text), limit, cut))
        return f"{cut(content, limit)}\narguments: {rest}"
    return f"{content}\narguments: {arguments_text(_cut_values(args, limit, cut))}"


def _notes(step: Step, body: str) -> str:
    notes = []
    exit_code = step.metadata.get("exit_code")
    if exit_code not in (None, 0):
        notes.append(f"exit code: {exit_code}")
    if step.metadata.get("is_error"):
        notes.append("tool reported an error")
    event = step.metadata.get("event")
    if event and step.kind is StepKind.EVENT and event not in body:
        notes.append(f"event: {event}")
    if notes:
        body = f"({'; '.join(notes)})\n{body}" if body else f"({'; '.join(notes)})"
    return body


def _block(step: Step, body: str) -> str:
    # A step must not be able to close the trace delimiters of the prompt.
    body = _notes(step, body).replace("</trace>", "<\\/trace>")
    return f"{step_label(step)}\n{body}" if body else step_label(step)


def argument_chars(tool_output_chars: int) -> int:
    """How much of one long argument value is kept: half an output's share. The head names what is
    patched or run and the tail how it ends; the middle of a patch body or script rarely decides a mode."""
    return max(200, tool_output_chars // 2)


def step_body(step: Step, tool_output_chars: int = TOOL_OUTPUT_CHARS, share: int | None = None) -> str:
    """A step's text before labels and notes: calls shown once, outputs and long arguments cut. ``share``:
    the step's share of its trace's budget, when below the default limit (then cut by whole lines, keeping
    the lines that tell how a command went, or a patch's file names: see ``cuts``)."""
    if step.kind is StepKind.TOOL_CALL:
        limit = argument_chars(tool_output_chars)
        if share is not None and share < limit:
            return call_text(step, share, cut_argument)
        return call_text(step, limit)
    body = step_text(step)
    if step.kind not in _CUT_KINDS:
        return body
    if share is not None and share < tool_output_chars:
        return cut_lines(body, share)
    return cut_middle(body, tool_output_chars)


def render_step(step: Step, tool_output_chars: int = TOOL_OUTPUT_CHARS) -> str:
    """One step rendered on its own (no references to other steps)."""
    return _block(step, step_body(step, tool_output_chars))


def full_step_text(step: Step) -> str:
    """Everything a judge may have seen of a step, uncut: the rendered block and its raw content and arguments."""
    return f"{render_step(step, tool_output_chars=1 << 62)}\n{step_text(step)}"


@dataclass
class Window:
    """One rendering unit: the header, the pinned instructions, and a run of whole steps."""

    text: str
    first_step: int | None
    last_step: int | None
    part: int = 1
    parts: int = 1
    truncated_steps: list[int] = field(default_factory=list)


@dataclass
class Rendering:
    windows: list[Window]
    raw_chars: int

    @property
    def segmented(self) -> bool:
        return len(self.windows) > 1

    @property
    def chars(self) -> int:
        return sum(len(w.text) for w in self.windows)


def _header(trace: Trace, blocks: list[_Block]) -> str:
    lines = []
    if trace.system:
        lines.append(f"Agent system: {trace.system}")
    if trace.task:
        lines.append(f"Task: {trace.task}")
    lines.append(f"Steps: {len(trace.steps)}")
    if any(b.refs for b in blocks):
        lines.append(_REPEATS_NOTE)
    if any(SAME_ABOVE in b.text and SAME_ABOVE not in step_text(b.step) for b in blocks):
        lines.append(_INNER_REPEATS_NOTE)
    if any(b.step.kind is StepKind.TOOL_CALL and _OMITTED in b.text for b in blocks):
        lines.append(_CUT_ARGUMENTS_NOTE)
    return "\n".join(lines)


@dataclass
class _Block:
    """One step's rendering: on its own, and with repeated text replaced by references to earlier steps."""

    step: Step
    alone: str
    text: str
    refs: frozenset[int] = frozenset()


def _paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n\n") if p.strip()]


class _Repeats:
    """Long texts already shown, so later copies can point at the step that showed them."""

    def __init__(self) -> None:
        self.whole: dict[str, int] = {}
        self.embeddable: list[tuple[int, str]] = []  # long instructions and requests, in order
        self.paragraphs: dict[str, int] = {}
        self.lines = EarlierLines(REPEAT_MIN_CHARS)

    def block(self, step: Step, limit: int, share: int | None = None) -> _Block:
        body = step_body(step, limit, share)
        if step.kind in _EMBEDDING_KINDS:
            body = collapse_inner_repeats(body)
        alone = _block(step, body)
        full = step_text(step)
        if len(full) < REPEAT_MIN_CHARS or step.kind is StepKind.TOOL_CALL:
            return _Block(step, alone, alone)  # every call is shown as made (its long values are cut already)
        first = self.whole.get(full)
        if first is not None:
            return _Block(step, alone, _block(step, f"[same as step {first}]"), frozenset({first}))
        self.whole[full] = step.index
        if step.kind not in _EMBEDDING_KINDS:
            return _Block(step, alone, alone)
        text, refs = self._embedded(body)
        self.embeddable.append((step.index, full.strip()))
        self.lines.add(step.index, full)
        for para in _paragraphs(full):
            if len(para) >= REPEAT_MIN_CHARS:
                self.paragraphs.setdefault(para.strip(), step.index)
        if not refs:
            return _Block(step, alone, alone)
        return _Block(step, alone, _block(step, text), frozenset(refs))

    def _embedded(self, body: str) -> tuple[str, set[int]]:
        """``body`` with earlier instructions inside it (whole, else paragraph by paragraph, else runs of
        lines) as references."""
        refs: set[int] = set()
        for index, earlier in self.embeddable:
            if earlier in body:
                body = body.replace(earlier, f"[same as step {index}]")
                refs.add(index)
        out: list[str] = []
        for para in body.split("\n\n"):
            index = self.paragraphs.get(para.strip()) if len(para) >= REPEAT_MIN_CHARS else None
            if index is None:
                out.append(para)
                continue
            refs.add(index)
            marker = f"[same as step {index}]"
            if not out or out[-1] != marker:  # a run of paragraphs from one step is one reference
                out.append(marker)
        # the rest of a step it already repeats: its pieces glued to a wrapper's lines (only there, so a
        # multi-agent log that quotes a line or two of an earlier prompt is left as it was)
        body, more = self.lines.fold("\n\n".join(out), refs)
        return body, refs | more


def _blocks(trace: Trace, limit: int, raw_chars: int) -> list[_Block]:
    repeats = _Repeats()
    shares = step_limits(trace, raw_chars, limit, argument_chars(limit))
    return [repeats.block(s, limit, shares.get(k)) for k, s in enumerate(trace.steps)]


def render_trace(trace: Trace, *, max_tokens: int = 100_000, tool_output_chars: int = TOOL_OUTPUT_CHARS,
                 overlap_share: float = 0.1) -> Rendering:
    """Render ``trace`` into one window, or into overlapping windows of whole steps if over budget."""
    raw_chars = sum(len(s.content) + len(arguments_text(s.arguments)) for s in trace.steps)
    blocks = _blocks(trace, tool_output_chars, raw_chars)
    header = _header(trace, blocks)
    budget = max_tokens * CHARS_PER_TOKEN
    total = len(header) + sum(len(b.text) + 2 for b in blocks)
    if total <= budget:
        # the leading instructions first, the run's header after them: see the module docstring
        lead = next((k for k, b in enumerate(blocks) if b.step.kind not in _PINNED_KINDS), len(blocks))
        text = "\n\n".join([*(b.text for b in blocks[:lead]), header, *(b.text for b in blocks[lead:])])
        first = trace.steps[0].index if trace.steps else None
        last = trace.steps[-1].index if trace.steps else None
        return Rendering([Window(text, first, last)], raw_chars)
    return Rendering(_windows(header, blocks, budget, overlap_share), raw_chars)


def _windows(header: str, blocks: list[_Block], budget: int, overlap_share: float) -> list[Window]:
    pinned = [b for b in blocks if b.step.kind in _PINNED_KINDS]
    rest = [b for b in blocks if b.step.kind not in _PINNED_KINDS]
    pinned_steps = {b.step.index for b in pinned}
    truncated: list[int] = []
    # Instructions go in every window; if they alone would crowd out the run, cut them (visibly).
    pinned_room = budget // 3
    pinned_text = "\n\n".join(b.text if b.refs <= pinned_steps else b.alone for b in pinned)
    if len(pinned_text) > pinned_room:
        pinned_text = cut_middle(pinned_text, pinned_room)
        truncated.extend(pinned_steps)
    prefix = "\n\n".join(x for x in [pinned_text, header] if x)  # instructions first: a cacheable prefix
    room = max(budget - len(prefix) - 200, budget // 3)
    # Sized as rendered alone: a reference is used only when the step it names is in the same window.
    sized: list[tuple[_Block, str]] = []
    for b in rest:
        block = b.alone
        if len(block) + 2 > room:  # one step larger than a whole window: cut it, and say so
            block = cut_middle(block, room - 2)
            truncated.append(b.step.index)
        sized.append((b, block))
    groups: list[list[tuple[_Block, str]]] = []
    start = 0
    while start < len(sized):
        used, end = 0, start
        while end < len(sized) and used + len(sized[end][1]) + 2 <= room:
            used += len(sized[end][1]) + 2
            end += 1
        end = max(end, start + 1)
        groups.append(sized[start:end])
        if end >= len(sized):
            break
        # Overlap: carry the last steps (about overlap_share of the room) into the next window.
        # At least the last step is carried (when the window has two or more), so no boundary is blind.
        back, carried = end, 0
        while back - 1 > start and (back == end or carried + len(sized[back - 1][1]) <= room * overlap_share):
            back -= 1
            carried += len(sized[back][1])
        start = back if back < end else end
    windows = []
    for i, group in enumerate(groups, start=1):
        visible = pinned_steps | {b.step.index for b, _ in group}
        texts = [b.text if b.refs and b.refs <= visible and b.step.index not in truncated else block
                 for b, block in group]
        text = "\n\n".join([prefix, *texts])
        windows.append(Window(text, group[0][0].step.index, group[-1][0].step.index, i, len(groups),
                              [t for t in truncated if t in visible]))
    return windows
