"""Issue 14 item 11: failed runs with no mode found present are counted and shown as unexplained, with what
was not assessed; no output reads as a clean bill of health. Real data: the tau-bench fixture, rules judge."""

from __future__ import annotations

import json

import pytest
from _html_tree import parse
from _fixture_stores import rules_annotated_store
from typer.testing import CliRunner

from mastlens.analysis.stats import compute_stats
from mastlens.cli.app import app
from mastlens.report import render_html, render_markdown
from mastlens.store import Store
from mastlens.trace import ModeStatus

runner = CliRunner()
CLEAN_BILLS = ("No intervention is indicated", "No failure mode found present")


@pytest.fixture(scope="module")
def tau_db(tmp_path_factory):
    return rules_annotated_store(tmp_path_factory.mktemp("unexplained"), "tau_bench/gpt-4o-airline.subset.json")


def _expected(db):
    """Failed traces whose stored verdict has no present mode, counted straight from the store."""
    with Store(db) as store:
        failed = {t.id for t in store.iter_traces() if t.outcome.success is False}
        unexplained = set()
        not_assessed: dict[str, int] = {}
        for ann in store.get_annotations("rules"):
            if ann.trace_id in failed and not ann.verdict.present():
                unexplained.add(ann.trace_id)
                for m, mv in ann.verdict.modes.items():
                    if mv.status is ModeStatus.NOT_ASSESSED:
                        not_assessed[m] = not_assessed.get(m, 0) + 1
    return failed, unexplained, not_assessed


def test_stats_count_unexplained_failures_with_what_was_not_assessed(tau_db):
    failed, unexplained, not_assessed = _expected(tau_db)
    assert unexplained, "the fixture has failed runs the rules judge does not explain"
    with Store(tau_db) as store:
        group = compute_stats(store, "rules").groups[0]
    assert group.unexplained.n == len(unexplained)
    assert group.unexplained.share_of_failed == pytest.approx(len(unexplained) / len(failed))
    assert set(group.unexplained.trace_ids) <= unexplained and group.unexplained.trace_ids
    assert group.unexplained.not_assessed == {m: k for m, k in sorted(not_assessed.items())}

    out = runner.invoke(app, ["stats", "--db", str(tau_db)], env={"COLUMNS": "200"}).output
    assert f"unexplained failures in {group.name}: {len(unexplained)} of {len(failed)} failed runs" in out
    assert "not assessed on them: FM-1.1 on" in out
    data = json.loads(runner.invoke(app, ["stats", "--db", str(tau_db), "--set", "rules", "--json"]).output)
    assert data["groups"][0]["unexplained"]["n"] == len(unexplained)


def test_report_and_markdown_show_unexplained_failures_and_no_clean_bill(tau_db):
    failed, unexplained, _ = _expected(tau_db)
    with Store(tau_db) as store:
        stats = compute_stats(store, "rules")
        html = render_html(store, "rules", stats)
        md = render_markdown(store, "rules", stats)
    for sentence in CLEAN_BILLS:
        assert sentence not in html and sentence not in md
    root, errors = parse(html)
    assert not errors
    box = root.by_id("unexplained")
    assert box is not None
    assert f"{len(unexplained)} of {len(failed)} failed runs" in box.text()
    assert "not assessed on them" in box.text()
    # every unexplained failed trace in the drill-down says so, naming the modes it did not assess
    unexplained_notes = [p for p in root.find_all("p") if "This failure is unexplained" in p.text()]
    assert len(unexplained_notes) == len(unexplained)
    assert all("not assessed:" in p.text() for p in unexplained_notes)
    assert "### Unexplained failures" in md
    assert f"| **{len(unexplained)}** of {len(failed)} |" in md
