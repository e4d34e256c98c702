"""`mastlens import-labels`: load reference labels (CSV, JSONL, JSON or MAD records) as an annotation set."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from mastlens.cli.common import (
    EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, DbOption, JsonOption, console, err_console, fail, note, open_store, print_json,
)

MAX_LISTED = 10


def register(app: typer.Typer) -> None:
    @app.command("import-labels")
    def import_labels_command(
        path: Path = typer.Argument(
            ..., help="Labels: CSV/JSONL/JSON with trace_id and one column per mode (optional FM-x.y_step, "
            "decisive_step, decisive_agent, decisive_reason), or MAD records."),
        set_name: str = typer.Option(..., "--set", help="Annotation set to write the labels into, e.g. human."),
        db: Path = DbOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Import reference labels; bad rows are reported with their line and the rest imported."""
        from mastlens.analysis.labels import LabelImportError, import_labels

        with open_store(db) as store:
            try:
                report = import_labels(store, path, set_name)
            except LabelImportError as exc:
                fail(str(exc))
        if as_json:
            print_json(report.to_json())
        else:
            console.print(f"{path}: {report.imported} of {report.rows} rows imported into set "
                          f"[bold]{escape(set_name)}[/] (modes labelled: {' '.join(report.modes) or 'none'})",
                          soft_wrap=True)
            for _, reason in report.errors:
                err_console.print(f"[red]bad row[/] {escape(str(path))}: {escape(reason)}", soft_wrap=True)
            if report.ignored_columns:
                note(f"[yellow]note:[/] columns that name no MAST mode were ignored: "
                     f"{escape(', '.join(report.ignored_columns))}")
            if report.unmatched:
                more = " ..." if len(report.unmatched) > MAX_LISTED else ""
                shown = ", ".join(report.unmatched[:MAX_LISTED]) + more
                note(f"[yellow]note:[/] {len(report.unmatched)} labelled ids match no stored trace yet (they join "
                     f"once those traces are ingested under the same id): {escape(shown)}")
        if report.imported == 0:
            raise typer.Exit(EXIT_USAGE)
        raise typer.Exit(EXIT_PARTIAL if report.errors else EXIT_OK)
