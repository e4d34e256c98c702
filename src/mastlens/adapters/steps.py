"""Building step lists for message-shaped formats (Inspect, ATIF, Claude Code, OTel, Who&When).

:class:`StepBuilder` keeps steps in order with consecutive indices and remembers each tool call's
name by its call id, so a tool result names the tool it answers even when its source does not.
"""

from __future__ import annotations

import json
from typing import Any

from mastlens.adapters.codex.output import parse_arguments
from mastlens.trace import Step, StepKind

_TEXT_PARTS = ("text", "input_text", "output_text")
_MEDIA_PARTS = ("image", "input_image", "image_url", "audio", "video", "document", "file")


def as_text(value: Any) -> str:
    """A value as step text: strings as they are, anything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def content_text(content: Any, *, name_other_parts: bool = False) -> str:
    """The readable text of a message content: a string, or a list of typed parts (text and refusal parts
    joined, media as a placeholder). Other parts (reasoning, tool use) are left to the caller, unless
    ``name_other_parts`` is set (chat formats, where no caller handles them): then their text, or a
    ``[type]`` placeholder."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return as_text(content)
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict):
            kind = part.get("type")
            if kind in _TEXT_PARTS or (kind is None and isinstance(part.get("text"), str)):
                texts.append(str(part.get("text") or part.get("content") or ""))
            elif kind == "refusal" and isinstance(part.get("refusal"), str):
                texts.append(part["refusal"])
            elif kind in _MEDIA_PARTS:
                texts.append(f"[{kind}]")
            elif name_other_parts:
                text = part.get("text")
                texts.append(text if isinstance(text, str) else f"[{kind or 'part'}]")
    return "\n".join(t for t in texts if t)


class StepBuilder:
    """An ordered step list under construction."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self._tool_of_call: dict[str, str] = {}

    def add(self, kind: StepKind, content: Any = "", **fields: Any) -> Step:
        step = Step(index=len(self.steps), kind=kind, content=as_text(content),
                    **{k: v for k, v in fields.items() if v is not None})
        self.steps.append(step)
        return step

    def call(self, tool: str | None, arguments: Any, call_id: str | None = None, **fields: Any) -> Step:
        """A tool call; JSON-string arguments are parsed."""
        if call_id and tool:
            self._tool_of_call[call_id] = tool
        return self.add(StepKind.TOOL_CALL, "", tool=tool, arguments=parse_arguments(arguments),
                        call_id=call_id, **fields)

    def result(self, content: Any, call_id: str | None = None, tool: str | None = None, **fields: Any) -> Step:
        """A tool result, named after its call when the source leaves the tool out."""
        tool = tool or (self._tool_of_call.get(call_id) if call_id else None)
        return self.add(StepKind.TOOL_RESULT, content, tool=tool, call_id=call_id, **fields)

    def __len__(self) -> int:
        return len(self.steps)
