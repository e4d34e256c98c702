"""Localization: how well a judge names where a failed run went wrong, against a reference that names it.

The truth is reference set A's ``decisive_step`` / ``decisive_agent`` (e.g. ``whowhen-attribution``, the
Who&When human labels) and, per mode, A's first step where A marks the mode present. A judge's answer is its
``decisive_step`` / ``decisive_agent``, falling back to the onset of its earliest present mode (and that
step's agent) when it names none. Step accuracy counts exact hits and hits within +-1 and +-3 steps; a judge
naming no step misses. Shares get percentile bootstrap 95% CIs over traces with a fixed seed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from mastlens.analysis.bootstrap import BOOTSTRAP_ROUNDS, SEED, bootstrap_sums
from mastlens.analysis.results import Localization, ModeLocalization
from mastlens.store import Store
from mastlens.trace import ModeStatus, StepKind, Trace, Verdict

WINDOWS = (0, 1, 3)
_NOTE = re.compile(r"\s*\([^)]*\)\s*$")


@dataclass(frozen=True)
class Attribution:
    """Where one verdict (or label, or baseline) says a run went wrong."""

    step: int | None = None
    agent: str | None = None
    onsets: dict[str, int] = field(default_factory=dict)  # present mode -> its first step


@dataclass(frozen=True)
class AttributionPair:
    trace_id: str
    reference: Attribution
    predicted: Attribution
    group: str = "all"


def agent_key(agent: str | None) -> str | None:
    """An agent name compared loosely: case, spaces and a trailing ``(note)`` (``Orchestrator (thought)``) ignored."""
    if agent is None:
        return None
    key = _NOTE.sub("", str(agent)).strip().lower()
    return key or None


def step_hits(reference: Sequence[int], predicted: Sequence[int | None], k: int) -> np.ndarray:
    """Per pair: whether the predicted step is within ``k`` steps of the reference (None never hits)."""
    return np.array([p is not None and abs(p - r) <= k for r, p in zip(reference, predicted)], dtype=bool)


def _step_agent(trace: Trace | None, step: int | None) -> str | None:
    if trace is None or step is None or not 0 <= step < len(trace.steps):
        return None
    return trace.steps[step].agent


def attribution_of(verdict: Verdict, trace: Trace | None = None) -> Attribution:
    """A verdict's attribution: its decisive step and agent, else its earliest present mode's onset and
    the agent of that step in ``trace``."""
    onsets = {m: v.first_step for m, v in verdict.modes.items()
              if v.status is ModeStatus.PRESENT and v.first_step is not None}
    step = verdict.localized_step()
    agent = verdict.decisive_agent or _step_agent(trace, step)
    return Attribution(step=step, agent=agent, onsets=onsets)


def naive_attribution(trace: Trace) -> Attribution:
    """The naive baseline: the run went wrong at its first agent message (an assistant step)."""
    first = next((s for s in trace.steps if s.kind is StepKind.ASSISTANT), None)
    return Attribution(step=None if first is None else first.index, agent=None if first is None else first.agent)


def labels_failed(verdict: Verdict) -> bool:
    """Whether a reference verdict says the run failed: it names a decisive step or agent, marks a mode
    present, or says the task was not completed."""
    return (verdict.decisive_step is not None or bool(verdict.decisive_agent) or bool(verdict.present())
            or verdict.task_completed is False)


def carries_steps(verdicts: Iterable[Verdict]) -> bool:
    """Whether a reference set localizes anything (a decisive step or agent, or a present mode's onset)."""
    return any(v.decisive_step is not None or v.decisive_agent or v.earliest_onset() is not None for v in verdicts)


def _share(hits: np.ndarray, rounds: int, seed: int) -> tuple[float | None, tuple[float, float] | None]:
    n = len(hits)
    if n == 0:
        return None, None
    sums = bootstrap_sums(hits.reshape(-1, 1).astype(float), rounds, seed)[:, 0] / n
    return float(hits.mean()), (float(np.percentile(sums, 2.5)), float(np.percentile(sums, 97.5)))


def localization(pairs: Sequence[AttributionPair], *, group: str = "all", rounds: int = BOOTSTRAP_ROUNDS,
                 seed: int = SEED) -> Localization:
    """Localization figures over ``pairs`` (each a failed run's reference and predicted attribution)."""
    out = Localization(group=group, n=len(pairs))
    if not pairs:
        return out
    stepped = [p for p in pairs if p.reference.step is not None]
    out.n_step = len(stepped)
    reference = [p.reference.step for p in stepped]
    predicted = [p.predicted.step for p in stepped]
    for k, name in zip(WINDOWS, ("step_exact", "step_within_1", "step_within_3")):
        value, interval = _share(step_hits(reference, predicted, k), rounds, seed)
        setattr(out, name, value)
        setattr(out, f"{name}_ci", interval)
    named = [p for p in pairs if agent_key(p.reference.agent) is not None]
    out.n_agent = len(named)
    out.agent, out.agent_ci = _share(
        np.array([agent_key(p.predicted.agent) == agent_key(p.reference.agent) for p in named], dtype=bool),
        rounds, seed)
    out.no_step = sum(p.predicted.step is None for p in pairs) / len(pairs)
    modes = sorted({m for p in pairs for m in p.reference.onsets if m in p.predicted.onsets})
    for mode_id in modes:
        both = [p for p in pairs if mode_id in p.reference.onsets and mode_id in p.predicted.onsets]
        ref = [p.reference.onsets[mode_id] for p in both]
        pred = [p.predicted.onsets[mode_id] for p in both]
        out.modes.append(ModeLocalization(id=mode_id, n=len(both), **{
            name: float(step_hits(ref, pred, k).mean()) for k, name in zip(WINDOWS, ("exact", "within_1", "within_3"))
        }))
    return out


def localization_by_group(pairs: Sequence[AttributionPair], *, rounds: int = BOOTSTRAP_ROUNDS,
                          seed: int = SEED) -> list[Localization]:
    """Overall ("all") first, then one entry per group when there is more than one."""
    groups = sorted({p.group for p in pairs})
    out = [localization(pairs, rounds=rounds, seed=seed)]
    if len(groups) > 1:
        out += [localization([p for p in pairs if p.group == g], group=g, rounds=rounds, seed=seed) for g in groups]
    return out


def _group_of(trace: Trace | None, group_by: str | None) -> str:
    if trace is None or not group_by:
        return "all"
    value = getattr(trace, group_by, None) if group_by in ("model", "system", "task") else trace.metadata.get(group_by)
    return "unknown" if value in (None, "") else str(value)


def localization_pairs(store: Store, set_a: str, set_b: str | None, *, group_by: str | None = None,
                       baseline: bool = False) -> list[AttributionPair]:
    """Pairs over the traces reference ``set_a`` labels failed and ``set_b`` annotated ok (with
    ``baseline``, the naive first-agent-message attribution instead of ``set_b``'s)."""
    reference = {a.trace_id: a.verdict for a in store.get_annotations(set_a) if a.verdict is not None}
    judged = {} if set_b is None else {a.trace_id: a.verdict for a in store.get_annotations(set_b)
                                       if a.verdict is not None}
    pairs = []
    for trace_id, ref in sorted(reference.items()):
        if not labels_failed(ref) or (not baseline and trace_id not in judged):
            continue
        trace = store.get_trace(trace_id)
        if baseline and trace is None:
            continue
        predicted = naive_attribution(trace) if baseline else attribution_of(judged[trace_id], trace)
        pairs.append(AttributionPair(trace_id, attribution_of(ref, trace), predicted, _group_of(trace, group_by)))
    return pairs


def compute_localization(store: Store, set_a: str, set_b: str, *, group_by: str | None = None,
                         rounds: int = BOOTSTRAP_ROUNDS, seed: int = SEED) -> list[Localization] | None:
    """Localization of ``set_b`` against ``set_a`` (overall, then per group), or None when ``set_a``
    localizes nothing."""
    if not carries_steps(a.verdict for a in store.get_annotations(set_a) if a.verdict is not None):
        return None
    return localization_by_group(localization_pairs(store, set_a, set_b, group_by=group_by), rounds=rounds, seed=seed)
