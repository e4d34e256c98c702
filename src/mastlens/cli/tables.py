"""Rich tables that stay readable at 80 columns: headers are never squeezed into "suc…", ids are cut in the
middle to one line (the whole id is in ``--json``), and ``--wide`` shows every column and whole ids."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

WideOption = typer.Option(False, "--wide", help="Every column and whole ids (default: what fits 80 columns).")
ID_WIDTH = 24
NAME_WIDTH = 20


def middle(text: str, limit: int) -> str:
    """``text`` cut in the middle to ``limit`` characters ("Algorithm-Ge…ed/102"), both ends kept."""
    if limit <= 0 or len(text) <= limit:
        return text
    head = (limit - 1) // 2 + (limit - 1) % 2
    return f"{text[:head]}…{text[len(text) - (limit - 1 - head):]}"


def fitted_table(title: str, columns: list[str], *, right_from: int = 1, wrap: tuple[str, ...] = ()) -> Table:
    """A table whose headers keep their full width; only the ``wrap`` columns may wrap their cells."""
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        wraps = col in wrap
        table.add_column(col, justify="right" if i >= right_from and not wraps else "left", no_wrap=not wraps,
                         min_width=len(col), overflow="fold" if wraps else "ellipsis")
    return table


def print_table(console: Console, table: Table, wide: bool = False) -> None:
    """Print ``table``; ``wide`` lets it run past the terminal's width instead of squeezing every column."""
    if not wide:
        console.print(table)
        return
    needed = console.measure(table, options=console.options.update_width(10_000)).maximum
    if needed <= console.width:
        console.print(table)
        return
    # rich never renders past its console's width, so a wider console on the same output
    Console(file=console.file, width=needed, highlight=False, color_system=console.color_system,
            force_terminal=console.is_terminal).print(table, crop=False)
