"""`mastlens agree`: agreement of one annotation set with a reference set, mode by mode."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mastlens.cli.calibrate import CalibrationOption, load_calibration_option, say_calibration
from mastlens.cli.tables import WideOption
from mastlens.cli.common import EXIT_USAGE, DbOption, JsonOption, fail, open_store, print_json, resolve_set


def register(app: typer.Typer) -> None:
    @app.command("agree")
    def agree_command(
        set_a: str = typer.Argument(..., help="Reference annotation set (e.g. human labels)."),
        set_b: str = typer.Argument(..., help="Annotation set to measure against the reference."),
        calibration_file: Optional[Path] = CalibrationOption,
        db: Path = DbOption,
        as_json: bool = JsonOption,
        wide: bool = WideOption,
    ) -> None:
        """Precision, recall, F1 and Cohen's kappa (bootstrap 95% CI) of SET_B against reference SET_A."""
        from mastlens.analysis import compute_agreement
        from mastlens.cli.stats_view import print_agreement

        calibration = load_calibration_option(calibration_file)  # applied to SET_B
        with open_store(db, must_exist=True) as store:
            for name in (set_a, set_b):
                resolve_set(store, name)
            result = compute_agreement(store, set_a, set_b, calibration=calibration)
        if result.n_traces == 0:
            fail(f"no trace has a current annotation in both {set_a!r} and {set_b!r}: nothing to compare", EXIT_USAGE)
        if as_json:
            print_json(result.model_dump(mode="json"))
            return
        say_calibration(result.calibration)
        print_agreement(result, wide=wide)
