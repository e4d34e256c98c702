"""`mastlens annotations`: list an annotation set per trace and mode."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from mastlens.cli.common import DbOption, JsonOption, console, open_store, print_json, resolve_set
from mastlens.cli.tables import ID_WIDTH, WideOption, fitted_table, middle, print_table

if TYPE_CHECKING:
    from mastlens.trace import Annotation


def annotation_to_json(ann: Annotation, run_success: bool | None = None) -> dict[str, Any]:
    """The ``annotations --json`` shape of one trace (``error`` is null for ok traces): the judge's own
    outcome call ``task_completed`` beside the run's real outcome ``run_success`` (null when unknown)."""
    modes: dict[str, Any] = {}
    if ann.verdict is not None:
        for mode_id, m in ann.verdict.modes.items():
            modes[mode_id] = {
                "status": m.status.value, "confidence": m.confidence,
                "evidence": [{"step": e.step, "quote": e.quote, "verified": e.verified} for e in m.evidence],
                "first_step": m.first_step,
            }
    v = ann.verdict
    return {"trace_id": ann.trace_id, "set": ann.set, "status": ann.status.value, "modes": modes,
            "decisive_step": v.decisive_step if v else None, "decisive_agent": v.decisive_agent if v else None,
            "decisive_reason": v.decisive_reason if v else "",
            "task_completed": v.task_completed if v else None, "run_success": run_success, "error": ann.error}


def _present_cell(ann: Annotation) -> str:
    from mastlens.trace import ModeStatus

    if ann.verdict is None:
        return ""
    cells = []
    for mode_id, m in ann.verdict.modes.items():
        if m.status is ModeStatus.PRESENT:
            cells.append(mode_id + ("" if m.has_verified_evidence else "?"))
    return " ".join(cells) or "-"


def _decisive_cell(ann: Annotation) -> str:
    v = ann.verdict
    if v is None or (v.decisive_step is None and not v.decisive_agent):
        return ""
    step = "" if v.decisive_step is None else f"step {v.decisive_step}"
    return " ".join(x for x in (step, f"({v.decisive_agent})" if v.decisive_agent else "") if x)


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")


def _done_cell(ann: Annotation, run_success: bool | None) -> str:
    """The judge's own outcome call and the run's real outcome: ``no / no``."""
    return f"{_yes_no(ann.verdict.task_completed if ann.verdict else None)} / {_yes_no(run_success)}"


def register(app: typer.Typer) -> None:
    @app.command("annotations")
    def annotations_command(
        set_name: str = typer.Option(None, "--set", help="Annotation set (default: the most recently written)."),
        trace: list[str] = typer.Option(None, "--trace", help="Only this trace id (repeatable)."),
        db: Path = DbOption,
        as_json: bool = JsonOption,
        wide: bool = WideOption,
    ) -> None:
        """List the verdicts of an annotation set, per trace and mode."""
        from mastlens.trace import ModeStatus

        with open_store(db, must_exist=True) as store:
            name = resolve_set(store, set_name, quiet=False)
            anns = store.get_annotations(name)
            outcomes = {r.id: r.success for r in store.trace_rows()}
        if trace:
            wanted = set(trace)
            anns = [a for a in anns if a.trace_id in wanted]
        if as_json:
            print_json([annotation_to_json(a, outcomes.get(a.trace_id)) for a in anns])
            return
        called = any(a.verdict is not None and a.verdict.task_completed is not None for a in anns)
        columns = ["trace", "status", "present modes", "went wrong at", *(["done? judge / run"] if called else []),
                   "not assessed" if wide else "n/a", "error"]
        table = fitted_table(f"Annotation set {escape(name)}", columns, right_from=4,
                             wrap=("present modes", "went wrong at", "error"))
        for a in anns:
            n_na = sum(1 for m in (a.verdict.modes.values() if a.verdict else []) if m.status is ModeStatus.NOT_ASSESSED)
            done = [_done_cell(a, outcomes.get(a.trace_id))] if called else []
            table.add_row(escape(a.trace_id if wide else middle(a.trace_id, ID_WIDTH)), a.status.value,
                          _present_cell(a), escape(_decisive_cell(a)), *done, str(n_na) if n_na else "",
                          escape(a.error or ""))
        print_table(console, table, wide)
        ok = sum(1 for a in anns if a.status.value == "ok")
        console.print(f"{len(anns)} traces: {ok} ok, {len(anns) - ok} errors; ? = no verified evidence"
                      + ("" if wide else "; ids cut in the middle (--json or --wide: whole)"), soft_wrap=True)
