"""The offline rules judge: deterministic detectors, no calls, no cost."""

from __future__ import annotations

import time
from collections.abc import Callable

from mastlens.judges.base import Judge, JudgeInfo, JudgeResult
from mastlens.judges.rules.config import DEFAULT_CONFIG, RULES_VERSION, RulesConfig
from mastlens.judges.rules.decisive import decisive
from mastlens.judges.rules.evidence import not_assessed
from mastlens.judges.rules.gate import detect_unconfirmed_action
from mastlens.judges.rules.precision import measured_precision, precision_table
from mastlens.judges.rules.premature import detect_premature_termination
from mastlens.judges.rules.repetition import detect_step_repetition
from mastlens.judges.rules.reset import detect_conversation_reset
from mastlens.judges.rules.role import detect_role_violation
from mastlens.judges.rules.termination import detect_unaware_of_termination
from mastlens.judges.rules.tool_errors import detect_ignored_tool_errors, detect_success_despite_errors
from mastlens.judges.rules.verification import detect_no_verification
from mastlens.judges.rules.view import TraceView
from mastlens.taxonomy import Taxonomy, load_taxonomy
from mastlens.trace import ModeStatus, ModeVerdict, Trace, Verdict

Detector = Callable[[TraceView, RulesConfig], ModeVerdict]

# One detector per mode; every mode not listed here is not_assessed.
DETECTORS: dict[str, Detector] = {
    "FM-1.1": detect_unconfirmed_action,
    "FM-1.2": detect_role_violation,
    "FM-1.3": detect_step_repetition,
    "FM-1.5": detect_unaware_of_termination,
    "FM-2.1": detect_conversation_reset,
    "FM-2.5": detect_ignored_tool_errors,
    "FM-3.1": detect_premature_termination,
    "FM-3.2": detect_no_verification,
    "FM-3.3": detect_success_despite_errors,
}
NO_DETECTOR = "no offline rule for this mode; it needs reading the run (use an LLM judge)"
NO_CONTENT = "the trace was recorded without content (trace.metadata content_captured is false)"
# A trace marked incomplete_run (a model call that asked for a tool, cut from its run) is no finished run.
_ENDING_MODES = {"FM-1.5", "FM-3.1"}
INCOMPLETE = "the trace is part of a run (trace.metadata incomplete_run): how the run ended is not in it"


def judge_trace(trace: Trace, config: RulesConfig = DEFAULT_CONFIG, taxonomy: Taxonomy | None = None) -> Verdict:
    """The rules verdict for one trace: every taxonomy mode, detected or not_assessed."""
    taxonomy = taxonomy or load_taxonomy()
    view = TraceView.build(trace, config)
    modes: dict[str, ModeVerdict] = {}
    no_content = trace.metadata.get("content_captured") is False
    incomplete = trace.metadata.get("incomplete_run") is True
    for mode_id in taxonomy.ids:
        detector = DETECTORS.get(mode_id)
        if detector and no_content:
            modes[mode_id] = not_assessed(mode_id, NO_CONTENT)
        elif detector and incomplete and mode_id in _ENDING_MODES:
            modes[mode_id] = not_assessed(mode_id, INCOMPLETE)
        else:
            modes[mode_id] = _run(detector, mode_id, view, config) if detector else not_assessed(mode_id, NO_DETECTOR)
    found = [m for m, v in modes.items() if v.status is ModeStatus.PRESENT]
    for mode_id in found:  # a finding's confidence is how often its detector was right on validation runs
        modes[mode_id] = modes[mode_id].model_copy(update={"confidence": measured_precision(mode_id)})
    summary = (f"rules found {', '.join(found)}" if found else "rules found no failure pattern") + \
        f"; {sum(v.status is ModeStatus.NOT_ASSESSED for v in modes.values())} of {len(modes)} modes not assessed"
    step, reason = decisive(view, modes)
    agent = step.agent if step is not None else None
    return Verdict(summary=summary, task_completed=None, modes=modes,
                   metadata={"judge": "rules", "rules_version": RULES_VERSION,
                             "confidence": "present: the detector's precision on validation runs (rules/precision.json)"},
                   decisive_step=step.index if step is not None else None, decisive_agent=agent,
                   decisive_reason=reason)


def _run(detector: Detector, mode_id: str, view: TraceView, config: RulesConfig) -> ModeVerdict:
    """A detector's verdict; a detector that trips over an odd trace leaves its mode not_assessed
    (never absent), saying why, and the other modes are still judged."""
    try:
        return detector(view, config)
    except Exception as exc:  # noqa: BLE001 - one odd trace must not fail the whole verdict
        return not_assessed(mode_id, f"detector error: {type(exc).__name__}: {exc}")


class RulesJudge(Judge):
    """Deterministic MAST detectors over the trace structure (see :data:`DETECTORS`)."""

    name = "rules"

    def __init__(self, config: RulesConfig | None = None, taxonomy: Taxonomy | None = None):
        self.config = config or DEFAULT_CONFIG
        self.taxonomy = taxonomy or load_taxonomy()

    def info(self) -> JudgeInfo:
        return JudgeInfo(judge=self.name, prompt_hash=self.config.fingerprint(),
                         taxonomy_version=self.taxonomy.version,
                         params={"rules_version": RULES_VERSION, "detectors": sorted(DETECTORS),
                                 "precision": precision_table().get("rules_version"),
                                 **self.config.model_dump()})

    def judge(self, trace: Trace) -> Verdict:
        return judge_trace(trace, self.config, self.taxonomy)

    async def annotate(self, trace: Trace) -> JudgeResult:
        start = time.perf_counter()
        verdict = self.judge(trace)
        return JudgeResult(verdict=verdict, latency_s=time.perf_counter() - start, attempts=1, calls=0)
