"""Normalized traces, verdicts and success rules."""

from mastlens.trace.models import Outcome, Source, Step, StepKind, Trace, renumber
from mastlens.trace.success import DEFAULT_SUCCESS_RULE, SuccessRule, SuccessRuleError, SuccessTally
from mastlens.trace.verdict import (
    Annotation, AnnotationStatus, Evidence, ModeStatus, ModeVerdict, Verdict, label_annotation,
)

__all__ = [
    "Annotation", "AnnotationStatus", "DEFAULT_SUCCESS_RULE", "Evidence", "ModeStatus", "ModeVerdict",
    "Outcome", "Source", "Step", "StepKind", "SuccessRule", "SuccessRuleError", "SuccessTally", "Trace", "Verdict",
    "label_annotation", "renumber",
]
