"""The ``mastlens`` command. Each command lives in its own module with a ``register(app)``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path
from typing import Optional

import typer

import mastlens.cli as cli_package

app = typer.Typer(
    name="mastlens",
    help="Find out why LLM agents fail: MAST failure-mode diagnosis of agent traces.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# Modules of this package that hold no command (views, shared options): never imported to register.
_SUPPORT_MODULES = {"app", "common", "tables"}


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


def _register_commands() -> None:
    """Import every command module and let it add its command. Registration must stay cheap: a command
    module imports what its command needs inside the command function, not at the top."""
    for info in sorted(pkgutil.iter_modules(cli_package.__path__), key=lambda m: m.name):
        if info.name in _SUPPORT_MODULES or info.name.startswith("_") or info.name.endswith("_view"):
            continue
        module = importlib.import_module(f"mastlens.cli.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_commands()


def main() -> None:
    app()
