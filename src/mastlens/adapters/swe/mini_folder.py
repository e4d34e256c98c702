"""A mini-swe-agent output folder (``mini-extra swebench``): one trace per instance, with the SWE-bench
evaluation as outcome.

The folder holds ``trajs/<id>/<id>.traj.json`` (or ``<id>/<id>.traj.json``; also gzipped), ``preds.json``,
``exit_statuses_*.yaml`` and ``minisweagent.log``. Each trajectory is read by
:mod:`mastlens.adapters.swe.mini_traj`; its outcome comes from the evaluation reports of
:mod:`mastlens.adapters.swe.reports`, matched by instance id. A report naming more instances than the
folder has is a partial run (a note says how many matched); one naming none of them is an error of that
report. An unreadable trajectory or report is reported and the rest of the folder is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from mastlens.adapters.base import Adapter, AdapterError, ReadContext, plain_name
from mastlens.adapters.swe.common import is_named
from mastlens.adapters.swe.mini_traj import SUFFIX, read_trajectory
from mastlens.adapters.swe.reports import (
    EVALUATION_LOGS, INSTANCE_REPORT, REPORTS_DIR, Reports, outcome_of, report_kind,
)
from mastlens.trace import Trace

MARKERS = ("preds.json", "minisweagent.log")
_EXIT_STATUSES = re.compile(r"^exit_statuses_.*\.ya?ml$")
_STATUS_LINE = re.compile(r"^\s+([A-Za-z_][\w.]*):\s*$")
_ID_LINE = re.compile(r"^\s*-\s*['\"]?([^'\"\s]+)['\"]?\s*$")


def trajectory_files(folder: Path) -> list[Path]:
    """``trajs/<id>/<id>.traj.json`` and ``<id>/<id>.traj.json`` (also ``.gz``), in name order."""
    found: list[Path] = []
    for parent in (folder / "trajs", folder):
        if not parent.is_dir():
            continue
        for sub in sorted(parent.iterdir()):
            if sub.is_dir() and sub.name != "trajs":
                found += [f for f in sorted(sub.iterdir()) if f.is_file() and is_named(f, SUFFIX)
                          and plain_name(f)[: -len(SUFFIX)] == sub.name]
    return found


def _has_trajectory(folder: Path) -> bool:
    for parent in (folder / "trajs", folder):
        if not parent.is_dir():
            continue
        for n, sub in enumerate(parent.iterdir()):
            if sub.is_dir() and any(is_named(sub / f"{sub.name}{SUFFIX}{gz}", SUFFIX)
                                    and (sub / f"{sub.name}{SUFFIX}{gz}").is_file() for gz in ("", ".gz")):
                return True
            if n > 50:
                break
    return False


def exit_statuses(folder: Path) -> dict[str, str]:
    """Instance id -> exit status from the folder's ``exit_statuses_*.yaml`` (a plain two-level list)."""
    statuses: dict[str, str] = {}
    for file in sorted(folder.iterdir()):
        if not _EXIT_STATUSES.match(file.name):
            continue
        status = None
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            if (m := _STATUS_LINE.match(line)) is not None:
                status = m.group(1)
            elif (m := _ID_LINE.match(line)) is not None and status:
                statuses[m.group(1)] = status
    return statuses


class MiniSweAgentFolderAdapter(Adapter):
    name = "mini-swe-agent-run"
    description = ("a mini-swe-agent output folder (trajs/<id>/<id>.traj.json, preds.json, exit_statuses_*.yaml): "
                   "one trace per instance, outcome from the SWE-bench evaluation matched by instance id")
    detects = ("a folder with preds.json, exit_statuses_*.yaml or minisweagent.log and trajs/<id>/<id>.traj.json "
               "(or <id>/<id>.traj.json); an evaluation report given in the same ingest is read with it")
    outcome = ("the SWE-bench evaluation: an sb-cli report (sb-cli-reports/*.json or given in the same ingest), the "
               "harness run report (<model>.<run_id>.json, resolved_ids...) or logs/run_evaluation/**/report.json; "
               "resolved = success (score 1), unresolved = failed (score 0), error/empty patch = unknown with the "
               "reason; failing/passing test names and model_stats api_calls, cost as metrics")
    priority = 11
    reads_dirs = True
    extensions = ()

    def sniff_dir(self, path: Path) -> bool:
        marked = any((path / m).is_file() for m in MARKERS) or any(
            _EXIT_STATUSES.match(p.name) for p in path.glob("exit_statuses_*"))
        return (marked or (path / "trajs").is_dir()) and _has_trajectory(path)

    def side_file_reason(self, path: Path) -> str | None:
        """A report or predictions file met in a folder walk outside a run folder (read with the runs)."""
        if path.parent.name == REPORTS_DIR:
            return "SWE-bench evaluation report (read with the run folder it scores)"
        if path.name == INSTANCE_REPORT and "/".join(EVALUATION_LOGS) in path.as_posix():
            return "SWE-bench per-instance evaluation report (read with the run folder it scores)"
        if path.name == "preds.json" and (path.parent / "trajs").is_dir():
            return "mini-swe-agent predictions (the patches are in the trajectories)"
        return None

    def companion_reason(self, path: Path) -> str | None:
        kind = report_kind(path)
        return None if kind is None else f"SWE-bench {kind} evaluation report, read with the trajectories it scores"

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Trace]:
        if not path.is_dir():
            raise AdapterError("a mini-swe-agent run is a folder (trajs/<id>/<id>.traj.json, preds.json)")
        files = trajectory_files(path)
        if not files:
            raise AdapterError("no <id>/<id>.traj.json trajectory in this folder")
        traces: list[Trace] = []
        for file in files:
            rel = file.relative_to(path).as_posix()
            try:
                traces.append(read_trajectory(file, ctx, self.name, where=rel))
            except AdapterError as exc:
                ctx.record_issue(f"{rel}{f' line {exc.line}' if exc.line else ''}: {exc.reason}")
            except OSError as exc:
                ctx.record_issue(f"{rel}: cannot read: {exc.strerror or exc}")
        reports = Reports(path, ctx, upward=2)
        for problem in reports.unreadable:
            ctx.record_issue(f"evaluation report {problem}")
        matched_by: dict[int, int] = {id(r): 0 for r in reports.loaded}
        statuses = exit_statuses(path)
        for trace in traces:
            for report in reports.loaded:
                matched_by[id(report)] += int(trace.task in report.verdicts)
            trace, _ = outcome_of(trace, reports, ctx)
            listed = statuses.get(trace.task or "")
            if listed and listed != trace.metadata.get("exit_status"):
                trace.metadata["listed_exit_status"] = listed
            yield trace
        per_instance = [r for r in reports.loaded if r.kind == "instance"]
        if per_instance:
            n = sum(1 for r in per_instance if matched_by[id(r)])
            ctx.notes.append(f"{n} of {len(per_instance)} per-instance evaluation reports matched a trajectory")
        for report in reports.loaded:
            n = matched_by[id(report)]
            if report.kind == "instance":
                continue
            if n:
                ctx.notes.append(f"evaluation report {report.shown}: {n} of {len(traces)} trajectories matched "
                                 f"(it names {len(report.verdicts)} instances)")
            else:
                others = len(report.verdicts)
                ctx.record_issue(f"evaluation report {report.shown} names none of the folder's {len(traces)} "
                                 f"instances (it names {others} other{'s' if others != 1 else ''}): no outcome "
                                 "taken from it")
        if traces and not reports.loaded and not reports.unreadable:
            ctx.notes.append("no SWE-bench evaluation report found or given: outcomes unknown")


ADAPTER = MiniSweAgentFolderAdapter()
