"""SWE-bench evaluation results, the outcome of SWE-bench runs.

Three shapes are read, wherever they are found:

* an sb-cli report or the SWE-bench harness's run report (``<model>.<run_id>.json``): lists of
  instance ids by status (``resolved_ids``, ``unresolved_ids``, ``error_ids``, ``empty_patch_ids``,
  ``incomplete_ids``...);
* per-instance ``report.json`` files (``logs/run_evaluation/<run>/<model>/<id>/report.json``):
  ``{"<id>": {"resolved": bool, "tests_status": {"FAIL_TO_PASS": {"success": [...], "failure": [...]}, ...}}}``,
  whose test names go into the outcome's metrics.

Where: reports given in the same ``ingest`` (``ReadContext.companions``), then the run folder's own
(``sb-cli-reports/*.json``, a top-level JSON file with ``resolved_ids``, ``logs/run_evaluation/**/report.json``)
and those of the folders just above it. resolved -> success (score 1), unresolved -> failed (score 0),
anything else (error, empty patch, not evaluated) -> unknown, with the reason in the trace's notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mastlens.adapters.base import AdapterError, ReadContext, head_text, read_head, trace_suffix
from mastlens.adapters.swe.common import load_whole, top_level_keys
from mastlens.trace import Outcome, Trace

#: status lists of a run report, the stronger first (an id in several takes the first)
STATUS_KEYS = (("resolved_ids", "resolved"), ("unresolved_ids", "unresolved"), ("error_ids", "error"),
               ("empty_patch_ids", "empty_patch"), ("failed_ids", "failed"), ("pending_ids", "pending"),
               ("incomplete_ids", "incomplete"))
REASONS = {
    "error": "the SWE-bench evaluation of this instance errored",
    "empty_patch": "the submitted patch is empty (not evaluated)",
    "failed": "the evaluation failed to run",
    "pending": "the evaluation is still pending",
    "incomplete": "the evaluation did not complete",
    "submitted": "submitted but given no result",
}
REPORTS_DIR = "sb-cli-reports"
INSTANCE_REPORT = "report.json"
EVALUATION_LOGS = ("logs", "run_evaluation")
TEST_NAMES_KEPT = 200  # per list; the counts are always whole
_UPWARD = 2  # folders above a run searched for reports


@dataclass
class Verdict:
    status: str
    report: str  # where it was read (shown in notes and metadata)
    tests: dict[str, dict[str, list[str]]] | None = None


@dataclass
class Report:
    path: Path
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    shown: str = ""
    kind: str = "run"  # or "instance" (a per-instance report.json)


def is_run_report(keys: list[str]) -> bool:
    return "resolved_ids" in keys or ("unresolved_ids" in keys and "submitted_ids" in keys)


def is_instance_report(head: bytes) -> bool:
    text = head_text(head)
    return text.startswith("{") and '"tests_status"' in text and '"resolved"' in text


def report_kind(path: Path) -> str | None:
    """``"run"`` or ``"instance"`` when the file is a SWE-bench evaluation report, else None."""
    if trace_suffix(path) != ".json":
        return None
    if is_run_report(top_level_keys(path, 1 << 20)):
        return "run"
    return "instance" if is_instance_report(read_head(path, 4096)) else None


def parse_report(path: Path, shown: str) -> Report:
    """A report file's verdicts by instance id; AdapterError when it is not JSON or not a report."""
    data = load_whole(path)
    report = Report(path, shown=shown)
    if not isinstance(data, dict):
        raise AdapterError("not a SWE-bench evaluation report (not a JSON object)")
    if any(key in data for key, _ in STATUS_KEYS):
        for key, status in STATUS_KEYS:
            ids = data.get(key)
            for instance in ids if isinstance(ids, list) else []:
                if isinstance(instance, str):
                    report.verdicts.setdefault(instance, Verdict(status, shown))
        for instance in data.get("submitted_ids") or []:
            if isinstance(instance, str):
                report.verdicts.setdefault(instance, Verdict("submitted", shown))
        return report
    for instance, entry in data.items():
        if isinstance(entry, dict) and isinstance(entry.get("resolved"), bool):
            status = "resolved" if entry["resolved"] else "unresolved"
            if entry.get("patch_is_None") or entry.get("patch_exists") is False:
                status = "empty_patch"
            tests = entry.get("tests_status") if isinstance(entry.get("tests_status"), dict) else None
            report.verdicts[instance] = Verdict(status, shown, tests)
    report.kind = "instance"
    if not report.verdicts:
        raise AdapterError("not a SWE-bench evaluation report (no resolved_ids, no {id: {resolved}} entries)")
    return report


_cache: dict[tuple[str, int, int, str], Report | str] = {}


def load_report(path: Path, shown: str) -> Report | str:
    """A parsed report, or the one-line reason it is unreadable; read once per file version."""
    try:
        st = path.stat()
    except OSError as exc:
        return f"{shown}: cannot read: {exc.strerror or exc}"
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, shown)
    if key not in _cache:
        try:
            _cache[key] = parse_report(path, shown)
        except AdapterError as exc:
            _cache[key] = f"{shown}{f' line {exc.line}' if exc.line else ''}: {exc.reason}"
        except OSError as exc:
            _cache[key] = f"{shown}: cannot read: {exc.strerror or exc}"
    return _cache[key]


_folder_cache: dict[tuple[str, int], list[Path]] = {}


def report_files(folder: Path) -> list[Path]:
    """The evaluation reports a run folder holds (no parsing beyond a key scan of top-level JSON files);
    looked up once per folder version."""
    try:
        key = (str(folder.resolve()), folder.stat().st_mtime_ns)
    except OSError:
        return []
    if key not in _folder_cache:
        _folder_cache[key] = _report_files(folder)
    return _folder_cache[key]


def _report_files(folder: Path) -> list[Path]:
    found: list[Path] = []
    reports_dir = folder / REPORTS_DIR
    if reports_dir.is_dir():
        found += sorted(p for p in reports_dir.iterdir() if p.is_file() and trace_suffix(p) == ".json")
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return found
    for entry in entries:
        if entry.is_file() and trace_suffix(entry) == ".json" and entry.name != "preds.json" \
                and is_run_report(top_level_keys(entry, 1 << 20)):
            found.append(entry)
    logs = folder.joinpath(*EVALUATION_LOGS)
    if logs.is_dir():
        found += sorted(p for p in logs.rglob(INSTANCE_REPORT) if p.is_file())
    return found


def _shown(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return path.name


class Reports:
    """The reports that apply to one run folder, merged: the run status from the first report naming an
    instance (given ones first), the test names from a per-instance report."""

    def __init__(self, folder: Path, ctx: ReadContext, *, upward: int = _UPWARD):
        self.loaded: list[Report] = []
        self.unreadable: list[str] = []
        seen: set[Path] = set()
        paths = [(p, p.name) for p in ctx.companions]
        level, current = 0, folder
        while True:
            here = report_files(current)
            paths += [(p, _shown(p, folder)) for p in here]
            if here or level >= upward or current.parent == current:
                break
            current, level = current.parent, level + 1
        for path, shown in paths:
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            report = load_report(path, shown)
            (self.unreadable if isinstance(report, str) else self.loaded).append(report)

    def verdict(self, instance: str) -> tuple[Verdict | None, dict[str, dict[str, list[str]]] | None]:
        status = tests = None
        for report in self.loaded:
            found = report.verdicts.get(instance)
            if found is None:
                continue
            status = status or found
            tests = tests or found.tests
        return status, tests


def test_metrics(tests: dict[str, dict[str, list[str]]] | None) -> dict[str, Any]:
    """Counts per SWE-bench test group and the failing and passing test names (each list bounded)."""
    if not tests:
        return {}
    metrics: dict[str, Any] = {}
    failing: list[str] = []
    passing: list[str] = []
    for group, results in tests.items():
        if not isinstance(results, dict):
            continue
        for key, names in (("success", passing), ("failure", failing)):
            listed = [n for n in results.get(key) or [] if isinstance(n, str)]
            metrics[f"{group.lower()}_{'passed' if key == 'success' else 'failed'}"] = len(listed)
            names.extend(listed)
    metrics["failing_tests"] = failing[:TEST_NAMES_KEPT]
    metrics["passing_tests"] = passing[:TEST_NAMES_KEPT]
    return metrics


def outcome_of(trace: Trace, reports: Reports, ctx: ReadContext) -> tuple[Trace, bool]:
    """The trace with its evaluation outcome (and whether a report named its instance)."""
    instance = trace.task or ""
    verdict, tests = reports.verdict(instance)
    metrics = {**trace.outcome.metrics, **test_metrics(tests)}
    metadata = dict(trace.metadata)
    success: bool | None = None
    score: float | None = None
    if verdict is not None:
        metadata["evaluation"] = {"status": verdict.status, "report": verdict.report}
        if verdict.status in ("resolved", "unresolved"):
            success, score = verdict.status == "resolved", float(verdict.status == "resolved")
        else:
            reason = REASONS.get(verdict.status, verdict.status)
            metadata["evaluation"]["reason"] = reason
            metadata["notes"] = [*metadata.get("notes", []), f"outcome unknown: {reason} ({verdict.report})"]
    outcome = Outcome(success=success, score=score, metrics=metrics, success_from="source" if success is not None
                      else None)
    return trace.model_copy(update={"outcome": ctx.success_rule.apply(outcome), "metadata": metadata}), \
        verdict is not None


def attach_outcome(trace: Trace, folder: Path, ctx: ReadContext) -> Trace:
    """A single trajectory's outcome from the reports given with it or found in the folders above it."""
    reports = Reports(folder, ctx, upward=3)
    for problem in reports.unreadable:
        ctx.notes.append(f"evaluation report unreadable: {problem}")
    return outcome_of(trace, reports, ctx)[0]
