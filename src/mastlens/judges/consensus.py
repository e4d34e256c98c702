"""Self-consistency: merge K verdicts of one trace by per-mode majority and record the flip rate."""

from __future__ import annotations

from collections import Counter

from mastlens.trace import Evidence, ModeStatus, ModeVerdict, Verdict


def _majority(statuses: list[ModeStatus]) -> ModeStatus:
    """The most common status. A tie between present and absent counts as present: at least half
    of the samples saw the failure, and the flip rate shows how unsure that is."""
    counts = Counter(statuses)
    top = max(counts.values())
    winners = {s for s, n in counts.items() if n == top}
    for preferred in (ModeStatus.PRESENT, ModeStatus.ABSENT, ModeStatus.NOT_ASSESSED):
        if preferred in winners:
            return preferred
    raise AssertionError("unreachable")


def merge_samples(verdicts: list[Verdict]) -> Verdict:
    """One verdict from several samples of the same trace.

    Per mode: the majority status; confidence = mean confidence of the samples that agree;
    evidence = union from agreeing samples; ``flip_rate`` = share of samples that disagree.
    """
    if len(verdicts) == 1:
        return verdicts[0]
    mode_ids: list[str] = []
    for v in verdicts:
        mode_ids.extend(m for m in v.modes if m not in mode_ids)
    modes: dict[str, ModeVerdict] = {}
    for mode_id in mode_ids:
        found = [v.modes[mode_id] for v in verdicts if mode_id in v.modes]
        status = _majority([m.status for m in found])
        agreeing = [m for m in found if m.status is status]
        confs = [m.confidence for m in agreeing if m.confidence is not None]
        evidence: list[Evidence] = []
        seen: set[tuple[int, str]] = set()
        for m in agreeing:
            for e in m.evidence:
                if (e.step, e.quote) not in seen:
                    seen.add((e.step, e.quote))
                    evidence.append(e)
        modes[mode_id] = ModeVerdict(
            id=mode_id, status=status, confidence=sum(confs) / len(confs) if confs else None,
            evidence=evidence, reason=agreeing[0].reason,
            flip_rate=1 - len(agreeing) / len(verdicts),
        )
    completed = [v.task_completed for v in verdicts if v.task_completed is not None]
    task_completed = Counter(completed).most_common(1)[0][0] if completed else None
    metadata = dict(verdicts[0].metadata)
    metadata["samples"] = len(verdicts)
    # the most common decisive step among the samples that name one (ties: the earliest), with its agent
    steps = Counter(v.decisive_step for v in verdicts if v.decisive_step is not None)
    step = min(steps, key=lambda s: (-steps[s], s)) if steps else None
    source = next((v for v in verdicts if v.decisive_step == step and (step is not None or v.decisive_agent)), None)
    return Verdict(
        summary=verdicts[0].summary, task_completed=task_completed, modes=modes,
        segmented=any(v.segmented for v in verdicts), metadata=metadata, decisive_step=step,
        decisive_agent=source.decisive_agent if source else None,
        decisive_reason=source.decisive_reason if source else "",
    )
