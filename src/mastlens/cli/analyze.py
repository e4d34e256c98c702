"""`mastlens analyze`: ingest -> annotate -> stats -> report in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from mastlens.cli.annotate import rules_options
from mastlens.cli.common import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, DbOption, console, fail, note, open_store
from mastlens.cli.ingest import TagOption, print_ingest_report, run_ingest
from mastlens.cli.report import (
    CompareOption, GroupByOption, MaxTracesOption, MdOption, ModelAliasOption, OutOption, ReferenceOption,
    SuccessOption, VerdictRulesOption, model_aliases, verdict_rules, write_reports,
)


def _annotate(store, judge_name: str, trace_ids: list[str], set_name: str | None, concurrency: int,  # noqa: ANN001
              base_url: str | None, replace: bool, rules_config: Path | None):
    from mastlens.judges.base import JudgeError, UnknownJudge
    from mastlens.judges.registry import get_judge, is_llm_judge_name
    from mastlens.judges.runner import SetConflict, annotate_traces

    if is_llm_judge_name(judge_name):
        options = {"base_url": base_url} if base_url else {}
    else:
        options = rules_options(rules_config)
    try:
        judge = get_judge(judge_name, **options)
    except (UnknownJudge, JudgeError, ValueError) as exc:
        fail(str(exc))
    name = set_name or judge.name
    try:
        with _progress() as progress:
            return annotate_traces(store, judge, trace_ids=trace_ids, set_name=name, concurrency=concurrency,
                                   progress=progress, replace=replace)
    except SetConflict as exc:
        fail(str(exc))


class _progress:
    """A rich progress bar fed by the runner's ``RunProgress`` callback."""

    def __enter__(self):  # noqa: ANN204
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("annotating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            TextColumn("{task.fields[info]}"), console=console, transient=True)
        self.task = self.bar.add_task("annotate", total=None, info="")
        self.bar.start()
        return self.update

    def update(self, p) -> None:  # noqa: ANN001 - a mastlens.judges.runner.RunProgress
        extra = f"errors {p.errors}  calls {p.calls}  cache hits {p.cache_hits}  ${p.cost_usd:.4f}"
        self.bar.update(self.task, completed=p.done, total=p.total, info=extra)

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()


def _mode_note(store, set_name: str) -> None:  # noqa: ANN001
    """Say which modes the judge did not assess (the rules judge looks at a subset)."""
    from mastlens.report.context import reliability_card
    from mastlens.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    card = reliability_card(store, set_name, store.get_annotations(set_name), taxonomy, store.count_traces(), 0)
    if card.not_assessed:
        names = ", ".join(f"{m} {taxonomy.by_id[m].name}" for m in card.not_assessed)
        note(f"[yellow]not assessed by {card.judge}:[/] {names}. They are left out of the statistics; "
             "an LLM judge (--judge openai:MODEL with OPENAI_API_KEY or --base-url) assesses every mode.")


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    def analyze_command(
        paths: list[Path] = typer.Argument(..., help="Files or folders of traces (folders are walked)."),
        output: Path = OutOption,
        md: Optional[Path] = MdOption,
        judge: Optional[str] = typer.Option(
            None, "--judge", help="rules (offline) or provider:model, e.g. openai:gpt-4.1-mini. "
            "Default: an LLM judge when an endpoint or key is configured, else rules."),
        base_url: Optional[str] = typer.Option(
            None, "--base-url", help="OpenAI-compatible endpoint for an LLM judge (or OPENAI_BASE_URL)."),
        set_name: Optional[str] = typer.Option(None, "--set", help="Annotation set name (default: the judge name)."),
        fmt: str = typer.Option("auto", "--format", "-f", help="Input format, or auto to sniff each file."),
        tag: list[str] = TagOption,
        group_by: str = GroupByOption,
        success: Optional[str] = SuccessOption,
        reference: Optional[str] = ReferenceOption,
        compare: Optional[tuple[str, str]] = CompareOption,
        concurrency: int = typer.Option(8, "--concurrency", help="Judge calls in flight."),
        max_traces: int = MaxTracesOption,
        rules_file: Optional[Path] = VerdictRulesOption,
        replace: bool = typer.Option(False, "--replace", help="Drop the set's annotations and judge every trace again."),
        rules_config: Optional[Path] = typer.Option(None, "--rules-config", help="TOML file of rules-judge thresholds."),
        model_alias: Optional[list[str]] = ModelAliasOption,
        db: Path = DbOption,
    ) -> None:
        """Ingest traces, annotate them with a judge (cached, resumable), compute statistics, write the report."""
        from mastlens.judges.registry import DEFAULT_MODEL, default_judge_name

        rules = verdict_rules(rules_file)  # read first: a bad rules file stops the run before any work
        aliases = model_aliases(model_alias)
        console.print("[bold]1/4 ingest[/]")
        report = run_ingest(paths, db, fmt, success, tag)
        print_ingest_report(report)
        if not report.read_anything:
            fail("no trace could be read from the given paths; nothing to analyze", EXIT_USAGE)
        judge_name = judge or default_judge_name()
        if judge is None and base_url:
            judge_name = judge_name if judge_name != "rules" else f"openai:{DEFAULT_MODEL}"
        if judge is None and judge_name == "rules":
            note("no LLM endpoint configured (OPENAI_API_KEY / OPENAI_BASE_URL): using the offline rules judge")
        trace_ids = list(dict.fromkeys(report.trace_ids))
        with open_store(db) as store:
            console.print(f"[bold]2/4 annotate[/] {len(trace_ids)} traces with [bold]{judge_name}[/]", soft_wrap=True)
            summary = _annotate(store, judge_name, trace_ids, set_name, concurrency, base_url, replace, rules_config)
            name = summary.set
            console.print(
                f"annotated {summary.annotated} ({summary.skipped} already done; errors {summary.errors}, "
                f"calls {summary.calls}, cache hits {summary.cache_hits}, ${summary.cost_usd:.4f}, "
                f"{summary.wall_s:.1f} s)", soft_wrap=True,
            )
            for trace_id, reason in list(summary.error_reasons.items())[:10]:
                note(f"[red]judge error[/] {escape(trace_id)}: {escape(str(reason))}")
            _mode_note(store, name)
            if not store.annotated_ids(name):
                fail(f"no trace was annotated successfully in set {name!r}; see the errors above", EXIT_PARTIAL)
            console.print("[bold]3/4 statistics[/] and [bold]4/4 report[/]")
            write_reports(store, name, output=output, md=md, group_by=group_by, success=success,
                          compare=compare, reference=reference, max_traces=max_traces, rules=rules, aliases=aliases)
        partial = bool(report.failed) or bool(summary.errors)
        raise typer.Exit(EXIT_PARTIAL if partial else EXIT_OK)
