"""`mastlens show`: a readable step timeline, or the normalized trace as JSON."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from mastlens.cli.common import (
    EXIT_PARTIAL, DbOption, JsonOption, check_format, console, err_console, fail, open_store, print_json,
    store_location,
)

if TYPE_CHECKING:
    from mastlens.trace import Trace

_STYLE = {  # by StepKind value
    "system": "magenta", "user": "cyan", "assistant": "green", "reasoning": "dim green", "tool_call": "yellow",
    "tool_result": "white", "error": "red", "event": "blue",
}


# Longer bodies are printed under a rule and left to the terminal to wrap: rich's panel layout grows
# faster than linearly with one long unbroken line (30 MB would take many minutes).
PANEL_LIMIT = 20_000


def _clip(text: str, limit: int) -> str:
    if limit <= 0 or len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters omitted; --full shows all ...]\n{text[-half:]}"


def _print_source_labels(labels: list) -> None:
    for label in labels:
        body = Text(label.headline + "\n", style="bold")
        body.append(label.text or "(no reason given)")
        for name, value in label.details:
            body.append(f"\n{name}: {value}", style="dim")
        console.print(Panel(body, title="the source's own failure label", title_align="left", border_style="red"))


def exit_statuses(trace: Trace) -> dict[str, str]:
    """Call id -> how its command ended ("exit 0", "exit 2", "timed out"), for the calls whose result says."""
    out: dict[str, str] = {}
    for step in trace.steps:
        if step.kind.value != "tool_result" or not step.call_id:
            continue
        code = step.metadata.get("exit_code")
        if isinstance(code, int) and not isinstance(code, bool):
            out[step.call_id] = f"exit {code}"
        elif step.metadata.get("timed_out"):
            out[step.call_id] = "timed out"
    return out


def _print_command(title: str, status: str, command: str, style: str) -> bool:
    """A call with an exit status as one line: title, status, the command's first line. Returns whether the
    command had more lines (then its panel follows)."""
    first, _, rest = command.strip().partition("\n")
    extra = rest.count("\n") + 1
    more = f"  [+{extra} lines]" if rest else ""
    line = Text.from_markup(f"[{style}]{title}[/]  ")
    line.append(status, style="bold red" if status != "exit 0" else "bold green")
    line.append(f"  $ {first}{more}")
    console.print(line, soft_wrap=True)
    return bool(rest)


def print_timeline(trace: Trace, limit: int, decisive: dict[int, list[str]] | None = None) -> None:
    """The step timeline. The source's own failure labels mark their step; ``decisive`` maps a step to the
    lines saying an annotation set localized the failure there (marked "went wrong here")."""
    from mastlens.report.drilldown import step_text
    from mastlens.report.source_labels import source_labels

    decisive = decisive or {}
    outcome = trace.outcome
    head = (f"[bold]{escape(trace.id)}[/]  format={trace.source.format}  model={escape(trace.model or '-')}  "
            f"steps={len(trace.steps)}  success={outcome.success}  score={outcome.score}")
    console.print(head)
    if trace.task:
        console.print(f"task: {escape(trace.task)}")
    for note in trace.metadata.get("notes") or []:  # what the reader wants a user to know about this trace
        console.print(f"[yellow]note:[/] {escape(str(note))}", soft_wrap=True)
    labels = source_labels(trace)
    _print_source_labels(labels)
    marked = {label.step: label for label in labels if label.step is not None}
    ended = exit_statuses(trace)
    for position, step in enumerate(trace.steps):
        title = escape(" | ".join(x for x in [f"step {step.index}", step.kind.value, step.agent, step.tool] if x))
        style = _STYLE.get(step.kind.value, "white")
        mark = marked.get(position)
        if mark is not None:
            title += f"  [bold red]<< {escape(mark.headline)}[/]"
            style = "bold red"
        if step.index in decisive:
            title += "  [bold red]<< went wrong here[/]"
            style = "bold red"
        body = _clip(step_text(step), limit)
        status = ended.get(step.call_id or "") if step.kind.value == "tool_call" else None
        if status is None:
            _print_body(title, body, style)
        elif _print_command(title, status, step.content or body, style):  # several lines: shown whole below
            _print_body("", _clip(step.content, limit) if step.content else body, style)
        for line in decisive.get(step.index, []):
            console.print(f"[bold red]went wrong here[/] {escape(line)}", soft_wrap=True)


def _print_body(title: str, body: str, style: str) -> None:
    if len(body) > PANEL_LIMIT:
        console.rule(title, align="left", style=style)
        console.print(Text(body), soft_wrap=True)
    else:
        console.print(Panel(Text(body) if body else Text("(empty)", style="dim"), title=title or None,
                            title_align="left", border_style=style))


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
            from mastlens.store.pg import is_server_url

            store_path = store_location(db)
            if not is_server_url(store_path) and not Path(store_path).exists():
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
