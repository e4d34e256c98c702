"""`mastlens formats`: every input format mastlens reads, what it detects each on, and where each keeps
a run's outcome."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand

from mastlens.cli.common import JsonOption, console, print_json


def outcome_notes() -> list[tuple[str, str]]:
    """(format, where its outcome goes) for every format that can carry one."""
    from mastlens.adapters import all_adapters

    return [(a.name, a.outcome) for a in all_adapters() if a.outcome and not a.outcome.startswith("none")]


class _FormatsCommand(TyperCommand):
    """`formats --help` ends with where each format keeps the outcome (read from the adapters when asked)."""

    def format_help(self, ctx, formatter) -> None:  # noqa: ANN001
        lines = [f"{name}: {where}" for name, where in outcome_notes()]
        self.epilog = ("Where the outcome (success, score, metrics) goes, per format; a --success rule "
                       "decides success from score or a metric:\n\n" + "\n\n".join(lines))
        super().format_help(ctx, formatter)


def register(app: typer.Typer) -> None:
    @app.command("formats", cls=_FormatsCommand)
    def formats_command(as_json: bool = JsonOption) -> None:
        """List the input formats (names for --format), what auto-detection looks for, and where each keeps
        a run's outcome."""
        from mastlens.adapters import Adapter, all_adapters

        rows = [
            {"name": a.name, "description": a.description, "detects": a.detects, "outcome": a.outcome or "none",
             "extensions": list(a.extensions) if type(a).sniff is not Adapter.sniff else [],
             "folders": a.reads_dirs}
            for a in all_adapters()
        ]
        if as_json:
            print_json(rows)
            return
        table = Table(title=f"{len(rows)} input formats (use the name with --format; auto tries them in this order)",
                      title_justify="left")
        for col in ("format", "what it is", "detected on", "outcome"):
            table.add_column(col, overflow="fold")
        for r in rows:
            where = " and ".join(x for x in (", ".join(r["extensions"]), "folders" if r["folders"] else "") if x)
            table.add_row(r["name"], escape(r["description"]), escape(f"{r['detects']} [{where}]"),
                          escape(r["outcome"]))
        console.print(table)
