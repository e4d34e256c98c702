"""`mastlens gate RULES.toml`: thresholds for CI; exit 0 all hold, 1 a rule is violated, 2 usage or nothing
to evaluate."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from mastlens.cli.calibrate import CalibrationOption, load_calibration_option
from mastlens.cli.common import EXIT_OK, EXIT_PARTIAL, DbOption, JsonOption, console, fail, open_store, print_json
from mastlens.cli.diff import (
    AllowJudgeChangeOption, ByOption, MatchOption, SetBaseOption, SetNewOption, SetOption, run_diff,
)
from mastlens.cli.report import SuccessOption, VerdictRulesOption, verdict_rules


def _ci_text(check) -> str:  # noqa: ANN001 - a GateCheck
    if check.figure is None:
        return "n/a"
    scale = 1 if check.rule in ("max_increase_pp", "no_new_fatal") else 100
    unit = {"max_increase_pp": " pp", "no_new_fatal": " modes"}.get(check.rule, "%")
    text = f"{scale * check.figure:.1f}{unit}"
    if check.ci:
        text += f" [{scale * check.ci[0]:.1f}, {scale * check.ci[1]:.1f}]"
    return text


def _single_run(db: Path | None, by: str, new: str | None, set_name: str | None, success: str | None,
                rules_file: Path | None, calibration=None):  # noqa: ANN001, ANN202 - (SideSummary, what it is of, applied)
    """NEW alone (or the whole set when no --new): the figures of one run."""
    from mastlens.analysis.diff import run_rows, summarize_side
    from mastlens.analysis.diff_store import judge_errors_in
    from mastlens.analysis.vectors import failure_vectors
    from mastlens.cli.common import resolve_set

    rules = verdict_rules(rules_file)
    with open_store(db, must_exist=True) as store:
        name = resolve_set(store, set_name, quiet=True)
        try:
            df = failure_vectors(store, name, success_rule=success, calibration=calibration)
            if new is not None:
                df = run_rows(df, by, new)
        except ValueError as exc:
            fail(str(exc))
        errors = judge_errors_in(store, name, by, new) if new is not None else sum(
            1 for a in store.get_annotations(name) if a.status.value == "error")
        label = f"{by} = {new} in set {name}" if new is not None else f"every trace of set {name}"
        return summarize_side(new or name, name, df, n_judge_errors=errors, rules=rules), label, \
            df.attrs.get("calibration")


def register(app: typer.Typer) -> None:
    @app.command("gate")
    def gate_command(
        rules_path: Path = typer.Argument(..., metavar="RULES.toml", help="The gate's rules (TOML)."),
        by: str = ByOption,
        base: Optional[str] = typer.Option(None, "--base", help="The BASE run (a value of --by) to compare against."),
        new: Optional[str] = typer.Option(None, "--new", help="The NEW run (default: every trace of the set)."),
        set_name: Optional[str] = SetOption,
        set_base: Optional[str] = SetBaseOption,
        set_new: Optional[str] = SetNewOption,
        match: Optional[str] = MatchOption,
        allow_judge_change: bool = AllowJudgeChangeOption,
        success: Optional[str] = SuccessOption,
        rules_file: Optional[Path] = VerdictRulesOption,
        calibration_file: Optional[Path] = CalibrationOption,
        db: Path = DbOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Check thresholds on a run (and its diff against a base run); exit 1 when a rule is violated."""
        from mastlens.analysis.gate import GateRulesError, evaluate_gate, load_gate_rules

        try:
            rules = load_gate_rules(rules_path)
        except GateRulesError as exc:
            fail(str(exc))
        if not rules.active():
            fail(f"{rules_path}: no rule set; nothing to evaluate (rules: min_success_rate, max_prevalence, "
                 "max_increase_pp, no_new_fatal, require_assessed)")
        if base is not None and new is None:
            fail("--base needs --new: the run to compare with it")
        if rules.needs_diff() and base is None:
            fail(f"{rules_path}: {', '.join(rules.needs_diff())} compare two runs: give --base BASE --new NEW")
        calibration = load_calibration_option(calibration_file)
        diff = None
        if base is not None:
            diff = run_diff(db, base, new, by=by, set_name=set_name, set_base=set_base, set_new=set_new, match=match,
                            allow_judge_change=allow_judge_change, success=success, rules_file=rules_file,
                            alpha=rules.alpha, calibration=calibration)
            side, label = diff.new_summary, f"{by} = {new} vs {base}" + (f" (paired on {match})" if match else "")
            applied = diff.calibration
        else:
            side, label, one = _single_run(db, by, new, set_name or set_new, success, rules_file, calibration)
            applied = [one] if one is not None else []
        if side.stats.n == 0:
            fail(f"no annotated trace to evaluate ({label})")
        result = evaluate_gate(rules, side, diff=diff, rules_file=str(rules_path), evaluated_on=label,
                               base=diff.base_summary if diff else None)
        result.calibration = "; ".join(a.describe() for a in applied) or None
        if as_json:
            print_json(result.model_dump(mode="json") | {"holds": result.holds})
        else:
            console.print(f"gate {escape(str(rules_path))} on {escape(label)}"
                          + (" [bold](strict: point estimates)[/]" if rules.strict else ""), soft_wrap=True)
            if result.calibration:
                console.print(f"[bold]{escape(result.calibration)}[/]", soft_wrap=True)
            if result.judge_change:
                console.print(f"[bold red]judge configuration changed:[/] {escape(result.judge_change)}",
                              soft_wrap=True)
            for c in result.checks:
                mark = "[green]holds   [/]" if c.holds else "[bold red]VIOLATED[/]"
                detail = f"; {escape(c.detail)}" if c.detail else ""
                console.print(f"{mark} {c.rule} = {c.threshold}: {_ci_text(c)} ({escape(c.applied)}){detail}",
                              soft_wrap=True)
            failed = sum(not c.holds for c in result.checks)
            console.print(f"{len(result.checks) - failed} of {len(result.checks)} rules hold"
                          + (f"; {failed} violated" if failed else ""))
        raise typer.Exit(EXIT_OK if result.holds else EXIT_PARTIAL)
