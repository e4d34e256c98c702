"""Turn per-window replies into one verdict: merge windows, verify evidence, map present -> status."""

from __future__ import annotations

from mastlens.judges.llm.parse import ParsedVerdict
from mastlens.judges.llm.render import Window
from mastlens.judges.llm.verify import verify_evidence
from mastlens.trace import ModeStatus, ModeVerdict, Trace, Verdict


def merge_windows(trace: Trace, windows: list[Window], parsed: list[ParsedVerdict]) -> Verdict:
    """One verdict for the trace.

    A mode is present if any window finds it (evidence union, highest confidence among the windows that
    found it); absent only if every window says absent (then the lowest confidence, the least sure
    window). ``task_completed`` comes from the last window, which saw how the run ended.
    """
    mode_ids = list(parsed[0].modes)
    modes: dict[str, ModeVerdict] = {}
    unverified = 0
    for mode_id in mode_ids:
        items = [p.modes[mode_id] for p in parsed]
        present = [i for i in items if i.present]
        chosen = present or items
        confs = [i.confidence for i in chosen if i.confidence is not None]
        confidence = (max(confs) if present else min(confs)) if confs else None
        pairs: list[tuple[int, str]] = []
        for item in chosen:
            for e in item.evidence:
                if (e.step, e.quote) not in pairs:
                    pairs.append((e.step, e.quote))
        evidence = verify_evidence(trace, pairs)
        unverified += sum(1 for e in evidence if not e.verified)
        reasons = [i.reason for i in chosen if i.reason]
        reason = " | ".join(dict.fromkeys(reasons)) if present else (reasons[0] if reasons else "")
        modes[mode_id] = ModeVerdict(
            id=mode_id, status=ModeStatus.PRESENT if present else ModeStatus.ABSENT,
            confidence=confidence, evidence=evidence, reason=reason,
        )
    segmented = len(windows) > 1
    summary = parsed[-1].summary if not segmented else " ".join(
        f"[steps {w.first_step}-{w.last_step}] {p.summary}".strip() for w, p in zip(windows, parsed) if p.summary
    )
    truncated = sorted({s for w in windows for s in w.truncated_steps})
    metadata: dict[str, object] = {"windows": len(windows), "unverified_evidence": unverified}
    if segmented:
        metadata["window_steps"] = [[w.first_step, w.last_step] for w in windows]
    if truncated:
        metadata["truncated_steps"] = truncated
    # the decisive mistake is the earliest one any window names (a later window only sees its consequences)
    named = [p for p in parsed if p.decisive_step is not None or p.decisive_agent]
    decisive = min(named, key=lambda p: (p.decisive_step is None, p.decisive_step or 0), default=None)
    return Verdict(summary=summary, task_completed=parsed[-1].task_completed, modes=modes,
                   segmented=segmented, metadata=metadata,
                   decisive_step=decisive.decisive_step if decisive else None,
                   decisive_agent=decisive.decisive_agent if decisive else None,
                   decisive_reason=decisive.decisive_reason if decisive else "")
