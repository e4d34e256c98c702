"""Codex rollout records -> steps: the :class:`Rollout` being built and the per-record rules
(echo dropping, call/output pairing, token accounting). Used by :mod:`mastlens.adapters.codex`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mastlens.adapters.codex.output import parse_arguments, parse_output, render_call
from mastlens.trace import Step, StepKind, renumber

_INJECTED = (("# AGENTS.md instructions", "agents_md"), ("<user_instructions>", "agents_md"),
             ("<environment_context>", "environment_context"))
_MODEL_STEPS = (StepKind.ASSISTANT, StepKind.REASONING, StepKind.TOOL_CALL)
_ECHO = "_echo"
_EVENT_STEPS = {
    "turn_aborted": "turn_aborted", "thread_rolled_back": "thread_rolled_back",
    "entered_review_mode": "entered_review_mode", "exited_review_mode": "exited_review_mode",
    "undo_completed": "undo_completed", "warning": "warning",
}


@dataclass
class Rollout:
    """One parsed rollout file: its steps plus what the session said about itself."""

    path: Path
    session_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    models: Counter = field(default_factory=Counter)
    last_model: str | None = None
    tokens: dict[str, Any] | None = None
    context_window: int | None = None
    turns: int = 0
    first_ts: str | None = None
    last_ts: str | None = None
    skipped: Counter = field(default_factory=Counter)
    other_sessions: list[str] = field(default_factory=list)

    @property
    def model(self) -> str | None:
        """The most used model (ties go to the one used last)."""
        if not self.models:
            return None
        top = max(self.models.values())
        return self.last_model if self.models.get(self.last_model) == top else self.models.most_common(1)[0][0]

    def summary(self) -> dict[str, Any]:
        info: dict[str, Any] = {"session_id": self.session_id, **self.meta}
        if len(self.models) > 1:
            info["models"] = dict(self.models)
        if self.tokens is not None:
            info["tokens"] = self.tokens
        if self.context_window is not None:
            info["context_window"] = self.context_window
        info["turns"] = self.turns
        info["started"], info["ended"] = self.first_ts, self.last_ts
        if self.skipped:
            info["skipped_records"] = dict(self.skipped)
        if self.other_sessions:
            info["other_sessions"] = self.other_sessions
        return {k: v for k, v in info.items() if v is not None}


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for part in content or []:
        if isinstance(part, dict):
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif part.get("type") in ("input_image", "image"):
                texts.append("[image]")
    return "\n".join(texts)


def _norm(text: str) -> str:
    return " ".join(text.split())


class RolloutBuilder:
    """Turns rollout records into steps, one record at a time."""

    def __init__(self, rollout: Rollout):
        self.r = rollout
        self.calls: dict[str, Step] = {}
        self.answered: set[str] = set()
        self.primary: dict[str, set[str]] = {"user": set(), "assistant": set(), "reasoning": set()}
        self.compacted = False
        self.token_mark = 0

    def add(self, kind: StepKind, content: str = "", ts: str | None = None, **extra: Any) -> Step:
        step = Step(index=len(self.r.steps), kind=kind, content=content, timestamp=ts, **extra)
        self.r.steps.append(step)
        return step

    def record(self, rtype: str, payload: dict[str, Any], ts: str | None) -> None:
        handler = getattr(self, f"_on_{rtype}", None)
        if handler is None:
            self.r.skipped[rtype] += 1
        else:
            handler(payload, ts)

    def _on_session_meta(self, p: dict[str, Any], ts: str | None) -> None:
        if self.r.session_id is not None:
            if p.get("id") and p.get("id") != self.r.session_id:
                self.r.other_sessions.append(str(p["id"]))
            return
        self.r.session_id = str(p["id"]) if p.get("id") else None
        for key in ("cli_version", "originator", "cwd", "source", "model_provider"):
            if isinstance(p.get(key), (str, int, float)):
                self.r.meta[key] = p[key]
        instructions = p.get("instructions")
        if isinstance(instructions, dict):
            instructions = instructions.get("text")
        base = p.get("base_instructions")
        if not instructions and isinstance(base, dict):
            instructions = base.get("text")
        if isinstance(instructions, str) and instructions.strip():
            self.add(StepKind.SYSTEM, instructions, ts, metadata={"source": "session_meta"})

    def _on_turn_context(self, p: dict[str, Any], ts: str | None) -> None:
        self.r.turns += 1
        model = p.get("model")
        if isinstance(model, str) and model:
            self.r.models[model] += 1
            self.r.last_model = model

    def _on_compacted(self, p: dict[str, Any], ts: str | None) -> None:
        meta: dict[str, Any] = {"event": "compacted"}
        if isinstance(p.get("replacement_history"), list):
            meta["replaced_items"] = len(p["replacement_history"])
        self.compacted = True
        self.add(StepKind.EVENT, str(p.get("message") or ""), ts, metadata=meta)

    def _on_response_item(self, p: dict[str, Any], ts: str | None) -> None:
        itype = p.get("type")
        if itype == "message":
            self._message(p, ts)
        elif itype == "reasoning":
            self._reasoning(p, ts)
        elif itype in ("function_call", "custom_tool_call", "local_shell_call", "web_search_call"):
            self._call(p, ts)
        elif itype in ("function_call_output", "custom_tool_call_output"):
            self._output(p, ts)
        else:  # ghost_snapshot and kinds we do not model
            self.r.skipped[f"response_item:{itype}"] += 1

    def _message(self, p: dict[str, Any], ts: str | None) -> None:
        role = p.get("role")
        text = _message_text(p.get("content"))
        meta: dict[str, Any] = {}
        if role in ("developer", "system"):
            kind = StepKind.SYSTEM
            meta["role"] = role
        elif role == "assistant":
            kind = StepKind.ASSISTANT
            if p.get("phase"):
                meta["phase"] = p["phase"]
        else:
            kind = StepKind.USER
            for prefix, label in _INJECTED:
                if text.lstrip().startswith(prefix):
                    kind, meta["injected"] = StepKind.SYSTEM, label
        if role in ("user", "assistant") and "injected" not in meta:  # the UI never echoes injected context
            self.primary[role].add(_norm(text))
        self.add(kind, text, ts, agent=role if role in ("user", "assistant") else None, metadata=meta)

    def _reasoning(self, p: dict[str, Any], ts: str | None) -> None:
        parts = [s.get("text", "") for s in p.get("summary") or [] if isinstance(s, dict)]
        meta: dict[str, Any] = {}
        if not any(parts):
            parts = [c.get("text", "") for c in p.get("content") or [] if isinstance(c, dict)]
            meta["raw"] = True
        parts = [t for t in parts if t]
        if not parts:
            self.r.skipped["reasoning:encrypted_only"] += 1
            return
        for part in parts:
            self.primary["reasoning"].add(_norm(part))
        text = "\n\n".join(parts)
        self.primary["reasoning"].add(_norm(text))
        self.add(StepKind.REASONING, text, ts, metadata=meta)

    def _call(self, p: dict[str, Any], ts: str | None) -> None:
        itype = p["type"]
        if itype == "custom_tool_call":
            name, args = p.get("name"), p.get("input")
        elif itype == "local_shell_call":
            action = p.get("action") or {}
            name, args = "local_shell", {k: v for k, v in action.items() if k != "type"}
        elif itype == "web_search_call":
            name, args = "web_search", p.get("action")
        else:
            name, args = p.get("name"), parse_arguments(p.get("arguments"))
        call_id = p.get("call_id") or p.get("id")
        meta: dict[str, Any] = {"item": itype}
        if isinstance(name, str) and name.startswith("mcp__"):
            _, server, tool = (name.split("__", 2) + ["", ""])[:3]
            meta["mcp_server"], meta["mcp_tool"] = server, tool
        step = self.add(StepKind.TOOL_CALL, render_call(name, args), ts, agent="assistant", tool=name,
                        arguments=args, call_id=call_id, metadata=meta)
        if call_id:
            self.calls[call_id] = step

    def _output(self, p: dict[str, Any], ts: str | None) -> None:
        call_id = p.get("call_id")
        call = self.calls.get(call_id) if call_id else None
        out = parse_output(p.pop("output", None))
        meta: dict[str, Any] = {"exit_code": out.exit_code, "duration_s": out.duration_s, "output_shape": out.shape}
        if out.is_error:
            meta["is_error"] = True
        if call is None:
            meta["orphan"] = True
        else:
            self.answered.add(call_id)
        self.add(StepKind.TOOL_RESULT, out.text, ts, agent="tool", tool=call.tool if call else None,
                 call_id=call_id, metadata=meta)

    def _on_event_msg(self, p: dict[str, Any], ts: str | None) -> None:
        etype = p.get("type")
        if etype == "token_count":
            self._tokens(p)
        elif etype in ("user_message", "agent_message"):
            role = "user" if etype == "user_message" else "assistant"
            kind = StepKind.USER if role == "user" else StepKind.ASSISTANT
            self.add(kind, str(p.get("message") or ""), ts, agent=role, metadata={_ECHO: role})
        elif etype in ("agent_reasoning", "agent_reasoning_raw_content"):
            self.add(StepKind.REASONING, str(p.get("text") or ""), ts, metadata={_ECHO: "reasoning"})
        elif etype == "context_compacted":
            self.add(StepKind.EVENT, "", ts, metadata={"event": "compacted", _ECHO: "compacted"})
        elif etype in ("error", "stream_error"):
            self.add(StepKind.ERROR, str(p.get("message") or ""), ts, metadata={"event": etype})
        elif etype in _EVENT_STEPS:
            meta = {"event": _EVENT_STEPS[etype]}
            meta.update({k: v for k, v in p.items() if k != "type" and isinstance(v, (str, int, float, bool))})
            text = str(p.get("reason") or p.get("message") or "")
            if etype == "thread_rolled_back":
                text = f"rolled back {p.get('num_turns', '?')} turn(s)"
            self.add(StepKind.EVENT, text, ts, metadata=meta)
        else:
            self.r.skipped[f"event_msg:{etype}"] += 1

    def _tokens(self, p: dict[str, Any]) -> None:
        info = p.get("info")
        if not isinstance(info, dict):
            return
        if isinstance(info.get("total_token_usage"), dict):
            self.r.tokens = info["total_token_usage"]
        if isinstance(info.get("model_context_window"), int):
            self.r.context_window = info["model_context_window"]
        last = info.get("last_token_usage")
        if isinstance(last, dict):
            for step in reversed(self.r.steps[self.token_mark:]):
                if step.kind in _MODEL_STEPS and _ECHO not in step.metadata:
                    out = last.get("output_tokens")
                    step.tokens = out if isinstance(out, int) else None
                    step.metadata["usage"] = last
                    break
        self.token_mark = len(self.r.steps)

    def finish(self) -> None:
        """Drop echoes that duplicate a response item; keep the ones that stand alone."""
        kept = []
        for step in self.r.steps:
            echo = step.metadata.pop(_ECHO, None)
            if echo is not None and self._duplicate(echo, step.content):
                continue
            kept.append(step)
        for step in kept:
            if step.kind is StepKind.TOOL_CALL and step.call_id and step.call_id not in self.answered \
                    and step.metadata.get("item") != "web_search_call":
                step.metadata["no_output"] = True
        self.r.steps = renumber(kept)

    def _duplicate(self, echo: str, text: str) -> bool:
        if echo == "compacted":
            return self.compacted
        norm = _norm(text)
        if not norm:
            return True
        seen = self.primary[echo]
        return norm in seen or (len(norm) >= 20 and any(norm in s for s in seen))
