"""`mastlens gate`: each rule alone holds and fails on constructed runs; exit codes; bad rules files; a diff
across judge configurations refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _diff_runs import MODE_IDS, run_pair, store_pair
from typer.testing import CliRunner

from mastlens.analysis.diff import diff_from_vectors, summarize_side
from mastlens.analysis.gate import GateRules, GateRulesError, evaluate_gate, load_gate_rules
from mastlens.cli.app import app
from mastlens.store import Store

runner = CliRunner()


def _frame(n: int, *, success: float, modes: dict[str, float], assessed: dict[str, float] | None = None,
           name: str = "run") -> pd.DataFrame:
    """``n`` traces; the first ``share * n`` succeed / have each listed mode; ``assessed`` leaves the last
    traces of a mode not assessed."""
    data = {"id": [f"{name}-{i}" for i in range(n)], "model": "m", "system": None,
            "task": [f"t{i}" for i in range(n)],
            "success": pd.array(np.arange(n) < round(success * n), dtype="boolean"),
            "score": pd.array([None] * n, dtype="Float64"), "tag.run": name}
    for mode_id in MODE_IDS:
        column = pd.array(np.arange(n)[::-1] < round(modes.get(mode_id, 0.0) * n), dtype="boolean")
        share = (assessed or {}).get(mode_id, 1.0)
        column[round(share * n):] = pd.NA
        data[mode_id] = column
    return pd.DataFrame(data)


def _check(rules: dict, df: pd.DataFrame, base: pd.DataFrame | None = None):  # noqa: ANN202
    parsed = GateRules(**rules)
    side = summarize_side("new", "s", df)
    diff = diff_from_vectors(base, df, base="base", new="new", alpha=parsed.alpha) if base is not None else None
    result = evaluate_gate(parsed, diff.new_summary if diff else side, diff=diff,
                           base=diff.base_summary if diff else None)
    assert len(result.checks) == 1
    return result.checks[0]


def test_min_success_rate_uses_the_interval_unless_strict():
    df = _frame(40, success=0.5, modes={})  # 50% [35%, 65%]
    assert _check({"min_success_rate": 0.6}, df).holds  # upper bound 65% >= 60%: not shown to be below
    assert not _check({"min_success_rate": 0.6, "strict": True}, df).holds
    failing = _check({"min_success_rate": 0.8}, df)
    assert not failing.holds and failing.ci[1] < 0.8 and "upper bound" in failing.applied
    assert _check({"min_success_rate": 0.4, "strict": True}, df).holds


def test_max_prevalence_on_modes_and_categories():
    df = _frame(50, success=0.5, modes={"FM-3.3": 0.3})  # 30% [19%, 44%]
    assert _check({"max_prevalence": {"FM-3.3": 0.2}}, df).holds  # lower bound 19% <= 20%
    check = _check({"max_prevalence": {"FM-3.3": 0.2}, "strict": True}, df)
    assert not check.holds and "strict" in check.applied
    assert not _check({"max_prevalence": {"FM-3.3": 0.1}}, df).holds
    assert not _check({"max_prevalence": {"FC3": 0.1}}, df).holds
    assert _check({"max_prevalence": {"FC1": 0.1}}, df).holds
    not_assessed = _check({"max_prevalence": {"FM-2.2": 0.5}}, _frame(10, success=0.5, modes={}, assessed={"FM-2.2": 0}))
    assert not not_assessed.holds and "not assessed" in not_assessed.detail


def test_max_increase_counts_only_significant_rises():
    base = _frame(60, success=0.5, modes={"FM-1.3": 0.1}, name="base")
    small = _frame(60, success=0.5, modes={"FM-1.3": 0.25}, name="new")  # +15 pp, not significant
    big = _frame(60, success=0.5, modes={"FM-1.3": 0.6}, name="new")  # +50 pp, significant
    assert _check({"max_increase_pp": 10}, small, base).holds
    assert not _check({"max_increase_pp": 10, "strict": True}, small, base).holds
    check = _check({"max_increase_pp": 10}, big, base)
    assert not check.holds and "FM-1.3" in check.detail and check.figure == pytest.approx(50)
    assert _check({"max_increase_pp": 60}, big, base).holds


def test_no_new_fatal():
    base = _frame(60, success=0.5, modes={}, name="base")
    new = _frame(60, success=0.5, modes={"FM-2.4": 0.5}, name="new")  # exactly the failed traces: fatal
    check = _check({"no_new_fatal": True}, new, base)
    assert not check.holds and "FM-2.4" in check.detail
    assert _check({"no_new_fatal": True}, base.assign(**{"tag.run": "new"}), base).holds


def test_require_assessed():
    df = _frame(20, success=0.5, modes={}, assessed={"FM-2.2": 0.5})
    check = _check({"require_assessed": 0.8}, df)
    assert not check.holds and "FM-2.2 50.0%" in check.detail
    assert _check({"require_assessed": 0.5}, df).holds


def test_judge_errors_count_as_not_assessed():
    side = summarize_side("new", "s", _frame(8, success=0.5, modes={}), n_judge_errors=2)
    result = evaluate_gate(GateRules(require_assessed=0.9), side)
    assert not result.holds and result.checks[0].figure == pytest.approx(0.8)


@pytest.mark.parametrize("text, key", [
    ("min_success_rate = 'high'", "min_success_rate"),
    ("min_success_rate = 1.5", "min_success_rate"),
    ("max_prevalence = { \"FM-9.9\" = 0.2 }", "max_prevalence.FM-9.9"),
    ("max_prevalence = 0.2", "max_prevalence"),
    ("max_increase_pp = -1", "max_increase_pp"),
    ("no_new_fatal = 1", "no_new_fatal"),
    ("alpha = 0", "alpha"),
    ("max_prevalance = { \"FM-3.3\" = 0.2 }", "max_prevalance"),
    ("min_success_rate = ", "not valid TOML"),
])
def test_a_bad_rules_file_is_one_line_naming_the_key(tmp_path, text, key):
    path = tmp_path / "rules.toml"
    path.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(GateRulesError) as info:
        load_gate_rules(path)
    assert key in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)
    result = runner.invoke(app, ["gate", str(path), "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and key in result.output


@pytest.fixture
def pair_db(tmp_path: Path) -> Path:
    db = tmp_path / "runs.db"
    with Store(db) as store:
        base, new = run_pair(1)
        store_pair(store, base, new)
    return db


def _gate(tmp_path: Path, db: Path, rules: str, *args: str):  # noqa: ANN202
    path = tmp_path / "gate.toml"
    path.write_text(rules, encoding="utf-8")
    return runner.invoke(app, ["gate", str(path), "--db", str(db), *args])


def test_gate_exit_codes_and_printed_rules(tmp_path, pair_db):
    held = _gate(tmp_path, pair_db, "max_prevalence = { \"FM-3.3\" = 0.3 }\n", "--new", "new")
    assert held.exit_code == 0, held.output
    assert "holds" in held.output and "lower bound" in held.output and "10.0% [" in held.output
    # FM-2.4 rose from 0% to 30%: significant, above 10 pp
    violated = _gate(tmp_path, pair_db, "max_increase_pp = 10\nno_new_fatal = true\n", "--base", "base",
                     "--new", "new", "--match", "task")
    assert violated.exit_code == 1, violated.output
    lines = [line for line in violated.output.splitlines() if line.startswith("VIOLATED")]
    assert len(lines) == 2 and any("FM-2.4" in line for line in lines)
    as_json = _gate(tmp_path, pair_db, "max_increase_pp = 10\n", "--base", "base", "--new", "new", "--json")
    data = json.loads(as_json.output)
    assert as_json.exit_code == 1 and data["holds"] is False and data["checks"][0]["rule"] == "max_increase_pp"
    # usage: nothing to evaluate, a diff rule without runs, --base without --new, an unknown run
    assert _gate(tmp_path, pair_db, "alpha = 0.01\n").exit_code == 2
    assert _gate(tmp_path, pair_db, "no_new_fatal = true\n").exit_code == 2
    assert _gate(tmp_path, pair_db, "min_success_rate = 0.5\n", "--base", "base").exit_code == 2
    unknown = _gate(tmp_path, pair_db, "min_success_rate = 0.5\n", "--new", "nope")
    assert unknown.exit_code == 2 and "nope" in unknown.output


def test_gate_refuses_a_diff_across_judge_configurations(tmp_path):
    db = tmp_path / "two-judges.db"
    with Store(db) as store:
        base, new = run_pair(2)
        store_pair(store, base, new, set_base="judge-a", set_new="judge-b")
        info = store.get_set("judge-a")
        store.ensure_set("judge-b", judge="rules", prompt_hash="other", taxonomy_version=info.taxonomy_version)
    args = ("--base", "base", "--new", "new", "--set-base", "judge-a", "--set-new", "judge-b")
    refused = _gate(tmp_path, db, "min_success_rate = 0.1\n", *args)
    assert refused.exit_code == 2 and "different judge configurations" in refused.output
    allowed = _gate(tmp_path, db, "min_success_rate = 0.1\n", *args, "--allow-judge-change")
    assert allowed.exit_code == 0 and "judge configuration changed" in allowed.output
