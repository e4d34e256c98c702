"""`mastlens diff BASE NEW`: did the change work? Two runs compared mode by mode."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from mastlens.cli.calibrate import CalibrationOption, load_calibration_option, say_calibration
from mastlens.cli.common import DbOption, JsonOption, fail, note, open_store, print_json
from mastlens.cli.report import SuccessOption, VerdictRulesOption, verdict_rules

ByOption = typer.Option("run", "--by", help="The key whose values name the runs: a tag (default run), model, "
                        "system, task or a metadata key.")
SetOption = typer.Option(None, "--set", help="Annotation set both runs were judged in (default: the most recent).")
SetBaseOption = typer.Option(None, "--set-base", help="Set BASE was judged in (when the runs were judged apart).")
SetNewOption = typer.Option(None, "--set-new", help="Set NEW was judged in.")
MatchOption = typer.Option(None, "--match", help="Pair traces of the same task across the runs on this key "
                           "(task, a tag or a metadata key): McNemar per mode and per-task flips.")
AllowJudgeChangeOption = typer.Option(
    False, "--allow-judge-change", help="Diff sets from different judge configurations anyway (every output says so).")


def run_diff(db: Path | None, base: str, new: str, *, by: str, set_name: str | None, set_base: str | None,
             set_new: str | None, match: str | None, allow_judge_change: bool, success: str | None,
             rules_file: Path | None, alpha: float = 0.05, calibration=None):  # noqa: ANN001, ANN201 - a DiffResult
    """Compute the diff from the store, failing with one line on any usage problem; ``calibration`` (a
    ``Calibration``) applies its thresholds to both runs."""
    from mastlens.analysis.diff_store import JudgeChangeRefused, compute_diff

    rules = verdict_rules(rules_file)
    with open_store(db, must_exist=True) as store:
        if store.count_traces() == 0:
            fail("the store holds no traces: run `mastlens ingest PATH --tag run=NAME` first")
        try:
            return compute_diff(store, base, new, by=by, set_name=set_name, set_base=set_base, set_new=set_new,
                                match=match, alpha=alpha, allow_judge_change=allow_judge_change,
                                success_rule=success, rules=rules, calibration=calibration)
        except JudgeChangeRefused as exc:
            fail(str(exc))
        except ValueError as exc:
            fail(f"cannot diff {base!r} and {new!r}: {exc}")


def show_db(db: Path | None) -> str | None:
    """The --db to print in `mastlens show` commands (None for the default store)."""
    from mastlens.cli.common import store_location
    from mastlens.store import default_location
    from mastlens.store.pg import is_server_url, redact

    if db is None:
        return None
    location = store_location(db)
    if is_server_url(location):  # printed: never its password
        return None if location == default_location() else redact(str(location))
    return None if Path(location) == default_location() else str(db)


def register(app: typer.Typer) -> None:
    @app.command("diff")
    def diff_command(
        base: str = typer.Argument(..., help="The BASE run (a value of --by, e.g. the tag run=baseline)."),
        new: str = typer.Argument(..., help="The NEW run."),
        by: str = ByOption,
        set_name: Optional[str] = SetOption,
        set_base: Optional[str] = SetBaseOption,
        set_new: Optional[str] = SetNewOption,
        match: Optional[str] = MatchOption,
        allow_judge_change: bool = AllowJudgeChangeOption,
        success: Optional[str] = SuccessOption,
        rules_file: Optional[Path] = VerdictRulesOption,
        calibration_file: Optional[Path] = CalibrationOption,
        md: Optional[Path] = typer.Option(None, "--md", help="Write a Markdown summary (a PR comment)."),
        output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the diff as an HTML page."),
        db: Path = DbOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Compare two runs: per-mode prevalence with CIs and tests, flips, verdict changes."""
        from mastlens.cli.diff_view import print_diff
        from mastlens.report.diff_html import render_diff_html
        from mastlens.report.diff_markdown import render_diff_markdown
        from mastlens.taxonomy import load_taxonomy

        calibration = load_calibration_option(calibration_file)
        result = run_diff(db, base, new, by=by, set_name=set_name, set_base=set_base, set_new=set_new, match=match,
                          allow_judge_change=allow_judge_change, success=success, rules_file=rules_file,
                          calibration=calibration)
        if as_json:
            print_json(result.model_dump(mode="json"))
        else:
            for applied in result.calibration:
                say_calibration(applied)
            print_diff(result, {m.id: m.name for m in load_taxonomy().modes})
        for path, text in ((md, lambda: render_diff_markdown(result)),
                           (output, lambda: render_diff_html(result, show_db=show_db(db)))):
            if path is None:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text(), encoding="utf-8")
            note(f"written to {escape(str(path.resolve()))}")
