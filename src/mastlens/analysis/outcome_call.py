"""The judge's own call on the outcome (its ``task_completed``) against the run's real outcome.

An LLM judge answers whether the agent achieved the task; where the run's outcome is known, the share of
runs where that call is right is an accuracy with a Wilson 95% interval. Runs the judge made no call on
(``null``: the record cannot tell; the rules judge never calls) are counted apart, never as wrong.
"""

from __future__ import annotations

import numpy as np

from mastlens.analysis.proportions import ci, wilson
from mastlens.analysis.results import OutcomeCall


def outcome_call(called: np.ndarray, success: np.ndarray, *, group: str = "all",
                 weights: np.ndarray | None = None) -> OutcomeCall:
    """``called``: per run 1 (the judge says completed), 0 (not completed) or -1 (no call); ``success``: per
    run 1, 0 or -1 (unknown); ``weights``: how many runs each row stands for (default one)."""
    called, success = np.asarray(called), np.asarray(success)
    w = np.ones(len(success), dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
    known = success >= 0
    both = known & (called >= 0)
    agree = both & (called == success)
    out = OutcomeCall(group=group, n_known=int(w @ known), n_called=int(w @ both), n_agree=int(w @ agree),
                      completed_but_failed=int(w @ (both & (called == 1) & (success == 0))),
                      not_completed_but_succeeded=int(w @ (both & (called == 0) & (success == 1))))
    if out.n_called:
        low, high = wilson(np.array([out.n_agree]), np.array([out.n_called]))
        out.accuracy = out.n_agree / out.n_called
        out.accuracy_ci = ci(low[0], high[0])
    return out


def outcome_calls(called: np.ndarray | None, success: np.ndarray, groups: np.ndarray,
                  weights: np.ndarray | None = None) -> list[OutcomeCall]:
    """Overall ("all") first, then one entry per group when there is more than one; empty when the judge
    made no call on any run with a known outcome (nothing to measure)."""
    if called is None:
        return []
    w = np.ones(len(success), dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
    overall = outcome_call(called, success, weights=w)
    if not overall.n_called:
        return []
    out = [overall]
    names = sorted(set(np.asarray(groups).tolist()))
    if len(names) > 1:
        out += [outcome_call(called[groups == n], success[groups == n], group=str(n), weights=w[groups == n])
                for n in names]
    return out


def outcome_call_sentence(call: OutcomeCall) -> str:
    """The reliability card's sentence about the judge's outcome call."""
    interval = f" [{100 * call.accuracy_ci[0]:.0f}%, {100 * call.accuracy_ci[1]:.0f}%]" if call.accuracy_ci else ""
    text = (f"The judge's own call on the outcome (task completed or not) matches the run's real outcome on "
            f"{call.n_agree} of {call.n_called} runs ({100 * (call.accuracy or 0):.0f}%{interval}, Wilson 95%)")
    if call.n_known > call.n_called:
        text += f"; it made no call on {call.n_known - call.n_called} more"
    return text + (f"; called completed on {call.completed_but_failed} failed and not completed on "
                   f"{call.not_completed_but_succeeded} successful runs.")
