"""The verdict model: what a judge says about one trace, mode by mode."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field


class ModeStatus(str, Enum):
    PRESENT = "present"
    ABSENT = "absent"
    NOT_ASSESSED = "not_assessed"


class Evidence(BaseModel):
    step: int
    quote: str
    verified: bool = False


class ModeVerdict(BaseModel):
    """A judge's finding for one mode. Only judges that do not look at a mode say not_assessed."""

    id: str
    status: ModeStatus
    confidence: float | None = Field(default=None, ge=0, le=1)
    evidence: list[Evidence] = Field(default_factory=list)
    reason: str = ""
    flip_rate: float | None = None

    @property
    def has_verified_evidence(self) -> bool:
        return any(e.verified for e in self.evidence)

    @property
    def first_step(self) -> int | None:
        """The earliest evidence step (the mode's onset), if localized."""
        return min((e.step for e in self.evidence), default=None)


class Verdict(BaseModel):
    """All modes for one trace, keyed by mode id."""

    summary: str = ""
    task_completed: bool | None = None
    modes: dict[str, ModeVerdict] = Field(default_factory=dict)
    segmented: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)
    # Where the run went wrong (the Who&When task): the step index and agent of the decisive mistake.
    decisive_step: int | None = None
    decisive_agent: str | None = None
    decisive_reason: str = ""

    def present(self) -> list[str]:
        return [m for m, v in self.modes.items() if v.status is ModeStatus.PRESENT]


class AnnotationStatus(str, Enum):
    OK = "ok"
    ERROR = "error"


class Annotation(BaseModel):
    """One trace's entry in an annotation set: a verdict, or a recorded error, plus its cost."""

    trace_id: str
    set: str
    status: AnnotationStatus
    verdict: Verdict | None = None
    error: str | None = None
    raw_reply: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    attempts: int = 0
    stale: bool = False
    trace_hash: str | None = None


def label_annotation(
    trace_id: str, set_name: str, flags: Mapping[str, bool | None], mode_ids: Iterable[str], *,
    metadata: dict[str, Any] | None = None, trace_hash: str | None = None,
) -> Annotation:
    """A reference-label annotation: every mode of ``mode_ids`` present (True), absent (False) or,
    when ``flags`` has no value for it (missing or None), not assessed."""
    modes = {}
    for mode_id in mode_ids:
        flag = flags.get(mode_id)
        status = ModeStatus.NOT_ASSESSED if flag is None else ModeStatus.PRESENT if flag else ModeStatus.ABSENT
        modes[mode_id] = ModeVerdict(id=mode_id, status=status)
    return Annotation(trace_id=trace_id, set=set_name, status=AnnotationStatus.OK, trace_hash=trace_hash,
                      verdict=Verdict(modes=modes, metadata=dict(metadata or {})))
