"""Stores built from the real shared fixtures through the CLI (ingest, then the offline rules judge)."""

from __future__ import annotations

from pathlib import Path

from conftest import FIXTURES, require_fixtures
from typer.testing import CliRunner

from mastlens.cli.app import app

runner = CliRunner()


def rules_annotated_store(directory: Path, *sources: str) -> Path:
    """``directory/m.db`` holding the fixtures under ``sources`` (paths relative to the fixtures folder),
    annotated as set ``rules``."""
    require_fixtures()  # skipped with the reason without ../shared; a failure in CI
    db = directory / "m.db"
    result = runner.invoke(app, ["ingest", *(str(FIXTURES / s) for s in sources), "--db", str(db)])
    assert result.exit_code in (0, 1), result.output  # 1: a file in a walked folder is not a trace
    result = runner.invoke(app, ["annotate", "--judge", "rules", "--db", str(db)])
    assert result.exit_code == 0, result.output
    return db
