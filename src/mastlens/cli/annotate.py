"""`mastlens annotate`: judge traces (given files, or every stored trace not yet in the set)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from mastlens.cli.common import (
    EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, DbOption, JsonOption, console, err_console, fail, note, open_store, print_json,
)
if TYPE_CHECKING:  # the judges (and asyncio behind the runner) load when the command runs
    from mastlens.judges.base import Judge
    from mastlens.judges.runner import RunProgress, RunSummary

LLM_HINT = (
    "set OPENAI_API_KEY (or MASTLENS_API_KEY) and pass --judge openai:MODEL, "
    "or --base-url URL for a local OpenAI-compatible server"
)


def rules_options(rules_config: Path | None) -> dict[str, Any]:
    """The rules judge's options: its thresholds from a TOML file, when one is given."""
    if rules_config is None:
        return {}
    from mastlens.judges.rules import RulesConfigError, load_rules_config

    try:
        return {"config": load_rules_config(rules_config)}
    except RulesConfigError as exc:
        fail(str(exc))


def _build_judge(judge_name: str | None, options: dict[str, Any], rules_config: Path | None = None) -> Judge:
    from mastlens.judges.base import UnknownJudge
    from mastlens.judges.registry import DEFAULT_MODEL, default_judge_name, get_judge, is_llm_judge_name

    name = judge_name
    if not name:
        name = default_judge_name()
        if name == "rules" and options.get("base_url"):
            name = f"openai:{os.environ.get('MASTLENS_MODEL') or DEFAULT_MODEL}"
        if name == "rules":  # on stderr even with --json: a CI job whose key is missing must hear of it
            note(f"no LLM endpoint configured: using the offline rules judge ({LLM_HINT})")
    judge_options = options if is_llm_judge_name(name) else rules_options(rules_config)
    try:
        return get_judge(name, **judge_options)
    except UnknownJudge as exc:
        fail(str(exc))
    except ValueError as exc:  # bad option values for the judge
        fail(str(exc))


class _Bar:
    """A rich progress bar: done/total, errors, ETA and spend (on stderr). Disabled (--json, --dry-run), it
    does nothing and never imports rich's progress machinery."""

    def __init__(self, enabled: bool):
        self.progress: Any = None
        self.task: Any = None
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("[bold]annotating[/]"), BarColumn(), MofNCompleteColumn(),
            TextColumn("errors {task.fields[errors]}"), TextColumn("cache {task.fields[cache]}"),
            TextColumn("${task.fields[cost]:.4f}"), TextColumn("ETA"), TimeRemainingColumn(),
            console=err_console, transient=False,
        )

    def __enter__(self) -> _Bar:
        if self.progress is not None:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)  # type: ignore[arg-type]

    def __call__(self, p: RunProgress) -> None:
        if self.progress is None:
            return
        if self.task is None:
            self.task = self.progress.add_task("annotate", total=p.total, errors=0, cache=0, cost=0.0)
        self.progress.update(self.task, completed=p.done, errors=p.errors, cache=p.cache_hits, cost=p.cost_usd)


def _print_summary(summary: RunSummary) -> None:
    s = summary
    console.print(
        f"set [bold]{escape(s.set)}[/]: {s.traces} traces, {s.annotated} annotated, {s.errors} errors"
        + (f", {s.not_started} not started" if s.not_started else "")
        + (f" ({s.skipped} already annotated, skipped)" if s.skipped else "")
    )
    console.print(
        f"{s.calls} calls, {s.cache_hits} cache hits, {s.input_tokens} input + {s.output_tokens} output tokens, "
        f"${s.cost_usd:.4f}, {s.wall_s:.1f} s"
    )
    if s.stopped_reason:
        err_console.print(f"[red]stopped:[/] the endpoint refused a request ({escape(s.stopped_reason)}); "
                          f"{s.not_started} traces not started. Fix the key, model or --base-url and rerun",
                          soft_wrap=True)
    if s.budget_stopped:
        err_console.print(f"[yellow]budget reached:[/] {s.not_started} traces not started; rerun with a larger --budget to continue")
    for trace_id, reason in sorted(s.error_reasons.items()):
        err_console.print(f"[red]error[/] {escape(trace_id)}: {escape(reason)}", soft_wrap=True)


def _print_dry_run(summary: RunSummary, as_json: bool) -> None:
    est = summary.estimates
    totals = {
        "input_tokens": sum(e.input_tokens for e in est), "output_tokens": sum(e.output_tokens for e in est),
        "cost_usd": round(sum(e.cost_usd for e in est), 6),
    }
    if as_json:
        print_json({
            "dry_run": True, "set": summary.set, "traces": summary.traces, "to_annotate": len(est),
            "already_annotated": summary.skipped, "estimated": totals,
            "per_trace": [{"trace_id": e.trace_id, "input_tokens": e.input_tokens, "output_tokens": e.output_tokens,
                           "cost_usd": round(e.cost_usd, 6), "segments": e.segments, "cached": e.cached} for e in est],
        })
        return
    from rich.table import Table

    table = Table(title=f"Dry run for set {summary.set} (no calls made)", title_justify="left")
    for col in ("trace", "input tokens", "output tokens", "cost USD", "segments", "cached"):
        table.add_column(col, justify="left" if col == "trace" else "right")
    for e in est:
        table.add_row(escape(e.trace_id), str(e.input_tokens), str(e.output_tokens), f"{e.cost_usd:.4f}",
                      str(e.segments), "yes" if e.cached else "")
    console.print(table)
    console.print(f"{len(est)} traces to annotate ({summary.skipped} already annotated): about "
                  f"{totals['input_tokens']} input + {totals['output_tokens']} output tokens, ${totals['cost_usd']:.4f}")


def _run_batch(store: Any, judge: Judge, ids: list[str] | None, set_name: str | None, samples: int, replace: bool,
               concurrency: int, bar: _Bar) -> RunSummary:
    from mastlens.judges.llm.batch import BatchAPIError, BatchOptions, annotate_batch

    try:
        options = BatchOptions.from_env(concurrency=concurrency)
        summary, report = annotate_batch(store, judge, trace_ids=ids, set_name=set_name, samples=samples,
                                         replace=replace, options=options, progress=bar,
                                         notify=lambda message: note(escape(message)))
    except (BatchAPIError, ValueError) as exc:
        fail(f"batch: {exc}; the batches submitted so far are recorded: rerun the same command to resume")
    note(f"batches: {len(report.submitted)} submitted, {len(report.resumed)} resumed; {report.answered} of "
         f"{report.lines} requests answered, {report.failed} failed or expired; {report.sync_traces} traces "
         f"finished synchronously; ${report.batch_usd:.4f} at the batch price")
    return summary


def register(app: typer.Typer) -> None:
    @app.command("annotate")
    def annotate_command(
        paths: list[Path] = typer.Argument(None, help="Files or folders to ingest and annotate (default: every stored trace)."),
        judge_name: str = typer.Option(None, "--judge", "-j", help="'rules' or 'provider:model', e.g. openai:gpt-4.1-mini."),
        base_url: str = typer.Option(None, "--base-url", envvar=["MASTLENS_BASE_URL", "OPENAI_BASE_URL"],
                                     help="OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp...)."),
        set_name: str = typer.Option(None, "--set", help="Annotation set name (default: the judge name)."),
        trace: list[str] = typer.Option(None, "--trace", help="Only this stored trace id (repeatable)."),
        concurrency: int = typer.Option(8, "--concurrency", "-c", min=1, help="Traces judged at once."),
        rpm: float = typer.Option(None, "--rpm", min=0.01, help="At most this many requests per minute."),
        samples: int = typer.Option(1, "--samples", min=1, help="Judge each trace K times; per-mode majority."),
        budget: float = typer.Option(None, "--budget", min=0, help="Stop starting calls once spend would pass USD."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Show traces, estimated tokens and cost; no calls."),
        max_trace_tokens: int = typer.Option(100_000, "--max-trace-tokens", min=1000,
                                             help="Budget for one rendered trace; longer traces are segmented."),
        timeout: float = typer.Option(120.0, "--timeout", min=0.1, help="Seconds per request."),
        max_retries: int = typer.Option(4, "--max-retries", min=0, help="Retries on 429, 5xx, timeouts."),
        temperature: float = typer.Option(None, "--temperature", min=0, help="Default 0, or 0.7 with --samples > 1."),
        max_output_tokens: int = typer.Option(None, "--max-output-tokens", min=64, help="Cap on reply tokens."),
        price_in: float = typer.Option(None, "--price-in", min=0, help="USD per 1M input tokens (overrides table)."),
        price_out: float = typer.Option(None, "--price-out", min=0, help="USD per 1M output tokens (overrides table)."),
        fmt: str = typer.Option("auto", "--format", "-f", help="Input format of PATHs (default: sniff)."),
        replace: bool = typer.Option(False, "--replace", help="Drop the set's annotations and judge every trace again."),
        rules_config: Path = typer.Option(None, "--rules-config", help="TOML file of rules-judge thresholds."),
        batch: bool = typer.Option(False, "--batch", help="Send the requests through the provider's Batch API "
                                   "(results within 24 h, at the batch price); rerun to resume."),
        db: Path = DbOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Judge traces with the MAST taxonomy and store the verdicts as an annotation set."""
        from mastlens.judges.runner import SetConflict, annotate_traces

        if temperature is None:
            temperature = 0.7 if samples > 1 else 0.0
        options: dict[str, Any] = {
            "base_url": base_url, "timeout": timeout, "max_retries": max_retries, "temperature": temperature,
            "max_trace_tokens": max_trace_tokens, "max_output_tokens": max_output_tokens,
            "price_in": price_in, "price_out": price_out, "require_key": not dry_run,
        }
        judge = _build_judge(judge_name, options, rules_config=rules_config)
        if batch and not hasattr(judge, "client"):
            fail("--batch needs an LLM judge (--judge openai:MODEL)")
        if batch and budget is not None:
            fail("--budget is not applied to --batch runs: see the estimate with --batch --dry-run")
        if budget is not None and getattr(judge, "has_price", True) is False:
            fail(f"--budget needs a price for {judge.name}: pass --price-in and --price-out (USD per 1M tokens)")
        code = EXIT_OK
        with open_store(db) as store:
            ids = list(trace) if trace else None
            if paths:
                from mastlens.cli.ingest import exit_code, run_ingest

                report = run_ingest(paths, db, fmt, None)
                for failure in report.failed:
                    err_console.print(f"[red]failed[/] {escape(failure.describe())}", soft_wrap=True)
                if not report.read_anything:
                    fail("no traces could be read from the given paths", EXIT_USAGE)
                code = max(code, exit_code(report))
                ids = [t for t in report.trace_ids if ids is None or t in ids]
            elif ids:
                missing = [t for t in ids if store.get_trace(t) is None]
                if missing:
                    fail(f"no stored trace with id {', '.join(map(repr, missing))}")
            elif store.count_traces() == 0:
                fail("the store has no traces: pass files or folders, or run `mastlens ingest` first")
            try:
                with _Bar(enabled=not as_json and not dry_run) as bar:
                    if batch and not dry_run:
                        summary = _run_batch(store, judge, ids, set_name, samples, replace, concurrency, bar)
                    else:
                        summary = annotate_traces(
                            store, judge, trace_ids=ids, set_name=set_name, concurrency=concurrency, rpm=rpm,
                            budget_usd=budget, samples=samples, dry_run=dry_run, progress=bar, replace=replace,
                        )
                        if batch:
                            from mastlens.judges.llm.batch import batch_dry_run

                            batch_dry_run(summary, judge)
            except SetConflict as exc:
                fail(str(exc))
            except KeyboardInterrupt:
                err_console.print("interrupted: finished traces are saved; run the same command again to resume")
                raise typer.Exit(130) from None
        if dry_run:
            _print_dry_run(summary, as_json)
            if getattr(judge, "has_price", True) is False:
                note(f"no price known for {getattr(judge, 'model', judge.name)}, so costs show as $0: "
                     "pass --price-in and --price-out (USD per 1M tokens) for an estimate")
            raise typer.Exit(code)
        if as_json:
            print_json(summary.contract())
        else:
            _print_summary(summary)
        if summary.errors or summary.not_started:
            code = max(code, EXIT_PARTIAL)
        raise typer.Exit(code)
