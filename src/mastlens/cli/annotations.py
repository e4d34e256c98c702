"""`mastlens annotations`: list an annotation set per trace and mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from mastlens.cli.common import DbOption, JsonOption, console, open_store, print_json, resolve_set
from mastlens.trace import Annotation, ModeStatus


def annotation_to_json(ann: Annotation) -> dict[str, Any]:
    """The ``annotations --json`` shape of one trace (``error`` is null for ok traces)."""
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
            "decisive_reason": v.decisive_reason if v else "", "error": ann.error}


def _present_cell(ann: Annotation) -> str:
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


def register(app: typer.Typer) -> None:
    @app.command("annotations")
    def annotations_command(
        set_name: str = typer.Option(None, "--set", help="Annotation set (default: the most recently written)."),
        trace: list[str] = typer.Option(None, "--trace", help="Only this trace id (repeatable)."),
        db: Path = DbOption,
        as_json: bool = JsonOption,
    ) -> None:
        """List the verdicts of an annotation set, per trace and mode."""
        with open_store(db, must_exist=True) as store:
            name = resolve_set(store, set_name, quiet=False)
            anns = store.get_annotations(name)
        if trace:
            wanted = set(trace)
            anns = [a for a in anns if a.trace_id in wanted]
        if as_json:
            print_json([annotation_to_json(a) for a in anns])
            return
        table = Table(title=f"Annotation set {name}", title_justify="left")
        for col in ("trace", "status", "present modes (? = no verified evidence)", "went wrong at", "not assessed",
                    "error"):
            table.add_column(col)
        for a in anns:
            n_na = sum(1 for m in (a.verdict.modes.values() if a.verdict else []) if m.status is ModeStatus.NOT_ASSESSED)
            table.add_row(escape(a.trace_id), a.status.value, _present_cell(a), escape(_decisive_cell(a)),
                          str(n_na) if n_na else "", escape(a.error or ""))
        console.print(table)
        ok = sum(1 for a in anns if a.status.value == "ok")
        console.print(f"{len(anns)} traces: {ok} ok, {len(anns) - ok} errors")
