"""Ingest: read paths with the adapters and store every trace, collecting a report."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mastlens.adapters.loader import FileFailure, FileResult, FileSkip, walk
from mastlens.store.db import Store
from mastlens.taxonomy import load_taxonomy
from mastlens.trace import SuccessRule, SuccessTally, Trace, label_annotation
from mastlens.trace.model_names import group_model

LABELS_JUDGE = "labels"
INGEST_BATCH = 256
# Tag keys are group keys (``--group-by run``); these names already mean a trace column.
RESERVED_TAG_KEYS = frozenset({"id", "model", "system", "task", "success", "score"})
_TAG_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def parse_tags(values: list[str] | None) -> dict[str, str]:
    """``["run=baseline", "agent=v2"]`` -> ``{"run": "baseline", "agent": "v2"}``. Raises ``ValueError``
    naming the bad item (no ``=``, an empty or reserved key, or one key given twice)."""
    tags: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _TAG_KEY.fullmatch(key):
            raise ValueError(f"--tag {item!r}: expected KEY=VALUE with a key of letters, digits, _ . - "
                             "(e.g. --tag run=baseline)")
        if key in RESERVED_TAG_KEYS:
            raise ValueError(f"--tag {item!r}: {key!r} is a trace field already; pick another key")
        if key in tags and tags[key] != value:
            raise ValueError(f"--tag {item!r}: key {key!r} given twice")
        tags[key] = value
    return tags


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
    success: SuccessTally | None = None  # what decided success, over the traces read
    tags: dict[str, str] = field(default_factory=dict)  # the --tag values given
    retagged: int = 0  # traces already stored whose tags changed (no new content version)

    def _count(self, trace: Trace) -> None:
        key = (trace.source.format, group_model(trace.model))
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
            "tags": dict(self.tags),
            "retagged": self.retagged,
            "notes": list(self.notes),
            "success": None if self.success is None else {
                "rule": str(self.success.rule), "given": bool(self.success.rule and self.success.rule.explicit),
                "by_rule": self.success.by_rule, "by_source": self.success.by_source,
                "unknown": self.success.unknown},
        }

    @property
    def read_anything(self) -> bool:
        return bool(self.trace_ids)


def ingest(
    paths: list[str | Path], store: Store, *, fmt: str = "auto", success_rule: str | None = None,
    tags: dict[str, str] | None = None, group_spans_by: str | None = None,
) -> IngestReport:
    """Read and store every trace under ``paths``, each with ``tags`` (see :meth:`Store.set_tags`). Bad files
    are reported, never raised; a success rule naming a field that none of the traces has raises
    :class:`SuccessRuleError` with nothing stored. ``group_spans_by`` names the span attribute that joins
    OTel spans into runs."""
    report = IngestReport(tags=dict(tags or {}))
    rule = SuccessRule.parse(success_rule)
    report.success = tally = SuccessTally(rule)
    held: list[FileResult] = []  # read before any trace showed the rule's field: stored once one does
    for result in walk([Path(p) for p in paths], fmt, rule, group_spans_by):
        if isinstance(result, FileSkip):
            report.skipped.append(result)
            continue
        tally.add_all(t.outcome for t in result.traces)
        if rule.explicit and rule.field not in tally.fields:
            held.append(result)
            continue
        for earlier in held:
            _store_file(earlier, store, report)
        held.clear()
        _store_file(result, store, report)
    tally.check()
    for earlier in held:
        _store_file(earlier, store, report)
    return report


def _store_file(result: FileResult, store: Store, report: IngestReport) -> None:
    report.failed.extend(result.failures)
    report.notes.extend(f"{result.path}: {n}" for n in result.notes)
    seen: set[str] = set()
    stored: dict[str, tuple[str, str]] = {}  # id as read -> (stored id, content hash)
    # one commit per INGEST_BATCH traces, not per trace; short enough that other writers never wait long
    for start in range(0, len(result.traces), INGEST_BATCH):
        with store.transaction():
            _store_traces(result.traces[start:start + INGEST_BATCH], result, store, report, seen, stored)
    if result.labels:
        _store_labels(result, stored, store, report)


def _store_traces(traces: list[Trace], result: FileResult, store: Store, report: IngestReport, seen: set[str],
                  stored: dict[str, tuple[str, str]]) -> None:
    for trace in traces:
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
        retagged = bool(report.tags) and store.set_tags(outcome.trace_id, report.tags)
        if outcome.action == "unchanged":
            report.skipped_duplicates += 1
            report.retagged += int(retagged)
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
