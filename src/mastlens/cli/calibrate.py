"""`mastlens calibrate --set J --reference R [-o calibration.toml]`: per-mode confidence thresholds from labels.

``CalibrationOption`` and :func:`load_calibration_option` are the ``--calibration FILE`` of ``stats``,
``report``, ``agree``, ``diff`` and ``gate``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.markup import escape

from mastlens.cli.common import (
    EXIT_USAGE, DbOption, JsonOption, console, fail, load_or_fail, note, open_store, print_json, resolve_set,
)
from mastlens.cli.tables import WideOption, fitted_table, print_table

if TYPE_CHECKING:
    from mastlens.analysis.results import Calibration, CalibrationApplied

CalibrationOption = typer.Option(
    None, "--calibration", help="Per-mode confidence thresholds (from `mastlens calibrate -o FILE`): a present "
    "verdict below its mode's threshold counts as absent (every output says so).")


def load_calibration_option(path: Path | None) -> Calibration | None:
    """The ``--calibration`` file, or None; a bad file fails with its name and the reason."""
    if path is None:
        return None
    from mastlens.analysis.calibration import load_calibration

    return load_or_fail(load_calibration, path)


def say_calibration(applied: CalibrationApplied | None) -> None:
    """The line every output prints when ``--calibration`` was applied."""
    if applied is not None:
        console.print(f"[bold]{escape(applied.describe())}[/]", soft_wrap=True)


def _kappa(value: float | None, ci: tuple[float, float] | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def print_calibration(cal: Calibration, wide: bool = False) -> None:
    columns = ["mode", "n", "reference positives", "threshold", "kappa before (95% CI)", "kappa after (95% CI)",
               "note"]
    table = fitted_table(f"Confidence thresholds for {escape(cal.set)} against {escape(cal.reference)} "
                         f"({cal.n_traces} traces in both)", columns, right_from=1, wrap=("note",))
    for m in cal.modes:
        table.add_row(m.id, str(m.n), str(m.reference_positives), "-" if m.threshold is None else f"{m.threshold:g}",
                      _kappa(m.kappa_before, m.kappa_before_ci), _kappa(m.kappa_after, m.kappa_after_ci),
                      escape(m.note), end_section=m is cal.modes[-1])
    table.add_row("micro", "", "", "", _kappa(cal.micro_before, cal.micro_before_ci),
                  _kappa(cal.micro_after, cal.micro_after_ci), "")
    print_table(console, table, wide)
    kept = [m.id for m in cal.modes if m.threshold is None]
    if cal.thresholds:
        text = (f"{len(cal.thresholds)} of {len(cal.modes)} modes get a threshold; with --calibration a present "
                "verdict below it counts as absent")
    else:
        text = f"0 of {len(cal.modes)} modes get a threshold: --calibration would change nothing"
    if kept and cal.thresholds:
        text += f"; no threshold: {', '.join(kept)}"
    console.print(text, soft_wrap=True)
    console.print("kappa after is measured on the traces the thresholds were fitted on, so it is optimistic: "
                  "check it on other labelled traces (agree --calibration)", style="dim", soft_wrap=True)


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    def calibrate_command(
        set_name: Optional[str] = typer.Option(
            None, "--set", help="The judge's annotation set J (default: the most recently written)."),
        reference: str = typer.Option(..., "--reference", help="Reference set R (human labels, MAST-Data labels, "
                                      "any imported set)."),
        output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the thresholds here (TOML), "
                                              "for --calibration on stats, report, agree, diff and gate."),
        min_positives: int = typer.Option(
            5, "--min-positives", min=1, help="Fewest reference positives a mode needs to get a threshold."),
        db: Path = DbOption,
        as_json: bool = JsonOption,
        wide: bool = WideOption,
    ) -> None:
        """Per mode, the confidence threshold at which set J agrees best with reference R (Cohen's kappa)."""
        from mastlens.analysis.calibration import compute_calibration, write_calibration

        with open_store(db, must_exist=True) as store:
            name = resolve_set(store, set_name)
            resolve_set(store, reference)
            if name == reference:
                fail(f"--set and --reference are both {name!r}: calibrate a judge against other labels")
            cal = compute_calibration(store, name, reference, min_reference_positives=min_positives)
        if cal.n_traces == 0:
            fail(f"no trace has a current annotation in both {name!r} and {reference!r}: nothing to fit", EXIT_USAGE)
        if output is not None:
            write_calibration(cal, output)
            cal.file = str(output)
        if as_json:
            print_json(cal.model_dump(mode="json"))
            return
        print_calibration(cal, wide)
        if output is not None:
            note(f"written to {escape(str(output.resolve()))}; apply it with --calibration {escape(str(output))}")
        else:
            note("not written: pass -o FILE to keep the thresholds for --calibration")
