"""The intervention playbook (packaged ``playbook.toml``) and its ranking per group.

Score of an intervention in a group = sum over its modes of frequency x fatality, where frequency is the
mode's prevalence in the group's failed traces and fatality weighs the mode's verdict there
(``VERDICT_WEIGHTS``: fatal modes count fully, benign ones barely).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from mastlens.analysis.results import GroupStats, Recommendation

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

VERDICT_WEIGHTS = {"fatal": 1.0, "neutral": 0.5, "insufficient": 0.5, "benign": 0.1}
MAX_EXAMPLES = 3


@dataclass(frozen=True)
class Intervention:
    id: str
    title: str
    modes: tuple[str, ...]
    fix: str
    min_modes_per_failed_trace: float | None = None


@lru_cache(maxsize=1)
def load_playbook() -> tuple[Intervention, ...]:
    """The packaged interventions, in the file's order."""
    text = resources.files("mastlens.analysis").joinpath("playbook.toml").read_text("utf-8")
    data = tomllib.loads(text)
    return tuple(Intervention(id=e["id"], title=e["title"], modes=tuple(e["modes"]), fix=e["fix"],
                              min_modes_per_failed_trace=e.get("min_modes_per_failed_trace"))
                 for e in data["interventions"])


def recommend(group: GroupStats, present: np.ndarray | None, failed: np.ndarray | None, trace_ids: np.ndarray | None,
              mode_ids: list[str], playbook: tuple[Intervention, ...] | None = None,
              examples: dict[str, list[str]] | None = None) -> list[Recommendation]:
    """Interventions that apply to ``group``, best first, with example failed traces showing their modes:
    from the per-trace ``present`` / ``failed`` / ``trace_ids``, or ``examples`` (per intervention, failed
    traces by most of its modes present, then trace order; :mod:`mastlens.analysis.patterns`)."""
    playbook = playbook if playbook is not None else load_playbook()
    by_mode = {m.id: m for m in group.modes}
    col = {m: j for j, m in enumerate(mode_ids)}
    out = []
    for item in playbook:
        floor = item.min_modes_per_failed_trace
        if floor is not None and (group.modes_per_failed_trace or 0) < floor:
            continue
        weights = {}
        for mode_id in item.modes:
            stat = by_mode.get(mode_id)
            if stat is None or not stat.prevalence_failed:
                continue
            weights[mode_id] = stat.prevalence_failed * VERDICT_WEIGHTS.get(stat.verdict, 0.5)
        score = sum(weights.values())
        if score <= 0:
            continue
        if examples is not None:  # a mode with no weight is absent from every failed trace: no hit either way
            shown = examples.get(item.id, [])[:MAX_EXAMPLES]
        else:
            cols = [col[m] for m in weights if m in col]
            hits = present[:, cols].sum(axis=1) * failed
            order = np.argsort(-hits, kind="stable")
            shown = [str(trace_ids[i]) for i in order[:MAX_EXAMPLES] if hits[i] > 0]
        out.append(Recommendation(group=group.name, intervention=item.id, title=item.title, fix=item.fix,
                                  modes=sorted(weights, key=lambda m: -weights[m]), score=round(score, 4),
                                  example_traces=shown))
    return sorted(out, key=lambda r: -r.score)
