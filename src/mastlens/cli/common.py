"""Shared CLI pieces: consoles, the --db option, exit codes and JSON output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:  # the store (and pydantic behind it) loads when a command opens it
    from mastlens.store import Store

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

DbOption = typer.Option(
    None, "--db", envvar="MASTLENS_DB", help="SQLite store (default ./mastlens.db).", show_default=False
)
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


def open_store(db: Path | None, *, must_exist: bool = False) -> Store:
    """The store at ``--db`` (or the default). Commands that only read it pass ``must_exist`` so that a
    mistyped path is an error, not a new empty database."""
    from mastlens.store import Store, default_db_path

    path = db or default_db_path()
    if must_exist and str(path) != ":memory:" and not Path(path).exists():
        fail(f"no traces stored: {path} does not exist; run `mastlens ingest PATH` or `mastlens analyze PATH` "
             "first, or point --db (or MASTLENS_DB) at your store")
    return Store(path)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    # the message is plain text: file names, trace ids and reasons may hold brackets rich would eat
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


def check_format(fmt: str) -> None:
    """Fail with one line unless ``fmt`` is auto or a known input format."""
    from mastlens.adapters import format_names

    if fmt != "auto" and fmt not in format_names():
        fail(f"unknown format {fmt!r}; choose auto or one of: {', '.join(format_names())}")


def note(message: str) -> None:
    err_console.print(message, soft_wrap=True)


def resolve_set(store: Store, name: str | None, *, quiet: bool = False) -> str:
    """The named annotation set, or the most recently written one (saying which)."""
    if name:
        if store.get_set(name) is None:
            known = ", ".join(s.name for s in store.list_sets()) or "none yet"
            fail(f"no annotation set {name!r} (known sets: {known})")
        return name
    latest = store.latest_set()
    if latest is None:
        fail("no annotation sets yet: run `mastlens annotate` (or `mastlens import-labels`) first")
    if not quiet:
        note(f"using annotation set [bold]{latest}[/] (the most recently written; pick one with --set)")
    return latest
