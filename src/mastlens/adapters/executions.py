"""Code executions that chat formats log as speaker messages (AG2's ``Computer_terminal``, Magentic-One's
``ComputerTerminal``, AppWorld's "Code Execution Output"): the message holding the code becomes a tool
call and the executor's message its result, with the exit status the text states.

Conventions: the call is a ``code_execution`` step inserted right after the message whose code ran
(same agent, same metadata, so ``history_index`` still maps it back to its source message), content =
the code blocks as written; the result carries ``metadata["exit_code"]`` when the text gives one and
``metadata["is_error"] = True`` when the text says the execution failed.
"""

from __future__ import annotations

import re

from mastlens.trace import Step, StepKind, renumber

EXECUTION_TOOL = "code_execution"
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)```", re.DOTALL)
# "exitcode: 1 (execution failed)" (AG2), "exited with Unix exit code: 0", "The Unix exit code was: 0"
# (Magentic-One), "exit code 2", "Exit status: 1".
_EXIT = re.compile(r"\bexit[ _]?(?:code|status)(?: was)?[:=]?\s*(-?\d+)\b", re.IGNORECASE)
_FAILED = re.compile(r"\(execution failed\)|^\s*execution failed\b", re.IGNORECASE | re.MULTILINE)


def code_blocks(text: str) -> str | None:
    """The fenced code blocks of a message, joined as written; None when it has none."""
    blocks = [m.group(2).rstrip("\n") for m in _FENCE.finditer(text)]
    return "\n".join(blocks) if blocks else None


def code_language(text: str) -> str | None:
    match = _FENCE.search(text)
    return (match.group(1) or None) if match else None


def exit_status(text: str) -> dict[str, object]:
    """``exit_code`` (int) and ``is_error`` from an executor's message head, where it states them."""
    head = text[:400]
    meta: dict[str, object] = {}
    match = _EXIT.search(head)
    if match:
        meta["exit_code"] = int(match.group(1))
    if _FAILED.search(head) or meta.get("exit_code", 0) != 0:
        meta["is_error"] = True
    return meta


def pair_executions(steps: list[Step], *, unfenced: bool = False) -> list[Step]:
    """Insert a ``code_execution`` call for every tool result that has no call of its own, after the latest
    earlier step (since the previous result) whose text holds fenced code, or, with ``unfenced`` (logs whose
    agent turns are code, AppWorld's), the latest agent turn; results with no such step stay unpaired.
    Returns the steps renumbered."""
    out: list[Step] = []
    producer: int | None = None  # position in ``out`` of the latest step with code since the last result
    n = 0
    for step in steps:
        if step.kind is StepKind.TOOL_RESULT and step.call_id is None and (step.tool in (None, EXECUTION_TOOL)):
            if producer is not None:
                source = out[producer]
                code = code_blocks(source.content) or source.content.split("\n", 1)[-1].strip()
                n += 1
                call_id = f"exec-{n}"
                call = Step(index=0, kind=StepKind.TOOL_CALL, agent=source.agent, tool=EXECUTION_TOOL, content=code,
                            arguments={"code": code, "language": code_language(source.content)},
                            call_id=call_id, timestamp=source.timestamp, metadata=dict(source.metadata))
                out.insert(producer + 1, call)
                step.call_id, step.tool = call_id, EXECUTION_TOOL
                for key, value in exit_status(step.content).items():
                    step.metadata.setdefault(key, value)
            producer = None
            out.append(step)
            continue
        if step.kind in (StepKind.ASSISTANT, StepKind.USER) and (
                ("```" in step.content and code_blocks(step.content)) or (unfenced and step.kind is StepKind.ASSISTANT)):
            producer = len(out)
        out.append(step)
    return renumber(out)
