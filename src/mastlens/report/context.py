"""Everything the report templates show, gathered from the store and the analysis results.

The statistics are rendered, never recomputed: they come from ``StatsResult`` / ``AgreementResult``
(read through their ``model_dump()``, which is the ``stats --json`` / ``agree --json`` contract). The
store supplies the traces for the drill-down and the run facts for the judge's reliability card.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mastlens.analysis.strata import SOURCE_TAG, source_label
from mastlens.report.drilldown import TraceView, build_trace_view, trace_char_budget
from mastlens.store import Store, default_location
from mastlens.store.pg import redact
from mastlens.taxonomy import Taxonomy, load_taxonomy
from mastlens.trace import Annotation, AnnotationStatus, ModeStatus, SuccessRule, Trace
from mastlens.trace.model_names import group_model


def as_dict(result: Any) -> dict[str, Any] | None:
    """A typed analysis result (pydantic) or an already-dumped dict, as the JSON-contract dict."""
    if result is None:
        return None
    if isinstance(result, dict):
        return result
    return result.model_dump(mode="json")


@dataclass
class ReliabilityCard:
    set_name: str
    judge: str
    model: str | None
    endpoint_host: str | None
    prompt_hash: str | None
    taxonomy_version: str | None
    traces: int
    annotated_ok: int
    errors: int
    error_examples: list[tuple[str, str]]
    segmented: int
    stale: int
    present_modes: int
    present_verified: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    not_assessed: list[str]
    partly_assessed: list[tuple[str, int]]
    separation: str | None = None  # the AUROC sentence (analysis.fidelity.separation_sentence)
    separation_warning: bool = False  # its CI includes 0.5, or there is no AUROC
    outcome_call: str | None = None  # the judge's own task_completed against the real outcome, in one sentence
    # per mode with a present verdict: (mode, present verdicts, mean confidence of those carrying one, how many do)
    confidence: list[tuple[str, int, float | None, int]] = field(default_factory=list)

    @property
    def verified_share(self) -> float | None:
        return self.present_verified / self.present_modes if self.present_modes else None


@dataclass
class ReportContext:
    title: str
    set_name: str
    stats: dict[str, Any]
    agreement: dict[str, Any] | None
    taxonomy: Taxonomy
    card: ReliabilityCard
    traces: list[TraceView]
    groups: list[dict[str, Any]]
    group_keys: dict[str, str]
    anchors: dict[str, str]
    mode_names: dict[str, str]
    mode_categories: dict[str, str]
    generated_by: str
    charts: dict[str, Any] = field(default_factory=dict)
    n_traces_omitted: int = 0
    diff: dict[str, Any] | None = None  # a DiffResult dump: the report's Diff section
    db: str | None = None  # the store to name in printed commands (None: the default one)
    calibration: dict[str, Any] | None = None  # a Calibration dump (--calibration): its thresholds and fit figures


def group_value(trace: Trace, group_by: str, model_aliases: dict[str, str] | None = None,
                tags: dict[str, str] | None = None) -> str:
    """The group a trace falls in for ``group_by`` (model, system, task, a run tag or a metadata key); models
    by their normalised, aliased name as in the statistics."""
    if group_by == "model":
        if not trace.model:  # grouped by source, as in the statistics
            return source_label(trace.source.format, trace.system, trace.metadata, (tags or {}).get(SOURCE_TAG))
        return group_model(trace.model, model_aliases)
    if group_by in ("system", "task"):
        value = getattr(trace, group_by)
    elif tags and group_by in tags:
        value = tags[group_by]
    else:
        value = trace.metadata.get(group_by)
    return "unknown" if value is None or value == "" else str(value)


def trace_success(trace: Trace, rule: str | None) -> bool | None:
    if not rule:
        return trace.outcome.success
    try:
        return SuccessRule.parse(rule).apply(trace.outcome).success
    except ValueError:
        return trace.outcome.success


def reliability_card(store: Store, set_name: str, annotations: list[Annotation], taxonomy: Taxonomy,
                     n_traces: int, stale: int) -> ReliabilityCard:
    info = store.get_set(set_name)
    ok = [a for a in annotations if a.status is AnnotationStatus.OK and a.verdict is not None]
    errors = [a for a in annotations if a.status is AnnotationStatus.ERROR]
    present = verified = 0
    not_assessed: Counter[str] = Counter()
    present_by_mode: Counter[str] = Counter()
    confidences: dict[str, list[float]] = {}
    for a in ok:
        for mode_id in taxonomy.ids:
            mv = a.verdict.modes.get(mode_id)
            if mv is None or mv.status is ModeStatus.NOT_ASSESSED:
                not_assessed[mode_id] += 1
            elif mv.status is ModeStatus.PRESENT:
                present += 1
                verified += int(mv.has_verified_evidence)
                present_by_mode[mode_id] += 1
                if mv.confidence is not None:
                    confidences.setdefault(mode_id, []).append(float(mv.confidence))
    never = [m for m in taxonomy.ids if ok and not_assessed[m] == len(ok)]
    partly = [(m, not_assessed[m]) for m in taxonomy.ids if 0 < not_assessed[m] < len(ok)]
    return ReliabilityCard(
        set_name=set_name, judge=info.judge if info else "?", model=info.model if info else None,
        endpoint_host=info.endpoint_host if info else None, prompt_hash=info.prompt_hash if info else None,
        taxonomy_version=info.taxonomy_version if info else None, traces=n_traces, annotated_ok=len(ok),
        errors=len(errors), error_examples=[(a.trace_id, (a.error or "")[:300]) for a in errors[:5]],
        segmented=sum(1 for a in ok if a.verdict.segmented), stale=stale, present_modes=present,
        present_verified=verified, input_tokens=sum(a.input_tokens for a in annotations),
        output_tokens=sum(a.output_tokens for a in annotations),
        cost_usd=sum(a.cost_usd for a in annotations), not_assessed=never, partly_assessed=partly,
        confidence=[(m, present_by_mode[m], sum(confidences[m]) / len(confidences[m]) if m in confidences else None,
                     len(confidences.get(m, ()))) for m in taxonomy.ids if present_by_mode[m]],
    )


def separation_card(stats: dict[str, Any]) -> tuple[str | None, bool]:
    """The reliability card's AUROC sentence over every run with a known outcome, and whether it warns."""
    from mastlens.analysis.fidelity import separation_sentence
    from mastlens.analysis.results import OutcomeSeparation

    separation = stats.get("separation") or []
    if not separation:
        return None, False
    overall = OutcomeSeparation.model_validate(separation[0])
    ci = overall.auroc_ci
    return separation_sentence(overall), overall.auroc is None or bool(ci and ci[0] <= 0.5 <= ci[1])


def outcome_call_card(stats: dict[str, Any]) -> str | None:
    """The card's sentence on how often the judge's own outcome call is right (None when it makes none)."""
    from mastlens.analysis.outcome_call import outcome_call_sentence
    from mastlens.analysis.results import OutcomeCall

    calls = stats.get("outcome_calls") or []
    return outcome_call_sentence(OutcomeCall.model_validate(calls[0])) if calls else None


def build_context(
    store: Store, set_name: str, stats: Any, *, agreement: Any = None, title: str | None = None,
    max_traces: int | None = None, taxonomy: Taxonomy | None = None,
) -> ReportContext:
    """Collect the report's content. ``max_traces`` caps the drill-down (failed traces first)."""
    from mastlens import __version__

    taxonomy = taxonomy or load_taxonomy()
    stats_d = as_dict(stats) or {}
    group_by = stats_d.get("group_by") or "model"
    rule = stats_d.get("success_rule")
    mode_names = {m.id: m.name for m in taxonomy.modes}
    annotations = {a.trace_id: a for a in store.get_annotations(set_name)}
    stale = sum(1 for a in store.get_annotations(set_name, include_stale=True) if a.stale)
    groups = list(stats_d.get("groups") or [])
    group_keys = {g["name"]: f"g{i}" for i, g in enumerate(groups)}

    traces = [t for t in store.iter_traces() if t.id in annotations]
    success = {t.id: trace_success(t, rule) for t in traces}
    # Failed traces first: they are what a reader drills into.
    traces.sort(key=lambda t: ({False: 0, None: 1, True: 2}[success[t.id]], t.id))
    anchors = {t.id: f"t{i}" for i, t in enumerate(traces)}
    shown = traces if max_traces is None else traces[:max_traces]
    views = []
    budget = trace_char_budget(len(shown))
    default = default_location()
    default = default if isinstance(default, Path) else redact(default)
    db = None if str(store.path) == ":memory:" or store.path == default else str(store.path)  # no password
    tags = store.all_tags()
    for t in shown:
        ann = annotations.get(t.id)
        group = group_value(t, group_by, stats_d.get("model_aliases"), tags.get(t.id))
        views.append(build_trace_view(
            t, anchor=anchors[t.id], group=group, group_key=group_keys.get(group, "g-other"),
            success=success[t.id], verdict=ann.verdict if ann else None,
            status=ann.status.value if ann else "missing", error=ann.error if ann else None, mode_names=mode_names,
            char_budget=budget, db=db,
        ))
    shown_ids = {t.id for t in shown}
    card = reliability_card(store, set_name, list(annotations.values()), taxonomy, store.count_traces(), stale)
    card.separation, card.separation_warning = separation_card(stats_d)
    card.outcome_call = outcome_call_card(stats_d)
    agreement_d = as_dict(agreement)
    if agreement_d is not None:
        from mastlens.analysis.agreement import describe_shared_labels

        agreement_d["shared_label_lines"] = describe_shared_labels(agreement.shared_labels)
    return ReportContext(
        title=title or f"mastlens report: {set_name}", set_name=set_name, stats=stats_d,
        agreement=agreement_d, taxonomy=taxonomy, card=card, traces=views, groups=groups,
        group_keys=group_keys, anchors={k: v for k, v in anchors.items() if k in shown_ids},
        mode_names=mode_names, mode_categories={m.id: m.category for m in taxonomy.modes},
        generated_by=f"mastlens {__version__}", n_traces_omitted=len(traces) - len(shown), db=db,
    )
