"""`mastlens show`: a readable step timeline, or the normalized trace as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.panel import Panel

from mastlens.cli.common import (
    EXIT_PARTIAL, DbOption, JsonOption, check_format, console, err_console, fail, open_store, print_json,
)
from mastlens.store import default_db_path
from mastlens.trace import StepKind, Trace

_STYLE = {
    StepKind.SYSTEM: "magenta", StepKind.USER: "cyan", StepKind.ASSISTANT: "green",
    StepKind.REASONING: "dim green", StepKind.TOOL_CALL: "yellow", StepKind.TOOL_RESULT: "white",
    StepKind.ERROR: "red", StepKind.EVENT: "blue",
}


def _clip(text: str, limit: int) -> str:
    if limit <= 0 or len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters omitted; --full shows all ...]\n{text[-half:]}"


def print_timeline(trace: Trace, limit: int, decisive: dict[int, list[str]] | None = None) -> None:
    """The step timeline; ``decisive`` maps a step to the lines saying an annotation set localized the
    failure there (marked "went wrong here")."""
    decisive = decisive or {}
    outcome = trace.outcome
    head = (f"[bold]{escape(trace.id)}[/]  format={trace.source.format}  model={escape(trace.model or '-')}  "
            f"steps={len(trace.steps)}  success={outcome.success}  score={outcome.score}")
    console.print(head)
    if trace.task:
        console.print(f"task: {escape(trace.task)}")
    for step in trace.steps:
        label = " | ".join(x for x in [f"step {step.index}", step.kind.value, step.agent, step.tool] if x)
        if step.index in decisive:
            label += " | went wrong here"
        body = step.content
        if step.kind is StepKind.TOOL_CALL and step.arguments is not None:
            args = step.arguments if isinstance(step.arguments, str) else json.dumps(step.arguments, ensure_ascii=False)
            body = f"{body}\n{args}".strip()
        console.print(Panel(escape(_clip(body, limit)) or "[dim](empty)[/]", title=escape(label),
                            title_align="left", border_style="bold red" if step.index in decisive
                            else _STYLE.get(step.kind, "white")))
        for line in decisive.get(step.index, []):
            console.print(f"[bold red]went wrong here[/] {escape(line)}", soft_wrap=True)


def decisive_steps(store, trace_id: str) -> dict[int, list[str]]:  # noqa: ANN001 - a Store
    """Step -> "(set X) agent reason" for every annotation set whose verdict names this trace's decisive step."""
    out: dict[int, list[str]] = {}
    for set_name, step, agent, reason in store.decisive_steps(trace_id):
        out.setdefault(step, []).append(" ".join(p for p in (f"(set {set_name})", agent or "", reason) if p))
    return out


def register(app: typer.Typer) -> None:
    @app.command("show")
    def show_command(
        target: str = typer.Argument(..., help="A stored trace id, or a path to read without the store."),
        fmt: str = typer.Option("auto", "--format", "-f", help="Input format when TARGET is a path."),
        full: bool = typer.Option(False, "--full", help="Do not shorten long step contents."),
        db: Path = DbOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Show a trace as a step timeline (an existing path wins over an id)."""
        path = Path(target)
        failed = False
        decisive: dict[int, list[str]] = {}
        if path.exists():
            check_format(fmt)
            from mastlens.adapters.loader import FileResult, walk

            traces: list[Trace] = []
            for result in walk([path], fmt):
                if isinstance(result, FileResult):
                    traces.extend(result.traces)
                    for f in result.failures:
                        failed = True
                        err_console.print(f"[red]failed[/] {escape(f.describe())}", soft_wrap=True)
            if not traces:
                fail(f"no trace could be read from {target}")
        else:
            store_path = db or default_db_path()
            if not Path(store_path).exists():
                fail(f"no such path {target!r}, and no store at {store_path} to look it up as a trace id")
            with open_store(store_path) as store:
                trace = store.get_trace(target)
                decisive = decisive_steps(store, target) if trace is not None else {}
            if trace is None:
                fail(f"no stored trace with id {target!r} and no such path")
            traces = [trace]
        if as_json:
            print_json([t.model_dump(mode="json") for t in traces])
        else:
            for trace in traces:
                print_timeline(trace, 0 if full else 2000, decisive)
        if failed:
            raise typer.Exit(EXIT_PARTIAL)
