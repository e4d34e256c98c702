"""`mastlens stats`: failure signatures per group, fatal vs benign modes, cascades, comparison, regression."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mastlens.cli.tables import WideOption
from mastlens.cli.common import EXIT_USAGE, DbOption, JsonOption, console, fail, open_store, print_json, resolve_set
from mastlens.cli.report import (
    CompareOption, FromOption, GroupByOption, ModelAliasOption, SuccessOption, VerdictRulesOption, dataset_stats,
    model_aliases, verdict_rules,
)

StatsReferenceOption = typer.Option(
    None, "--reference", help="Human labels to correct prevalences with (the judge's sensitivity/specificity).")


def register(app: typer.Typer) -> None:
    @app.command("stats")
    def stats_command(
        set_name: Optional[str] = typer.Option(
            None, "--set", help="Annotation set (default: the most recently written)."),
        group_by: str = GroupByOption,
        success: Optional[str] = SuccessOption,
        compare: Optional[tuple[str, str]] = CompareOption,
        rules_file: Optional[Path] = VerdictRulesOption,
        model_alias: Optional[list[str]] = ModelAliasOption,
        reference: Optional[str] = StatsReferenceOption,
        from_source: Optional[str] = FromOption,
        db: Path = DbOption,
        as_json: bool = JsonOption,
        wide: bool = WideOption,
    ) -> None:
        """Statistics of an annotation set: per group and mode, with CIs, tests and verdicts."""
        from mastlens.analysis import compute_stats
        from mastlens.cli.stats_view import print_stats
        from mastlens.taxonomy import load_taxonomy

        rules = verdict_rules(rules_file)
        aliases = model_aliases(model_alias)
        if from_source:  # an exported Parquet dataset, through DuckDB
            result = dataset_stats(from_source, set_name, group_by=group_by, success=success, reference=reference,
                                   compare=compare, rules=rules, aliases=aliases)
        else:
            with open_store(db, must_exist=True) as store:
                name = resolve_set(store, set_name)
                if reference:
                    resolve_set(store, reference)
                try:
                    result = compute_stats(store, name, group_by=group_by, success_rule=success,
                                           compare=list(compare) if compare else None, rules=rules,
                                           model_aliases=aliases, reference=reference)
                except ValueError as exc:
                    fail(f"cannot compute statistics for set {name!r}: {exc}")
        if result.n_traces == 0:
            ex = result.excluded
            fail(f"set {name!r} has no current annotation of a stored trace ({ex.stale} stale, {ex.errors} judge "
                 f"errors, {ex.not_in_store} of traces not in the store): ingest the traces or re-annotate", EXIT_USAGE)
        if as_json:
            print_json(result.model_dump(mode="json"))
            return
        print_stats(result, {m.id: m.name for m in load_taxonomy().modes}, wide=wide)
        if result.success_decided:
            console.print(result.success_decided, soft_wrap=True)
