"""Read a judge reply into a validated verdict: JSON first, MAST-style text as a fallback.

A reply is usable only if every mode of the taxonomy appears exactly once; anything else raises
:class:`ReplyError` with a message precise enough to feed back to the model.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mastlens.judges.llm.textparse import parse_mast_text
from mastlens.taxonomy import Taxonomy, UnknownMode


class ReplyError(ValueError):
    """A reply that is not a complete, valid verdict."""


class EvidenceItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    step: int
    quote: str = ""


class ModeItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    present: bool
    confidence: float | None = Field(default=None, ge=0, le=1)
    evidence: list[EvidenceItem] = Field(default_factory=list)
    reason: str = ""

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, float)) else value

    @field_validator("evidence", mode="before")
    @classmethod
    def _evidence_list(cls, value: Any) -> Any:
        if value is None:
            return []
        return [value] if isinstance(value, dict) else value


class VerdictReply(BaseModel):
    """The verdict contract a judge must answer with."""

    model_config = ConfigDict(extra="ignore")
    summary: str = ""
    task_completed: bool | None = None
    decisive_step: int | None = None
    decisive_agent: str | None = None
    decisive_reason: str | None = ""
    modes: list[ModeItem]

    @field_validator("decisive_agent", mode="before")
    @classmethod
    def _agent_text(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


@dataclass
class ParsedVerdict:
    summary: str
    task_completed: bool | None
    modes: dict[str, ModeItem]
    parser: str  # "json" | "mast_text"
    notes: list[str] = field(default_factory=list)
    decisive_step: int | None = None
    decisive_agent: str | None = None
    decisive_reason: str = ""


_FENCE = re.compile(r"^\s*```(?:json|JSON)?\s*\n?(.*?)\n?```\s*$", re.DOTALL)


def _extract_json(text: str) -> Any:
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    try:
        return json.loads(body)
    except json.JSONDecodeError as first_error:
        start, end = body.find("{"), body.rfind("}")
        if start != -1 and end > start:
            try:
                return json.loads(body[start:end + 1])
            except json.JSONDecodeError:
                pass
        raise ReplyError(f"not valid JSON ({first_error.msg} at line {first_error.lineno} column {first_error.colno})") from None


def _modes_as_list(data: dict[str, Any]) -> dict[str, Any]:
    """Accept ``"modes": {"FM-1.1": {...}}`` as well as the list form."""
    modes = data.get("modes")
    if isinstance(modes, dict):
        data = dict(data)
        data["modes"] = [{"id": k, **v} if isinstance(v, dict) else {"id": k, "present": v} for k, v in modes.items()]
    return data


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:6]:
        where = ".".join(str(x) for x in err["loc"])
        parts.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - 6
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def normalize_modes(items: list[ModeItem], taxonomy: Taxonomy) -> dict[str, ModeItem]:
    """Map each item's id to a canonical mode id; every mode exactly once, or :class:`ReplyError`."""
    out: dict[str, ModeItem] = {}
    problems: list[str] = []
    for item in items:
        try:
            mode_id = taxonomy.resolve(item.id)
        except UnknownMode:
            problems.append(f"unknown mode id {item.id!r}")
            continue
        if mode_id in out:
            problems.append(f"{mode_id} appears more than once")
            continue
        out[mode_id] = item if item.id == mode_id else item.model_copy(update={"id": mode_id})
    missing = [m for m in taxonomy.ids if m not in out]
    if missing:
        problems.append(f"missing modes: {', '.join(missing)}")
    if problems:
        raise ReplyError("; ".join(dict.fromkeys(problems)))
    return {m: out[m] for m in taxonomy.ids}


def check_decisive_step(parsed: ParsedVerdict, first_step: int | None, last_step: int | None) -> None:
    """:class:`ReplyError` when the reply names a decisive step outside the steps it was shown."""
    step = parsed.decisive_step
    if step is None or first_step is None or last_step is None:
        return
    if not first_step <= step <= last_step:
        raise ReplyError(f"decisive_step {step} is not a step of the record (steps {first_step} to {last_step}); "
                         "give a step number from the [step N | ...] labels, or null")


def parse_reply(text: str, taxonomy: Taxonomy) -> ParsedVerdict:
    """A complete verdict from a reply, or :class:`ReplyError` saying exactly what is wrong."""
    if not text or not text.strip():
        raise ReplyError("the reply is empty")
    try:
        data = _extract_json(text)
    except ReplyError as json_error:
        parsed = parse_mast_text(text, taxonomy)
        if parsed is None:
            raise ReplyError(f"{json_error} and not a MAST-style yes/no answer") from None
        if parsed.problems:
            raise ReplyError(f"{json_error}; read as MAST-style text: {'; '.join(parsed.problems)}") from None
        modes = {m: ModeItem(id=m, present=v) for m, v in parsed.modes.items()}
        return ParsedVerdict(parsed.summary, parsed.task_completed, modes, "mast_text")
    if not isinstance(data, dict):
        raise ReplyError(f"expected a JSON object, got {type(data).__name__}")
    try:
        reply = VerdictReply.model_validate(_modes_as_list(data))
    except ValidationError as exc:
        raise ReplyError(_validation_message(exc)) from None
    return ParsedVerdict(reply.summary, reply.task_completed, normalize_modes(reply.modes, taxonomy), "json",
                         decisive_step=reply.decisive_step, decisive_agent=reply.decisive_agent,
                         decisive_reason=(reply.decisive_reason or "").strip())
