"""The rules judge fed step by step: one :class:`LiveRun` per run in progress.

The batch detectors of :mod:`mastlens.judges.rules` are not rewritten here. They are run, unchanged, on
two views of the growing trace:

* after each batch of new steps, the *ongoing* modes (patterns that stay true once they show: a loop of
  identical calls, a re-issued opening request, a tool error passed over, a forbidden change) are judged on
  a bounded window: the run's opening steps (the task as given) plus its last ``window`` steps. Each step costs O(window), whatever the
  length of the run, and a pattern that fits in the window is seen the step it completes;
* when a turn or the run ends (a turn-end record, a Stop hook, the run going quiet, the watch closing), every
  mode is judged on the whole trace. At the run's end that trace is the finished file as the adapter reads
  it, so the final verdict *is* the batch judge's verdict, by construction.

An alert is raised once per run and mode when its verdict turns present, and again only after a
whole-trace judgement has cleared it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from mastlens.judges.rules import DEFAULT_CONFIG, DETECTORS, RulesConfig, judge_trace
from mastlens.judges.rules.judge import _run as run_detector
from mastlens.judges.rules.view import TraceView
from mastlens.trace import ModeStatus, ModeVerdict, Outcome, Source, Step, StepKind, Trace, Verdict

# Modes whose pattern, once complete, stays present however the run goes on: safe to judge on a window.
ONGOING_MODES = tuple(m for m in ("FM-1.2", "FM-1.3", "FM-2.1", "FM-2.5") if m in DETECTORS)
# Modes that depend on how the run (or turn) ends, and any detector added later unless listed above: judged
# on the whole trace at a turn or run end.
ENDING_MODES = tuple(m for m in DETECTORS if m not in ONGOING_MODES)
DEFAULT_WINDOW = 48
OPENING_STEPS = 16


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Alert:
    """One mode turning present in one run."""

    run: str
    source: str
    mode: str
    step: int | None
    evidence: list[dict[str, Any]]
    reason: str
    action: str = "alert"
    time: str = field(default_factory=now_iso)
    kind: str = "detector"  # "detector" (a rules mode) or "budget" (a --budget-* limit)

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time, "run": self.run, "source": self.source, "mode": self.mode, "step": self.step,
                "evidence": self.evidence, "reason": self.reason, "action": self.action, "kind": self.kind}


def alert_from(run: str, source: str, verdict: ModeVerdict, *, limit: int = 3) -> Alert:
    evidence = [{"step": e.step, "quote": e.quote} for e in verdict.evidence[:limit]]
    step = max((e.step for e in verdict.evidence), default=None)
    return Alert(run=run, source=source, mode=verdict.id, step=step, evidence=evidence, reason=verdict.reason)


@dataclass
class Budget:
    """Limits a watch puts on every run: steps and seconds of the run's own clock (or of the watch's)."""

    steps: int | None = None
    seconds: float | None = None


class LiveRun:
    """The live rules verdict of one run, updated as its steps arrive.

    ``alerted`` maps mode -> the step its alert named; it is what a restarted watch restores so that it
    raises no alert twice.
    """

    def __init__(self, run_id: str, source: str, *, config: RulesConfig = DEFAULT_CONFIG,
                 window: int = DEFAULT_WINDOW, budget: Budget | None = None,
                 alerted: dict[str, int | None] | None = None):
        self.run_id = run_id
        self.source = source
        self.config = config
        self.window = max(window, 2 * config.repeat_min_calls + 2)
        self.budget = budget or Budget()
        self.steps: list[Step] = []
        self.opening: list[Step] = []  # the run's first steps: the task as given, the team's opening turns
        self.alerted: dict[str, int | None] = dict(alerted or {})
        self.started = time.monotonic()
        self.last_step_at = self.started
        self.final: Verdict | None = None
        self.finished = False  # judged whole at its end (set by the watch)
        self._keys: dict[int, str] = {}  # step index -> call_key, computed once per call
        self._failed: dict[tuple[int, int], bool] = {}  # (call, result) -> result_failed, once per pair
        self.last_tool: str | None = None

    # -- feeding -------------------------------------------------------------------------------------
    def add(self, steps: Iterable[Step], *, quiet: bool = False) -> list[Alert]:
        """Take new steps (in order) and return the alerts they raise. The steps that arrived together are
        judged together, on a window holding all of them: a step read on its own is judged the moment it
        lands, and a watch that fell behind catches up in bigger, cheaper batches. An alert names the last
        step of its evidence. ``quiet`` rebuilds state (a restarted watch replaying what it had already
        seen) without judging."""
        new = 0
        for step in steps:
            self._append(step)
            new += 1
        if not new:
            return []
        self.last_step_at = time.monotonic()
        if quiet:
            return []
        alerts = self._budget_alerts()
        window = self.live_view(extra=new - 1)
        for mode in ONGOING_MODES:
            if mode in self.alerted:
                continue
            verdict = run_detector(DETECTORS[mode], mode, window, self.config)
            if verdict.status is ModeStatus.PRESENT:
                alerts += self._raise([alert_from(self.run_id, self.source, verdict)], False)
        return sorted(alerts, key=lambda a: -1 if a.step is None else a.step)

    def _append(self, step: Step) -> None:
        self.steps.append(step)
        if len(self.opening) < OPENING_STEPS:
            self.opening.append(step)
        if step.kind is StepKind.TOOL_CALL:
            self.last_tool = step.tool

    def live_view(self, extra: int = 0) -> TraceView:
        """The detectors' view of the run's opening steps plus its last ``window`` (and ``extra``) steps,
        original indices kept."""
        tail = self.steps[-(self.window + extra):]
        first_tail = tail[0].index if tail else 0
        head = [s for s in self.opening if s.index < first_tail]
        trace = Trace.model_construct(id=self.run_id, source=Source(format="live"), steps=head + tail,
                                      outcome=Outcome(), metadata={}, system=None, model=None, task=None)
        return self._build(trace)

    def _build(self, trace: Trace) -> TraceView:
        """:meth:`TraceView.build` on ``trace``, with each call's key and each call/result pair's failure
        computed once for the run rather than once per window (a test holds the two equal)."""
        return TraceView.build(trace, self.config, keys=self._keys, failures=self._failed)

    def _budget_alerts(self) -> list[Alert]:
        out: list[Alert] = []
        last = self.steps[-1].index if self.steps else None
        if self.budget.steps is not None and len(self.steps) >= self.budget.steps and "budget:steps" not in self.alerted:
            last = self.steps[self.budget.steps - 1].index  # the step that reached it, in a batch too
            out.append(Alert(self.run_id, self.source, "FM-1.5", last, [],
                             f"step budget reached: {self.budget.steps} steps (--budget-steps {self.budget.steps})",
                             kind="budget"))
            self.alerted["budget:steps"] = last
            last = self.steps[-1].index
        if self.budget.seconds is not None and "budget:seconds" not in self.alerted:
            elapsed = self.elapsed()
            if elapsed >= self.budget.seconds:
                out.append(Alert(self.run_id, self.source, "FM-1.5", last, [],
                                 f"time budget reached: {elapsed:.1f} s (--budget-seconds {self.budget.seconds:g})",
                                 kind="budget"))
                self.alerted["budget:seconds"] = last
        return out

    def elapsed(self) -> float:
        """Seconds since the run started: from its own timestamps when it has them, else the watch's clock."""
        stamps = [s.timestamp for s in (self.steps[0], self.steps[-1])] if self.steps else []
        if len(stamps) == 2 and all(stamps):
            try:
                first, last = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in stamps)
                return max((last - first).total_seconds(), 0.0)
            except ValueError:
                pass
        return time.monotonic() - self.started

    def check_time(self) -> list[Alert]:
        """Budget alerts due to the clock alone (a run that went quiet past its time budget)."""
        return self._raise(self._budget_alerts(), False) if self.steps else []

    # -- judging whole -------------------------------------------------------------------------------
    def judge_whole(self, trace: Trace | None = None, *, final: bool = False, quiet: bool = False) -> list[Alert]:
        """Judge every mode on the whole trace (``trace``: the finished file as the adapter reads it; by
        default the steps seen so far). Present modes not yet alerted raise their alert; alerted detector
        modes the whole trace does not bear out are cleared, so they may fire again."""
        if trace is None:
            trace = Trace.model_construct(id=self.run_id, source=Source(format="live"), steps=list(self.steps),
                                          outcome=Outcome(), metadata={}, system=None, model=None, task=None)
        verdict = judge_trace(trace, self.config)
        if final:
            self.final = verdict
        alerts = []
        for mode, mv in verdict.modes.items():
            if mv.status is ModeStatus.PRESENT and mode not in self.alerted:
                alerts.append(alert_from(self.run_id, self.source, mv))
            elif mv.status is not ModeStatus.PRESENT and mode in self.alerted and (final or mode in ENDING_MODES):
                del self.alerted[mode]
        return self._raise(alerts, quiet)

    def _raise(self, alerts: list[Alert], quiet: bool) -> list[Alert]:
        for alert in alerts:
            if alert.kind == "detector":
                self.alerted[alert.mode] = alert.step
        return [] if quiet else alerts
