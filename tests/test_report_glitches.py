"""Issue 14 item 16 on a real mix of fixtures (tau-bench, Who&When, Codex, Inspect, Claude Code; rules judge):
groups with one outcome, groups with no mode found. Integer histogram ticks, panels only where there is data,
no regression made of group terms alone, compact tables for groups that cannot be compared."""

from __future__ import annotations

import re

import pytest
from _html_tree import parse
from _fixture_stores import rules_annotated_store
from typer.testing import CliRunner

from mastlens.analysis.stats import compute_stats
from mastlens.cli.app import app
from mastlens.report import render_html
from mastlens.store import Store

runner = CliRunner()
SOURCES = ("tau_bench", "who_and_when", "codex_rollout_format", "inspect_ai", "claude_code")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    db = rules_annotated_store(tmp_path_factory.mktemp("mixed"), *SOURCES)
    with Store(db) as store:
        stats = compute_stats(store, "rules")
        root, errors = parse(render_html(store, "rules", stats))
    assert not errors
    return db, stats, root


def _comparable(g) -> bool:
    return 0 < g.n_failed < g.n - g.n_unknown_outcome


def test_no_regression_made_of_group_terms_alone(mixed):
    _, stats, root = mixed
    assert any(_comparable(g) for g in stats.groups) and len(stats.groups) > 2
    terms = [t.term for t in stats.regression.terms]
    assert not terms or any(not t.startswith(("group=", "(intercept)")) for t in terms)
    assert stats.regression.note and "not fitted" in stats.regression.note
    section = root.by_id("regression")
    assert section is not None and not section.find_all("table")


def test_histogram_panels_only_for_groups_with_failed_traces_and_integer_ticks(mixed):
    _, stats, root = mixed
    section = root.by_id("modes-per-trace")
    texts = [t.text().strip() for t in section.find_all("text")]
    for g in stats.groups:
        titled = any(t.startswith(g.name[:23]) and "failed)" in t for t in texts)
        assert titled is (g.n_failed > 0), g.name
    without = [g.name for g in stats.groups if g.n_failed == 0]
    assert without and all(name in section.by_id("no-failed-note").text() for name in without)
    numbers = [t for t in texts if re.fullmatch(r"[\d.]+", t)]
    assert numbers and all(re.fullmatch(r"\d+", t) for t in numbers), numbers


def test_groups_with_one_outcome_get_one_line_not_a_table_of_dashes(mixed):
    db, stats, root = mixed
    section = root.by_id("fatal")
    compact = section.find_all("p", class_="compact-group")
    one_sided = [g for g in stats.groups if not _comparable(g)]
    assert one_sided and len(compact) == len(one_sided)
    assert len(section.find_all("table")) == len(stats.groups) - len(one_sided)
    out = runner.invoke(app, ["stats", "--db", str(db), "--set", "rules"], env={"COLUMNS": "200"}).output
    assert out.count("nothing to compare") == len(one_sided)
    # the header row of each modes table (other tables may have a mode column, but not first)
    assert sum(line.startswith("┃ mode ") for line in out.splitlines()) == len(stats.groups) - len(one_sided)
