"""Analysis: failure vectors, per-group statistics, cascades, comparisons, regression, playbook, agreement."""

from mastlens.analysis.agreement import compute_agreement
from mastlens.analysis.groups import DEFAULT_RULES, VerdictRules
from mastlens.analysis.fidelity import corrected_prevalence, outcome_separation, rogan_gladen
from mastlens.analysis.labels import ImportReport, import_labels
from mastlens.analysis.localization import compute_localization
from mastlens.analysis.playbook import Intervention, load_playbook
from mastlens.analysis.results import AgreementResult, StatsResult
from mastlens.analysis.stats import compute_stats, stats_from_vectors
from mastlens.analysis.vectors import failure_vectors

__all__ = [
    "AgreementResult", "DEFAULT_RULES", "ImportReport", "Intervention", "StatsResult", "VerdictRules",
    "compute_agreement", "compute_localization", "compute_stats", "corrected_prevalence", "failure_vectors",
    "import_labels", "load_playbook", "outcome_separation", "rogan_gladen", "stats_from_vectors",
]
