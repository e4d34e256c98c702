"""`mastlens ingest`: read traces from files and folders into the store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from mastlens.cli.common import (
    EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, DbOption, JsonOption, check_format, console, err_console, fail, open_store,
    print_json,
)

if TYPE_CHECKING:  # the adapters load when a command reads files
    from mastlens.store.ingest import IngestReport


def print_ingest_report(report: IngestReport) -> None:
    """The summary table: per format and model, then skipped and failed files."""
    table = Table(title="Ingested traces", title_justify="left")
    for col in ("format", "model", "traces", "steps", "tool calls", "success rate"):
        table.add_column(col, justify="right" if col not in ("format", "model") else "left")
    for g in sorted(report.groups.values(), key=lambda g: (g.format, g.model or "")):
        rate = f"{g.success_rate:.0%} of {g.judged}" if g.success_rate is not None else "-"
        table.add_row(g.format, g.model or "-", str(g.traces), str(g.steps), str(g.tool_calls), rate)
    console.print(table)
    console.print(
        f"{report.ingested} new or changed, {report.skipped_duplicates} already stored, "
        f"{len(report.skipped)} files skipped, {len(report.failed)} failed"
    )
    if report.success is not None and report.success.total:
        console.print(report.success.describe(), soft_wrap=True)
    if report.tags:
        tags = ", ".join(f"{k}={v}" for k, v in sorted(report.tags.items()))
        retagged = f"; {report.retagged} already stored traces retagged" if report.retagged else ""
        console.print(f"tagged {escape(tags)}{retagged}", soft_wrap=True, highlight=False)
    if report.labels:
        sets = ", ".join(f"{name} ({n} traces)" for name, n in sorted(report.labels.items()))
        console.print(f"reference labels stored as annotation sets: {sets}", soft_wrap=True)
    for note in report.notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
    for skip in report.skipped:
        err_console.print(f"[dim]skipped {escape(skip.path)}: {escape(skip.reason)}[/]", soft_wrap=True)
    for failure in report.failed:
        err_console.print(f"[red]failed[/] {escape(failure.describe())}", soft_wrap=True, markup=True, highlight=False)


def exit_code(report: IngestReport) -> int:
    if not report.read_anything:  # every input failed, or there was no trace to read at all
        return EXIT_USAGE
    return EXIT_PARTIAL if report.failed else EXIT_OK


TagOption = typer.Option(
    None, "--tag", help="KEY=VALUE stored with every trace read (repeatable), e.g. --tag run=baseline; "
    "tags are group keys (--group-by run, diff --by run).")


def run_ingest(paths: list[Path], db: Path | None, fmt: str, success: str | None,
               tags: list[str] | None = None, group_spans_by: str | None = None) -> IngestReport:
    from mastlens.store.ingest import ingest, parse_tags
    from mastlens.trace import SuccessRuleError

    check_format(fmt)
    try:
        parsed = parse_tags(tags)
    except ValueError as exc:
        fail(str(exc))
    with open_store(db) as store:
        try:
            return ingest(paths, store, fmt=fmt, success_rule=success, tags=parsed, group_spans_by=group_spans_by)
        except SuccessRuleError as exc:
            fail(str(exc))


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest_command(
        paths: list[Path] = typer.Argument(..., help="Files or folders of traces (folders are walked)."),
        fmt: str = typer.Option("auto", "--format", "-f", help="Input format, or auto to sniff each file."),
        success: str = typer.Option(None, "--success", help="Success rule, e.g. 'score>=1' (default) or 'score>0'."),
        tag: list[str] = TagOption,
        group_spans_by: str = typer.Option(
            None, "--group-spans-by", metavar="KEY",
            help="OTel: the span attribute that joins model calls with no parent span into one run "
                 "(session.id and gen_ai.conversation.id are used without it)."),
        db: Path = DbOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Read traces from files and folders into the store and summarize them. OTel traces and logs
        exports given together are joined by trace and span id."""
        report = run_ingest(paths, db, fmt, success, tag, group_spans_by)
        if as_json:
            print_json(report.to_json())
        else:
            print_ingest_report(report)
        if not report.read_anything and not report.failed:
            err_console.print(f"[bold red]error:[/] no trace found in {escape(', '.join(map(str, paths)))}",
                              soft_wrap=True)
        raise typer.Exit(exit_code(report))
