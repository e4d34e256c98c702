"""Leave-one-source-out: how a source's figure moves when the rules' tunable thresholds are chosen without it.

The rules judge's thresholds (:class:`mastlens.judges.rules.RulesConfig`) are constants set by hand, not fitted
by a procedure; but they were set looking at dev-set runs, so a source's figure may owe something to them.
This module makes the choice a procedure and measures it: for each source S, every tunable threshold is set,
one at a time over a small grid (the others at their defaults), to the value that maximizes the mean headline
figure (:func:`_fidelity_figures.headline`) of the *other* sources on their *build* half; S is then judged with
the chosen thresholds and its *validation* figure is set beside its figure with the defaults. A source whose
figure falls when its own runs had no say in the thresholds owes it to them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from _fidelity_figures import headline, source_figures
from _fidelity_sources import Origin
from mastlens.judges.rules import DEFAULT_CONFIG, RulesConfig, RulesJudge
from mastlens.judges.runner import annotate_traces
from mastlens.store import Store

# The thresholds a user may tune and the values tried (the default is always among them).
GRID: dict[str, tuple] = {
    "repeat_min_calls": (2, 3, 4),
    "repeat_min_messages": (2, 3, 4),
    "repeat_min_failures": (2, 3),
    "repeat_min_cycles": (2, 3, 4),
    "loop_min_cycles": (2, 3, 4),
    "continue_after_final_min_calls": (1, 2, 3),
    "no_check_min_user_turns": (1, 3, 5),
    "nudge_min_repeats": (2, 3, 4),
    "reset_min_similarity": (0.6, 0.8, 0.9),
}
ROUNDS = 200  # bootstrap rounds of the CIs computed on the way (only the point figures are used)


class Judged:
    """Annotation sets of the rules judge under several configurations, written once each into one store."""

    def __init__(self, store: Store, known: dict[str, Origin]):
        self.store, self.known = store, known
        self._sets: dict[str, str] = {}
        self._figures: dict[tuple[str, str], dict[str, float | None]] = {}

    def set_for(self, config: RulesConfig) -> str:
        key = config.fingerprint()
        if key not in self._sets:
            name = f"loso-{key}"
            annotate_traces(self.store, RulesJudge(config), set_name=name, trace_ids=sorted(self.known), concurrency=1,
                            replace=True)
            self._sets[key] = name
        return self._sets[key]

    def headlines(self, config: RulesConfig, split: str) -> dict[str, float | None]:
        """source group -> headline figure on ``split`` under ``config``."""
        key = (config.fingerprint(), split)
        if key not in self._figures:
            figures = source_figures(self.store, self.set_for(config), split, rounds=ROUNDS, known=self.known)
            self._figures[key] = {group: headline(f) for group, f in figures.items()}
        return self._figures[key]


def _mean(values: list[float | None]) -> float:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else float("-inf")


def chosen_without(judged: Judged, left_out: str, groups: list[str]) -> tuple[RulesConfig, dict[str, object]]:
    """The thresholds chosen on the build half of every group but ``left_out``, and the fields that moved."""
    others = [g for g in groups if g != left_out]
    chosen: dict[str, object] = {}
    for field, values in GRID.items():
        scores = {}
        for value in values:
            config = DEFAULT_CONFIG.model_copy(update={field: value})
            figures = judged.headlines(config, "build")
            scores[value] = _mean([figures.get(g) for g in others])
        default = getattr(DEFAULT_CONFIG, field)
        best = max(scores, key=lambda v: (scores[v], v == default))  # ties keep the default
        if best != default:
            chosen[field] = best
    return DEFAULT_CONFIG.model_copy(update=chosen), chosen


def leave_one_source_out(store: Store, known: dict[str, Origin], groups: list[str],
                         progress: Callable[[str], None] | None = None) -> list[dict]:
    """Per group: its validation headline with the default thresholds and with thresholds chosen without it."""
    judged = Judged(store, known)
    default = judged.headlines(DEFAULT_CONFIG, "validate")
    rows = []
    for group in groups:
        if progress:
            progress(group)
        config, moved = chosen_without(judged, group, groups)
        rows.append({"group": group, "default": default.get(group),
                     "without": judged.headlines(config, "validate").get(group), "moved": moved})
    return rows
