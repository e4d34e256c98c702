"""The ``mastlens`` command. Each command lives in its own module with a ``register(app)``.

Commands load lazily: ``mastlens traces`` imports ``mastlens.cli.traces`` and no other command module;
``mastlens --help`` (and a mistyped command's suggestions) import them all to list them.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer
from typer.core import TyperGroup

import mastlens.cli as cli_package

# Modules of this package that hold no command (views, shared options): never imported to register.
_SUPPORT_MODULES = {"app", "common", "tables"}


def _is_command_module(name: str) -> bool:
    return name not in _SUPPORT_MODULES and not name.startswith("_") and not name.endswith("_view")


def command_names() -> list[str]:
    """Every command's name, in help order: the command module's name with ``-`` for ``_``."""
    modules = (m.name for m in pkgutil.iter_modules(cli_package.__path__))
    return sorted(name.replace("_", "-") for name in modules if _is_command_module(name))


def load_command(name: str, rich_markup_mode: Any) -> Any:
    """The click command ``name``, built from its module's ``register(app)`` on an app of its own; None
    when no command module has that name."""
    module_name = name.replace("-", "_")
    if name != module_name.replace("_", "-") or not _is_command_module(module_name):
        return None
    try:
        module = importlib.import_module(f"{cli_package.__name__}.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{cli_package.__name__}.{module_name}":
            return None
        raise
    single = typer.Typer(add_completion=False, rich_markup_mode=rich_markup_mode)
    module.register(single)
    registered = [info.name for info in single.registered_commands]
    if registered != [name]:  # the convention the lazy lookup rests on
        raise RuntimeError(f"{module.__name__}.register must add exactly the command {name!r}, not {registered}")
    return typer.main.get_command(single)


class _LazyCommands(MutableMapping):
    """The group's name -> command table: names come from the module list, a command loads on first lookup."""

    def __init__(self, rich_markup_mode: Any):
        self._markup = rich_markup_mode
        self._names: list[str] | None = None
        self._loaded: dict[str, Any] = {}

    def _all_names(self) -> list[str]:
        if self._names is None:
            self._names = command_names()
        return [*self._names, *(n for n in self._loaded if n not in self._names)]

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            command = load_command(name, self._markup)
            if command is None:
                raise KeyError(name)
            self._loaded[name] = command
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all_names())

    def __len__(self) -> int:
        return len(self._all_names())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._loaded or name in self._all_names())


class LazyGroup(TyperGroup):
    """A group whose commands import on first use, so one command never pays for the others."""

    def __init__(self, **attrs: Any):
        super().__init__(**attrs)
        lazy = _LazyCommands(self.rich_markup_mode)
        for name, command in self.commands.items():  # any added directly to the app
            lazy[name] = command
        self.commands = lazy

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)


app = typer.Typer(
    name="mastlens",
    cls=LazyGroup,
    help="Find out why LLM agents fail: MAST failure-mode diagnosis of agent traces.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def _global_options(
    taxonomy: Optional[Path] = typer.Option(
        None, "--taxonomy", envvar="MASTLENS_TAXONOMY", show_default=False,
        help="Your own taxonomy file (same schema as the packaged MAST one) for judging, statistics and reports."),
) -> None:
    """Find out why LLM agents fail: MAST failure-mode diagnosis of agent traces."""
    if taxonomy is None and "mastlens.taxonomy" not in sys.modules:
        return  # the packaged taxonomy, loaded by whichever command needs it (`traces` does not)
    from mastlens.taxonomy import TaxonomyError, use_taxonomy

    try:
        use_taxonomy(taxonomy)  # every invocation sets it, so one run's choice never leaks into the next
    except TaxonomyError as exc:
        from mastlens.cli.common import fail

        fail(str(exc))


def main() -> None:
    """Run the command, then leave without the interpreter's module teardown (0.1-0.2 s for this import
    graph on a 2-core machine, every run): open stores are closed first (their WAL checkpointed), atexit
    handlers run and output is flushed, as a normal exit would. An uncaught exception exits normally."""
    try:
        app()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    _leave(code)


def _leave(code: object) -> NoReturn:
    import atexit
    import os

    if "mastlens.store.db" in sys.modules:
        sys.modules["mastlens.store.db"].close_open_stores()
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # SystemExit("message"): printed, status 1, like the interpreter does
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(status)
