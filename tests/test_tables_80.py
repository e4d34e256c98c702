"""Issue 14 item 17: `traces`, `annotations`, `stats` and `agree` read at 80 columns (COLUMNS=80 in the
environment, which rich reads when it prints, as in a terminal): no header squeezed to "suc…", every id on one
line (cut in the middle; whole in --json), no line wider than the terminal; --wide shows every column."""

from __future__ import annotations

import json

import pytest
from _fixture_stores import rules_annotated_store
from typer.testing import CliRunner

from mastlens.cli.app import app
from mastlens.cli.tables import middle

runner = CliRunner()
SOURCES = ("tau_bench", "who_and_when", "codex_rollout_format", "claude_code", "mast_data")


def _cli(*args: str, columns: int = 80) -> str:
    done = runner.invoke(app, list(args), env={"COLUMNS": str(columns)})
    assert done.exit_code == 0, done.output
    return done.stdout


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return str(rules_annotated_store(tmp_path_factory.mktemp("tables"), *SOURCES))


def _headers(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("┃")]


def _check(out: str, ids: list[str]) -> None:
    tables = [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]
    assert tables and all(len(line) <= 80 for line in tables)
    assert _headers(out) and not any("…" in h for h in _headers(out)), _headers(out)
    rows = [line for line in tables if line.startswith("│")]
    for trace_id in ids:
        cut = middle(trace_id, 24)
        assert any(f"│ {cut} " in row for row in rows), trace_id


def test_traces_and_annotations_fit_80_columns(db):
    listed = json.loads(runner.invoke(app, ["traces", "--db", db, "--json"]).stdout)
    ids = [t["id"] for t in listed]
    assert any(len(i) > 24 for i in ids)  # codex rollouts and MAST-Data records have long ids
    _check(_cli("traces", "--db", db), ids)
    _check(_cli("annotations", "--db", db, "--set", "rules"), ids)
    assert all(t["id"] in {r["trace_id"] for r in json.loads(_cli("annotations", "--db", db, "--set", "rules",
                                                                   "--json"))} for t in listed)
    wide = _cli("traces", "--db", db, "--wide")
    assert {"format", "task", "tool calls"} <= {c.strip() for h in _headers(wide) for c in h.split("┃")}
    assert all(any(i in line for line in wide.splitlines()) for i in ids)


def test_stats_and_agree_fit_80_columns(db):
    _check(_cli("stats", "--db", db, "--set", "rules"), [])
    _check(_cli("agree", "mad-annotator_1", "mad-annotator_2", "--db", db), [])
    wide = _cli("agree", "mad-annotator_1", "mad-annotator_2", "--db", db, "--wide")
    assert {"tp/fp/fn/tn", "precision", "recall"} <= {c.strip() for h in _headers(wide) for c in h.split("┃")}
    assert not any("…" in h for h in _headers(wide))
