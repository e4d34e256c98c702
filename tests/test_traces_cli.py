"""`mastlens traces`: one row per stored trace; a long task (a whole Who&When question) is shortened in the
table but kept whole in --json."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mastlens.cli.app import app

runner = CliRunner()


def test_long_task_is_shortened_in_the_table_and_whole_in_json(fixtures_dir, tmp_path):
    db = str(tmp_path / "m.db")
    assert runner.invoke(app, ["ingest", str(fixtures_dir / "who_and_when"), "--db", db]).exit_code == 0
    rows = {r["id"]: r for r in json.loads(runner.invoke(app, ["traces", "--db", db, "--json"]).stdout)}
    assert rows["Algorithm-Generated/1"]["task"].startswith("This spreadsheet contains a list of clients")
    assert len(rows["Algorithm-Generated/1"]["task"]) > 300
    table = runner.invoke(app, ["traces", "--db", db, "--wide"], env={"COLUMNS": "200"}).stdout
    assert "This spreadsheet contains a list of cli…" in table and "sunset awning" not in table
    assert len(table.splitlines()) < 20  # six traces, a row each
