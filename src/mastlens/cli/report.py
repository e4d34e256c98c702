"""`mastlens report`: render the HTML report (and a Markdown summary) from what is stored."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.markup import escape

from mastlens.cli.calibrate import CalibrationOption, load_calibration_option
from mastlens.cli.common import DbOption, console, fail, load_or_fail, note, open_store, resolve_set
if TYPE_CHECKING:
    from mastlens.store import Store

OutOption = typer.Option(Path("report.html"), "-o", "--output", help="Where to write the HTML report.")
MdOption = typer.Option(None, "--md", help="Also write a Markdown summary (fit for a PR comment).")
GroupByOption = typer.Option("model", "--group-by", help="Group traces by model, system, task or a metadata key.")
SuccessOption = typer.Option(None, "--success", help="Success rule, e.g. 'score>=1' (default) or 'score>0'.")
CompareOption = typer.Option(None, "--compare", help="Compare two groups: --compare A B.")
ReferenceOption = typer.Option(None, "--reference", help="Annotation set to measure agreement against (e.g. human labels).")
VerdictRulesOption = typer.Option(
    None, "--verdict-rules", help="TOML file of fatal/benign verdict thresholds (VerdictRules fields).")
ModelAliasOption = typer.Option(
    None, "--model-alias", metavar="NAME=GROUP",
    help="Group model NAME with GROUP (repeatable), e.g. gpt-4o-2024-08-06=gpt-4o. Models are grouped by name "
         "without provider prefixes (openai/gpt-4o is gpt-4o); traces keep the raw name.")
DiffOption = typer.Option(None, "--diff", help="Add a Diff section: --diff BASE NEW (values of --diff-by).")
DiffByOption = typer.Option("run", "--diff-by", help="The key naming the runs of --diff (default the tag run).")
DiffMatchOption = typer.Option(None, "--diff-match", help="Pair the --diff runs' traces on this key (e.g. task).")
FromOption = typer.Option(
    None, "--from", metavar="DIR|GLOB",
    help="Compute from an exported Parquet dataset (`export --to parquet DIR`, or a glob such as "
         "'DIR/**/*.parquet') through DuckDB instead of the store.")
MaxTracesOption = typer.Option(
    1000, "--max-traces", help="Traces given a drill-down (failed first; keeps the file under about 15 MB).")


def verdict_rules(path: Path | None):  # noqa: ANN201 - a VerdictRules (imported lazily: the analysis stack is slow)
    """The verdict rules from ``--verdict-rules FILE``, or the defaults."""
    from mastlens.analysis.groups import DEFAULT_RULES, load_verdict_rules

    return DEFAULT_RULES if path is None else load_or_fail(load_verdict_rules, path)


def model_aliases(items: list[str] | None) -> dict[str, str]:
    """``--model-alias`` values as a mapping (a malformed one is a usage error)."""
    from mastlens.trace.model_names import ModelAliasError, parse_aliases

    try:
        return parse_aliases(items)
    except ModelAliasError as exc:
        fail(str(exc))


def dataset_stats(source: str, set_name: str | None, *, group_by: str, success: str | None, reference: str | None,
                  compare: tuple[str, str] | None, rules, aliases: dict[str, str] | None):  # noqa: ANN001, ANN201
    """The statistics of ``--from SOURCE`` (a Parquet dataset), or a usage error naming what is wrong."""
    from mastlens.analysis.parquet_source import stats_from_parquet

    if success:
        fail("--success with --from: the success rule was applied at export; export again with --success RULE")
    if reference:
        fail("--reference with --from: reference labels are in the store, not in the dataset; drop --from")
    try:
        stats = stats_from_parquet(source, set_name, group_by=group_by, compare=list(compare) if compare else None,
                                   rules=rules, model_aliases=aliases)
    except ValueError as exc:
        fail(f"cannot compute statistics from {source}: {exc}")
    if stats.n_traces == 0:
        fail(f"{source}: set {stats.set!r} has no failure vectors there")
    return stats


def write_reports(
    store: Store, set_name: str, *, output: Path, md: Path | None, group_by: str, success: str | None,
    compare: tuple[str, str] | None, reference: str | None, max_traces: int, rules=None,  # noqa: ANN001
    aliases: dict[str, str] | None = None,
    diff=None,  # noqa: ANN001
    from_source: str | None = None,
    calibration=None,  # noqa: ANN001
) -> None:
    """Compute the statistics (and agreement), render the report(s) and say where they are.
    ``rules``: the verdict rules (default :data:`~mastlens.analysis.groups.DEFAULT_RULES`); ``diff``: a
    ``DiffResult`` for a Diff section (and its Markdown summary); ``from_source``: a Parquet dataset the
    statistics are computed from (the store then only gives the drill-downs of the traces it holds);
    ``calibration``: a ``Calibration`` whose thresholds apply to the set (the reliability card shows them with
    the agreement before and after)."""
    from mastlens.analysis import compute_agreement, compute_stats
    from mastlens.report import render_html, render_markdown

    rules = rules or verdict_rules(None)
    started = time.perf_counter()
    if reference and store.get_set(reference) is None:
        known = ", ".join(s.name for s in store.list_sets()) or "none"
        fail(f"no annotation set {reference!r} to compare against (known sets: {known})")
    if from_source:
        stats = dataset_stats(from_source, set_name, group_by=group_by, success=success, reference=reference,
                              compare=compare, rules=rules, aliases=aliases)
        set_name = stats.set
    else:
        stats = None
    try:  # a reference also corrects the prevalences for the judge's measured error
        stats = stats or compute_stats(store, set_name, group_by=group_by, success_rule=success,
                              compare=list(compare) if compare else None, rules=rules, model_aliases=aliases,
                              reference=reference if reference != set_name else None, calibration=calibration)
    except ValueError as exc:
        fail(f"cannot compute statistics for set {set_name!r}: {exc}")
    agreement = None
    if reference:
        if reference == set_name:
            note(f"[yellow]note:[/] --reference {reference} is the set being reported; agreement skipped")
        else:
            agreement = compute_agreement(store, reference, set_name, calibration=calibration)
            if not agreement.n_traces:
                note(f"[yellow]note:[/] no trace is annotated in both {escape(reference)} and {escape(set_name)}; "
                     "agreement skipped")
                agreement = None
    if stats.calibration is not None:
        console.print(f"[bold]{escape(stats.calibration.describe())}[/]", soft_wrap=True)
    html = render_html(store, set_name, stats, agreement=agreement, max_traces=max_traces, diff=diff,
                       calibration=calibration)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html, encoding="utf-8")
    size = output.stat().st_size
    console.print(f"report written to [bold]{output.resolve()}[/] ({size / 1e6:.1f} MB, "
                  f"{time.perf_counter() - started:.1f} s); open it in a browser", soft_wrap=True)
    if md is not None:
        md.parent.mkdir(parents=True, exist_ok=True)
        text = render_markdown(store, set_name, stats, agreement=agreement, report_path=str(output))
        if diff is not None:
            from mastlens.report.diff_markdown import render_diff_markdown

            text += "\n" + render_diff_markdown(diff, heading="###")
        md.write_text(text, encoding="utf-8")
        console.print(f"summary written to [bold]{md.resolve()}[/]", soft_wrap=True)


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_command(
        set_name: Optional[str] = typer.Option(None, "--set", help="Annotation set (default: the most recent)."),
        output: Path = OutOption,
        md: Optional[Path] = MdOption,
        group_by: str = GroupByOption,
        success: Optional[str] = SuccessOption,
        compare: Optional[tuple[str, str]] = CompareOption,
        reference: Optional[str] = ReferenceOption,
        max_traces: int = MaxTracesOption,
        rules_file: Optional[Path] = VerdictRulesOption,
        model_alias: Optional[list[str]] = ModelAliasOption,
        diff_runs: Optional[tuple[str, str]] = DiffOption,
        diff_by: str = DiffByOption,
        diff_match: Optional[str] = DiffMatchOption,
        from_source: Optional[str] = FromOption,
        calibration_file: Optional[Path] = CalibrationOption,
        db: Path = DbOption,
    ) -> None:
        """Render a self-contained HTML report (and optionally Markdown) from stored annotations."""
        rules = verdict_rules(rules_file)
        calibration = load_calibration_option(calibration_file)
        if from_source:
            if calibration is not None:
                fail("--calibration with --from: the dataset keeps no verdict confidences; drop --from")
            if diff_runs:
                fail("--diff with --from: the diff reads the store; drop --from")
            from mastlens.store import default_db_path

            stored = db or default_db_path()  # the drill-downs come from the store when it is there
            with open_store(stored if Path(stored).exists() else Path(":memory:")) as store:
                if not store.count_traces():
                    note("[yellow]note:[/] no store with these traces: the report has statistics, no drill-downs")
                write_reports(store, set_name, output=output, md=md, group_by=group_by, success=success,
                              compare=compare, reference=reference, max_traces=max_traces, rules=rules,
                              aliases=model_aliases(model_alias), from_source=from_source)
            return
        with open_store(db, must_exist=True) as store:
            if store.count_traces() == 0:
                fail("the store holds no traces: run `mastlens analyze PATH` or `mastlens ingest PATH` first")
            name = resolve_set(store, set_name)
            diff = None
            if diff_runs:
                from mastlens.analysis.diff_store import compute_diff

                try:  # one set: its judge configuration is one by construction
                    diff = compute_diff(store, diff_runs[0], diff_runs[1], by=diff_by, set_name=name,
                                        match=diff_match, success_rule=success, rules=rules,
                                        calibration=calibration)
                except ValueError as exc:
                    fail(f"--diff {diff_runs[0]} {diff_runs[1]}: {exc}")
            write_reports(store, name, output=output, md=md, group_by=group_by, success=success,
                          compare=compare, reference=reference, max_traces=max_traces, rules=rules, diff=diff,
                          aliases=model_aliases(model_alias), calibration=calibration)
