"""Statistics that do not confound sources: constructed Simpson-style sets where the confound is known, and the
tau-bench + Who&When dev sets together (every Who&When run failed)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import StratifiedTable
from typer.testing import CliRunner

from mastlens.analysis import stats_from_vectors
from mastlens.analysis.fidelity import auroc
from mastlens.analysis.strata import cmh_test, source_label
from mastlens.cli.app import app

from _html_tree import parse
from conftest import FIXTURES
from vector_frames import MODE_IDS, vectors_frame

DEVSETS = FIXTURES.parent / "devsets"
X = "FM-3.2"


def _runs(source: str, failed: int, failed_with: int, ok: int, ok_with: int) -> tuple[list, list, list]:
    """``failed`` failed runs (``failed_with`` of them with mode X) and ``ok`` successful ones."""
    rows, success = [], []
    for n, with_x, outcome in ((failed, failed_with, False), (ok, ok_with, True)):
        for i in range(n):
            row = np.zeros(len(MODE_IDS), dtype=np.int8)
            row[MODE_IDS.index(X)] = int(i < with_x)
            rows.append(row)
            success.append(outcome)
    return rows, success, [source] * len(rows)


def _frame(*parts: tuple[list, list, list], group: str = "m"):
    rows = [r for p in parts for r in p[0]]
    success = [s for p in parts for s in p[1]]
    sources = [s for p in parts for s in p[2]]
    return vectors_frame(np.array(rows), success, groups=[group] * len(rows), sources=sources)


# Source A fails 80% of the time, source B 20%; X is a property of the source (80% of A's runs, 10% of B's),
# equally common in failed and successful runs within each. Pooled, X looks fatal.
SIMPSON = (_runs("A", 40, 32, 10, 8), _runs("B", 10, 1, 40, 4))


def _mode(result, mode_id=X, group=0):
    return next(m for m in result.groups[group].modes if m.id == mode_id)


def test_pooled_figures_mistake_the_source_for_a_failure():
    df = _frame(*SIMPSON)
    pooled = stats_from_vectors(df.assign(source="one"))  # as if the sources were not known
    assert not pooled.groups[0].stratified
    m = _mode(pooled)
    assert m.delta_pp == pytest.approx(100 * (33 / 50 - 12 / 50)) and m.verdict == "fatal"
    assert pooled.separation[0].auroc > 0.65


def test_within_sources_the_confound_is_gone():
    result = stats_from_vectors(_frame(*SIMPSON))
    g = result.groups[0]
    assert g.stratified and [(s.source, s.n, s.n_failed) for s in g.sources] == [("A", 50, 40), ("B", 50, 10)]
    m = _mode(result)
    assert m.stratified and m.n_strata == 2
    assert m.delta_pp == pytest.approx(0.0, abs=1e-9)
    assert m.delta_pp_pooled == pytest.approx(42.0)
    assert m.odds_ratio == pytest.approx(1.0) and m.p_value > 0.5 and m.verdict == "neutral"
    assert m.p_value_pooled < 0.001  # the pooled Fisher p is kept beside it
    sep = result.separation[0]
    assert sep.stratified and sep.auroc == pytest.approx(0.5)
    assert sep.auroc_pooled == pytest.approx(auroc(_frame(*SIMPSON)[X].astype(float).to_numpy(),
                                                   ~_frame(*SIMPSON)["success"].astype(bool).to_numpy()))
    assert sep.auroc_ci[0] < 0.5 < sep.auroc_ci[1]
    assert [(s.source, s.auroc) for s in sep.sources] == [("A", pytest.approx(0.5)), ("B", pytest.approx(0.5))]
    assert "pooled" in sep.note and "weighted by its failed x successful pairs" in sep.sources_note


def test_the_regression_takes_the_source_as_a_fixed_effect():
    result = stats_from_vectors(_frame(*SIMPSON))
    terms = {t.term: t for t in result.regression.terms}
    assert terms[X].odds_ratio == pytest.approx(1.0, abs=1e-6)  # within sources X says nothing about success
    assert any(name.startswith("group=") and "· " in name for name in terms)
    pooled = {t.term: t for t in stats_from_vectors(_frame(*SIMPSON).assign(source="one")).regression.terms}
    assert pooled[X].odds_ratio < 0.3  # pooled, X "predicts" failure


def test_a_real_effect_within_sources_survives_and_matches_statsmodels():
    # Within both sources X is in 60% of failed runs and 20% of successful ones; the sources' outcome rates differ.
    parts = (_runs("A", 30, 18, 10, 2), _runs("B", 10, 6, 30, 6))
    result = stats_from_vectors(_frame(*parts))
    m = _mode(result)
    tables = np.array([[[18, 12], [2, 8]], [[6, 4], [6, 24]]], dtype=float).transpose(1, 2, 0)
    expected = StratifiedTable(tables)
    assert m.p_value == pytest.approx(expected.test_null_odds(correction=True).pvalue)
    assert m.odds_ratio == pytest.approx(expected.oddsratio_pooled)
    assert m.delta_pp == pytest.approx(40.0)
    assert m.verdict == "fatal"
    assert result.separation[0].auroc == pytest.approx(0.5 + 0.5 * (0.6 - 0.2))  # the same in each source


def test_sources_with_one_outcome_are_left_out_and_said_so():
    parts = (_runs("A", 30, 18, 10, 2), _runs("all-failed", 20, 20, 0, 0))
    result = stats_from_vectors(_frame(*parts))
    sep = result.separation[0]
    assert sep.auroc == pytest.approx(0.5 + 0.5 * (0.6 - 0.2))  # source A's alone
    assert sep.auroc_pooled > sep.auroc
    assert "left out, one outcome only: all-failed" in sep.sources_note
    m = _mode(result)
    assert m.n_strata == 1 and m.delta_pp == pytest.approx(40.0)


def test_no_source_with_both_outcomes_gives_no_auroc():
    result = stats_from_vectors(_frame(_runs("fails", 20, 15, 0, 0), _runs("passes", 0, 0, 20, 2)))
    sep = result.separation[0]
    assert sep.auroc is None and sep.auroc_pooled is not None
    assert sep.note.startswith("no source has both failed and successful runs")
    assert _mode(result).verdict == "insufficient"


def test_one_source_keeps_the_plain_figures():
    result = stats_from_vectors(_frame(_runs("A", 30, 18, 10, 2)))
    assert not result.groups[0].stratified and not result.separation[0].stratified
    m = _mode(result)
    assert not m.stratified and m.delta_pp == pytest.approx(40.0) and m.delta_pp_pooled is None


def test_cmh_without_variation_is_not_evidence():
    t = cmh_test(np.array([0, 0]), np.array([5, 5]), np.array([0, 0]), np.array([5, 5]))
    assert t.p_value == 1.0 and t.delta_pp == 0.0 and t.n_strata == 2


def test_source_label():
    assert source_label("tau", "tau-bench", {"environment": "airline"}) == "tau/tau-bench/airline"
    assert source_label("whowhen", "magentic-one", {}) == "whowhen/magentic-one"
    assert source_label("native", "native", {"domain": "retail"}) == "native/retail"
    assert source_label("native", "x", {"environment": "airline"}, tag="mine") == "mine"
    assert source_label(None) == "unknown format"


def _devsets_store(tmp_path, *tags: str) -> str:
    for name in ("tau_bench", "who_and_when"):
        if not (DEVSETS / name).is_dir():
            pytest.skip(f"no dev set at {DEVSETS / name}")
    db = str(tmp_path / "dev.db")
    runner = CliRunner()
    ingest = runner.invoke(app, ["ingest", str(DEVSETS / "tau_bench"), str(DEVSETS / "who_and_when"), "--db", db,
                                 *tags])
    assert ingest.exit_code == 0, ingest.output
    assert runner.invoke(app, ["annotate", "--judge", "rules", "--db", db]).exit_code == 0
    return db


def test_devsets_no_model_groups_by_source_and_the_auroc_is_within_sources(tmp_path):
    db = _devsets_store(tmp_path)
    out = CliRunner().invoke(app, ["stats", "--db", db, "--set", "rules", "--json"])
    assert out.exit_code == 0, out.output
    stats = json.loads(out.output)
    names = [g["name"] for g in stats["groups"]]
    assert "unknown" not in names and names == stats["groups_by_source"]
    assert [n.split("/")[0] for n in names] == ["tau", "whowhen", "whowhen"]
    overall, tau = stats["separation"][0], stats["separation"][1]
    assert overall["stratified"] and tau["group"].startswith("tau/")
    assert overall["auroc"] == pytest.approx(tau["auroc"])  # Who&When has no successful run to compare
    assert overall["auroc_pooled"] > overall["auroc"] + 0.03  # the pooled figure mostly measured the source
    table = CliRunner().invoke(app, ["stats", "--db", db], env={"COLUMNS": "200"})
    text = " ".join(table.output.split())
    assert "no model recorded: runs grouped by their source" in text
    assert "AUROC within each source" in text and f"pooled {overall['auroc_pooled']:.2f} mixes them" in text


def test_devsets_in_one_group_are_compared_within_sources(tmp_path):
    db = _devsets_store(tmp_path, "--tag", "run=dev")
    stats = json.loads(CliRunner().invoke(app, ["stats", "--db", db, "--set", "rules", "--group-by", "run", "--json"]).output)
    (group,) = stats["groups"]
    assert group["stratified"] and len(group["sources"]) == 3
    by_id = {m["id"]: m for m in group["modes"]}
    fm32 = by_id["FM-3.2"]
    assert fm32["n_strata"] == 1  # only tau-bench has successful runs
    assert fm32["p_value_pooled"] < 0.05 and fm32["p_holm"] > fm32["p_value_pooled"]
    assert fm32["delta_pp"] < fm32["delta_pp_pooled"]  # part of the pooled effect is which source a run is from
    # a mode the pooled test calls significant that within tau-bench (the only source with both outcomes)
    # makes no difference: the confound the stratified verdict is there for
    confounded = [m for m in group["modes"] if m["p_value_pooled"] is not None and m["p_value_pooled"] < 0.05
                  and m["delta_pp_pooled"] >= 10 and m["verdict"] != "fatal" and m["delta_pp"] < m["delta_pp_pooled"] / 2]
    assert confounded, [(m["id"], m["delta_pp"], m["delta_pp_pooled"], m["p_value_pooled"]) for m in group["modes"]]
    md = tmp_path / "r.md"
    html = tmp_path / "r.html"
    out = CliRunner().invoke(app, ["report", "--db", db, "--group-by", "run", "-o", str(html), "--md", str(md)])
    assert out.exit_code == 0, out.output
    assert "within sources (Mantel-Haenszel, Cochran-Mantel-Haenszel test)" in md.read_text()
    page = html.read_text()
    assert parse(page)[1] == []
    assert 'class="stratified small"' in page and "p (CMH)" in page and "within sources with AUROC" in page
