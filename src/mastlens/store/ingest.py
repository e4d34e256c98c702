"""Ingest: read paths with the adapters and store every trace, collecting a report."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mastlens.adapters.loader import FileFailure, FileResult, FileSkip, walk
from mastlens.store.db import Store
from mastlens.taxonomy import load_taxonomy
from mastlens.trace import SuccessRule, Trace, label_annotation

LABELS_JUDGE = "labels"


@dataclass
class GroupSummary:
    format: str
    model: str | None
    traces: int = 0
    steps: int = 0
    tool_calls: int = 0
    successes: int = 0
    judged: int = 0

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.judged if self.judged else None


@dataclass
class IngestReport:
    ingested: int = 0
    replaced: int = 0
    skipped_duplicates: int = 0
    skipped: list[FileSkip] = field(default_factory=list)
    failed: list[FileFailure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    groups: dict[tuple[str, str | None], GroupSummary] = field(default_factory=dict)
    trace_ids: list[str] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)  # annotation set -> traces labelled from the input

    def _count(self, trace: Trace) -> None:
        key = (trace.source.format, trace.model)
        g = self.groups.setdefault(key, GroupSummary(*key))
        g.traces += 1
        g.steps += len(trace.steps)
        g.tool_calls += trace.n_tool_calls
        if trace.outcome.success is not None:
            g.judged += 1
            g.successes += int(trace.outcome.success)

    def to_json(self) -> dict[str, Any]:
        return {
            "ingested": self.ingested,
            "skipped_duplicates": self.skipped_duplicates,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "failed": [
                {"path": f.path, "line": f.line, "format": f.format, "reason": f.reason} for f in self.failed
            ],
            "labels": dict(self.labels),
            "notes": list(self.notes),
        }

    @property
    def read_anything(self) -> bool:
        return bool(self.trace_ids)


def ingest(
    paths: list[str | Path], store: Store, *, fmt: str = "auto", success_rule: str | None = None
) -> IngestReport:
    """Read and store every trace under ``paths``. Bad files are reported, never raised."""
    report = IngestReport()
    rule = SuccessRule.parse(success_rule)
    for result in walk([Path(p) for p in paths], fmt, rule):
        if isinstance(result, FileSkip):
            report.skipped.append(result)
            continue
        _store_file(result, store, report)
    return report


def _store_file(result: FileResult, store: Store, report: IngestReport) -> None:
    report.failed.extend(result.failures)
    report.notes.extend(f"{result.path}: {n}" for n in result.notes)
    seen: set[str] = set()
    stored: dict[str, tuple[str, str]] = {}  # id as read -> (stored id, content hash)
    for trace in result.traces:
        if trace.id in seen:
            report.failed.append(
                FileFailure(result.path, f"duplicate trace id {trace.id!r} in the same file", trace.source.line,
                            result.format, trace.source.record)
            )
            continue
        seen.add(trace.id)
        if trace.source.path and result.format != "native":  # native records carry their original source
            # the same file read as runs/x.json or /abs/runs/x.json is one source: store it absolute
            source = trace.source.model_copy(update={"path": os.path.abspath(trace.source.path)})
            trace = trace.model_copy(update={"source": source})
        outcome = store.add_trace(trace)
        stored[trace.id] = (outcome.trace_id, trace.content_hash() if result.labels else "")
        report.trace_ids.append(outcome.trace_id)
        report._count(trace)
        if outcome.action == "unchanged":
            report.skipped_duplicates += 1
            continue
        report.ingested += 1
        if outcome.action == "replaced":
            report.replaced += 1
            report.notes.append(
                f"{outcome.trace_id}: content changed, replaced (earlier annotations kept, marked stale)"
            )
        elif outcome.action == "renamed":
            report.notes.append(
                f"{outcome.original_id}: another trace already has this id; stored as {outcome.trace_id}"
            )
    if result.labels:
        _store_labels(result, stored, store, report)


def _store_labels(result: FileResult, stored: dict[str, tuple[str, str]], store: Store, report: IngestReport) -> None:
    """Write the reference labels a file carried, on the stored ids of its traces."""
    taxonomy = load_taxonomy()
    sets: set[str] = set()
    batch = []
    for labels in result.labels:
        if labels.trace_id not in stored:
            continue  # its trace was not stored (a duplicate id in the file)
        trace_id, digest = stored[labels.trace_id]
        if labels.set not in sets:
            store.ensure_set(labels.set, judge=LABELS_JUDGE, taxonomy_version=taxonomy.version,
                             params={"source": Path(result.path).name, "format": result.format})
            sets.add(labels.set)
        batch.append(label_annotation(trace_id, labels.set, labels.flags, taxonomy.ids,
                                      metadata={"labels_file": Path(result.path).name, **labels.metadata},
                                      trace_hash=digest, decisive_step=labels.decisive_step,
                                      decisive_agent=labels.decisive_agent, decisive_reason=labels.decisive_reason,
                                      task_completed=labels.task_completed))
        report.labels[labels.set] = report.labels.get(labels.set, 0) + 1
    store.save_annotations(batch)
