"""`mastlens traces`: list stored traces."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from mastlens.cli.common import DbOption, JsonOption, console, open_store, print_json
from mastlens.cli.tables import ID_WIDTH, NAME_WIDTH, WideOption, fitted_table, middle, print_table


def _short(task: str | None, limit: int = 40) -> str:
    """A task can be a whole question (Who&When): its first line, shortened, keeps the table readable."""
    if not task:
        return "-"
    line = task.strip().splitlines()[0] if task.strip() else "-"
    return line if len(line) <= limit and line == task.strip() else line[: limit - 1].rstrip() + "…"


def register(app: typer.Typer) -> None:
    @app.command("traces")
    def traces_command(db: Path = DbOption, as_json: bool = JsonOption, wide: bool = WideOption) -> None:
        """List every stored trace."""
        with open_store(db, must_exist=True) as store:
            rows = store.trace_rows()
        if as_json:
            print_json([
                {"id": r.id, "format": r.format, "model": r.model, "task": r.task, "n_steps": r.n_steps,
                 "n_tool_calls": r.n_tool_calls, "success": r.success, "score": r.score}
                for r in rows
            ])
            return
        columns = ["id", "format", "model", "task", "steps", "tool calls", "success", "score"] if wide else \
            ["id", "model", "steps", "success", "score"]
        table = fitted_table(f"{len(rows)} stored traces", columns, right_from=len(columns) - 3 if not wide else 4,
                             wrap=("task",))
        for r in rows:
            success = "-" if r.success is None else ("yes" if r.success else "no")
            score = "-" if r.score is None else f"{r.score:g}"
            cells = {"id": r.id if wide else middle(r.id, ID_WIDTH), "format": r.format,
                     "model": (r.model or "-") if wide else middle(r.model or "-", NAME_WIDTH - 2),
                     "task": _short(r.task), "steps": str(r.n_steps), "tool calls": str(r.n_tool_calls),
                     "success": success, "score": score}
            table.add_row(*(escape(cells[c]) for c in columns))
        print_table(console, table, wide)
        if not wide:
            console.print("[dim]ids are cut in the middle: --json gives them whole, --wide shows every column[/]")
