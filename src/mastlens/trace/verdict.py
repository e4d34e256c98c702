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
    # The mode's onset as a label names it (``FM-x.y_step`` columns), for verdicts that have no evidence quotes.
    onset_step: int | None = None

    @property
    def has_verified_evidence(self) -> bool:
        return any(e.verified for e in self.evidence)

    @property
    def first_step(self) -> int | None:
        """The mode's onset: the earliest evidence step (or the labelled onset), if localized."""
        steps = [e.step for e in self.evidence] + ([self.onset_step] if self.onset_step is not None else [])
        return min(steps, default=None)


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

    def earliest_onset(self) -> tuple[int, str] | None:
        """(step, mode id) of the earliest localized present mode; ties go to the taxonomy order."""
        onsets = [(v.first_step, m) for m, v in self.modes.items()
                  if v.status is ModeStatus.PRESENT and v.first_step is not None]
        return min(onsets, key=lambda pair: pair[0]) if onsets else None

    def localized_step(self) -> int | None:
        """The decisive step, else the earliest present mode's onset (how judges that name no step localize)."""
        if self.decisive_step is not None:
            return self.decisive_step
        onset = self.earliest_onset()
        return onset[0] if onset else None


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
    memo_key: str | None = None  # where a judge can find this verdict again for the same content and settings


def label_annotation(
    trace_id: str, set_name: str, flags: Mapping[str, bool | None], mode_ids: Iterable[str], *,
    metadata: dict[str, Any] | None = None, trace_hash: str | None = None,
    onsets: Mapping[str, int] | None = None, decisive_step: int | None = None,
    decisive_agent: str | None = None, decisive_reason: str = "", task_completed: bool | None = None,
) -> Annotation:
    """A reference-label annotation: every mode of ``mode_ids`` present (True), absent (False) or,
    when ``flags`` has no value for it (missing or None), not assessed; ``onsets`` gives present modes'
    first steps, and the decisive step and agent say where the run went wrong."""
    modes = {}
    onsets = onsets or {}
    for mode_id in mode_ids:
        flag = flags.get(mode_id)
        status = ModeStatus.NOT_ASSESSED if flag is None else ModeStatus.PRESENT if flag else ModeStatus.ABSENT
        onset = onsets.get(mode_id) if status is ModeStatus.PRESENT else None
        modes[mode_id] = ModeVerdict(id=mode_id, status=status, onset_step=onset)
    verdict = Verdict(modes=modes, metadata=dict(metadata or {}), decisive_step=decisive_step,
                      decisive_agent=decisive_agent, decisive_reason=decisive_reason, task_completed=task_completed)
    return Annotation(trace_id=trace_id, set=set_name, status=AnnotationStatus.OK, trace_hash=trace_hash,
                      verdict=verdict)
