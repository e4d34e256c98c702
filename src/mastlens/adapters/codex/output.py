"""Decoding the payloads of Codex CLI tool calls and their outputs.

Codex wrote tool outputs in several shapes over its versions:

* shell calls, older CLIs (the one ITBench used): a JSON string
  ``{"output": "...", "metadata": {"exit_code": 0, "duration_seconds": 0.4}}``;
* shell calls, newer CLIs: plain text ``Exit code: N\\nWall time: X seconds\\nOutput:\\n...`` (or, from the
  unified exec tool, ``Chunk ID: ..\\nWall time: ..\\nProcess exited with code N\\n...``);
* MCP tools (``mcp__<server>__<tool>``): a JSON list of content parts ``[{"type": "text", "text": ...}]``
  or an object ``{"content": [...], "isError": bool}``;
* anything else: plain text, or ``{"content": ..., "success": bool}`` when serialized structurally.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

_EXIT_CODE = re.compile(r"^Exit code:\s*(-?\d+)", re.MULTILINE)
_PROCESS_EXIT = re.compile(r"^Process exited with code (-?\d+)", re.MULTILINE)  # unified exec tool
_WALL_TIME = re.compile(r"^Wall time:\s*([0-9.]+)\s*s", re.MULTILINE)
_PART_TYPES = {"text", "input_text", "output_text", "image", "input_image", "audio", "resource", "resource_link"}
_ERROR_PREFIXES = ("execution error:", "failed to parse function arguments", "tool call error:")


@dataclass
class ToolOutput:
    """A tool output reduced to its text plus what the wrapper said about the run."""

    text: str
    exit_code: int | None = None
    duration_s: float | None = None
    is_error: bool = False
    shape: str = "text"  # json-shell | exit-code-text | mcp-parts | structured | text


def parse_arguments(raw: Any) -> Any:
    """Function-call arguments: parsed JSON when they are a JSON string, else as given."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def render_call(tool: str | None, arguments: Any) -> str:
    """A readable one-look summary of a call: the shell command for shell tools, else the arguments."""
    if isinstance(arguments, dict):
        command = arguments.get("command", arguments.get("cmd"))
        if isinstance(command, list) and all(isinstance(c, str) for c in command):
            if len(command) == 3 and command[0] in ("bash", "sh", "zsh") and command[1] in ("-lc", "-c"):
                return command[2]
            return shlex.join(command)
        if isinstance(command, str):
            return command
        return json.dumps(arguments, ensure_ascii=False)
    if arguments is None:
        return ""
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


def _parts_text(parts: list[Any]) -> str | None:
    """Join the text of MCP-style content parts; None when the list is not made of parts."""
    texts: list[str] = []
    for part in parts:
        if not isinstance(part, dict) or part.get("type") not in _PART_TYPES:
            return None  # a JSON list of something else: keep the text as it was
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif part.get("type") in ("image", "input_image", "audio"):
            texts.append(f"[{part['type'].removeprefix('input_')}]")
        elif isinstance(part.get("resource"), dict):
            texts.append(str(part["resource"].get("text", part["resource"].get("uri", ""))))
        elif isinstance(part.get("uri"), str):
            texts.append(part["uri"])
    return "\n".join(texts)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _from_object(obj: Any) -> ToolOutput | None:
    """Structured outputs (already decoded JSON)."""
    if isinstance(obj, list):
        text = _parts_text(obj)
        return ToolOutput(text, shape="mcp-parts") if text is not None else None
    if not isinstance(obj, dict):
        return None
    meta = obj.get("metadata")
    if isinstance(obj.get("output"), str) and isinstance(meta, dict) and ("exit_code" in meta or "duration_seconds" in meta):
        code = _as_int(meta.get("exit_code"))
        return ToolOutput(obj["output"], code, _as_float(meta.get("duration_seconds")),
                          is_error=code not in (None, 0), shape="json-shell")
    content = obj.get("content")
    if isinstance(content, list):
        text = _parts_text(content)
        if text is not None:
            error = obj.get("isError") is True or obj.get("is_error") is True or obj.get("success") is False
            return ToolOutput(text, is_error=error, shape="mcp-parts")
    if isinstance(content, str):
        return ToolOutput(content, is_error=obj.get("success") is False, shape="structured")
    return None


def parse_output(raw: Any) -> ToolOutput:
    """Decode one ``function_call_output`` / ``custom_tool_call_output`` payload ``output``."""
    if raw is None:
        return ToolOutput("")
    if not isinstance(raw, str):
        found = _from_object(raw)
        return found or ToolOutput(json.dumps(raw, ensure_ascii=False), shape="structured")
    stripped = raw.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            decoded = json.loads(raw)
        except ValueError:
            decoded = None
        found = _from_object(decoded) if decoded is not None else None
        if found is not None:
            return found
    match = _EXIT_CODE.match(stripped)
    if match:
        code = int(match.group(1))
        wall = _WALL_TIME.search(raw[:400])
        return ToolOutput(raw, code, float(wall.group(1)) if wall else None, is_error=code != 0,
                          shape="exit-code-text")
    head = raw[:1000]
    match = _PROCESS_EXIT.search(head)
    if match and head.lstrip().startswith(("Chunk ID:", "Wall time:", "Process exited")):
        code = int(match.group(1))
        wall = _WALL_TIME.search(head)
        return ToolOutput(raw, code, float(wall.group(1)) if wall else None, is_error=code != 0,
                          shape="exit-code-text")
    error = stripped[:60].lower().startswith(_ERROR_PREFIXES)
    return ToolOutput(raw, is_error=error)
