"""Analysis: failure vectors, per-group statistics, cascades, comparisons, regression, playbook, agreement.

Names load on first use, so importing one light submodule (labels, results, the OTel export) does not
pull in numpy, pandas, scipy and statsmodels.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "compute_agreement": "agreement", "DEFAULT_RULES": "groups", "VerdictRules": "groups",
    "ImportReport": "labels", "import_labels": "labels", "Intervention": "playbook", "load_playbook": "playbook",
    "AgreementResult": "results", "StatsResult": "results", "compute_stats": "stats",
    "stats_from_vectors": "stats", "failure_vectors": "vectors", "compute_localization": "localization",
    "corrected_prevalence": "fidelity", "outcome_separation": "fidelity", "rogan_gladen": "fidelity",
}

if TYPE_CHECKING:
    from mastlens.analysis.agreement import compute_agreement
    from mastlens.analysis.fidelity import corrected_prevalence, outcome_separation, rogan_gladen
    from mastlens.analysis.groups import DEFAULT_RULES, VerdictRules
    from mastlens.analysis.labels import ImportReport, import_labels
    from mastlens.analysis.localization import compute_localization
    from mastlens.analysis.playbook import Intervention, load_playbook
    from mastlens.analysis.results import AgreementResult, StatsResult
    from mastlens.analysis.stats import compute_stats, stats_from_vectors
    from mastlens.analysis.vectors import failure_vectors


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'mastlens.analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"mastlens.analysis.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "AgreementResult", "DEFAULT_RULES", "ImportReport", "Intervention", "StatsResult", "VerdictRules",
    "compute_agreement", "compute_localization", "compute_stats", "corrected_prevalence", "failure_vectors",
    "import_labels", "load_playbook", "outcome_separation", "rogan_gladen", "stats_from_vectors",
]
