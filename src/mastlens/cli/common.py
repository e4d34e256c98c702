"""Shared CLI pieces: consoles, the --db option, exit codes and JSON output."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:  # the store (and pydantic behind it) loads when a command opens it
    from mastlens.store import Store

T = TypeVar("T")

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

DbOption = typer.Option(
    None, "--db", envvar="MASTLENS_DB", show_default=False,
    help="The store: a SQLite file (default ./mastlens.db) or postgresql://USER@HOST:PORT/NAME.",
)
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


def store_location(db: Path | str | None) -> Path | str:
    """What ``--db`` names: a file, or a server URL (typer hands every value over as a Path, which folds the
    URL's ``//``: the value as given on the command line or in MASTLENS_DB is taken back)."""
    from mastlens.store import default_location
    from mastlens.store.pg import URL_SCHEMES

    if db is None:
        return default_location()
    text = str(db)
    if not text.startswith(tuple(s.replace("//", "/") for s in URL_SCHEMES)) or text.startswith(URL_SCHEMES):
        return db
    given = [*sys.argv[1:], os.environ.get("MASTLENS_DB") or ""]
    given += [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--db=")]
    return next((g for g in given if g.startswith(URL_SCHEMES) and str(Path(g)) == text),
                text.replace(":/", "://", 1))


def open_store(db: Path | str | None, *, must_exist: bool = False) -> Store:
    """The store at ``--db`` (or the default). Commands that only read it pass ``must_exist`` so that a
    mistyped path is an error, not a new empty database. A server that cannot be reached, a refused login
    or a store of a newer schema is a one-line error (naming no password)."""
    from mastlens.store import Store
    from mastlens.store.migrations import SchemaTooNew
    from mastlens.store.pg import StoreConnectionError, is_server_url

    location = store_location(db)
    if must_exist and not is_server_url(location) and str(location) != ":memory:" and not Path(location).exists():
        fail(f"no traces stored: {location} does not exist; run `mastlens ingest PATH` or `mastlens analyze PATH` "
             "first, or point --db (or MASTLENS_DB) at your store")
    try:
        return Store(location)
    except (StoreConnectionError, SchemaTooNew) as exc:
        fail(str(exc))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    # the message is plain text: file names, trace ids and reasons may hold brackets rich would eat
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


def load_or_fail(load: Callable[[Path], T], path: Path) -> T:
    """``load(path)`` for a file an option names; a ValueError (a bad file: its name and the reason) fails
    as a usage error."""
    try:
        return load(path)
    except ValueError as exc:
        fail(str(exc))


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
