"""Fidelity in stats and the report: min_assessed ("too few assessed (k)"), the AUROC line and reliability
card sentence, corrected prevalences with --reference, localization and the drill-down's "went wrong here",
all parsed from the real CLI output and the rendered HTML / Markdown."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _html_tree import parse
from _report_data import add_reference_set, build_store
from typer.testing import CliRunner
from vector_frames import MODE_IDS, status_with, vectors_frame

from mastlens.analysis import compute_agreement, compute_stats
from mastlens.analysis.groups import VerdictRules
from mastlens.analysis.stats import stats_from_vectors
from mastlens.cli.app import app
from mastlens.report import render_html, render_markdown
from mastlens.report.figures import signature_heatmap
from mastlens.trace import ModeStatus


def _few_assessed_frame():
    status = status_with(12, {"FM-1.3": [0, 1, 2, 3], "FM-2.1": [0]})
    j = MODE_IDS.index("FM-2.1")
    status[3:, j] = -1  # FM-2.1 assessed on 3 traces only
    return vectors_frame(status, [False] * 6 + [True] * 6)


def test_min_assessed_flags_the_mode_and_makes_it_insufficient():
    result = stats_from_vectors(_few_assessed_frame())
    mode = {m.id: m for m in result.groups[0].modes}
    assert mode["FM-2.1"].too_few_assessed and mode["FM-2.1"].n_assessed == 3
    assert mode["FM-2.1"].verdict == "insufficient"
    assert not mode["FM-1.3"].too_few_assessed
    relaxed = {m.id: m for m in stats_from_vectors(_few_assessed_frame(), rules=VerdictRules(min_assessed=3))
               .groups[0].modes}
    assert not relaxed["FM-2.1"].too_few_assessed


def test_too_few_assessed_in_markdown_and_heatmap():
    result = stats_from_vectors(_few_assessed_frame())
    md = render_markdown(None, "s", result)
    assert "FM-2.1 too few assessed (3)" in md
    svg = signature_heatmap(result.model_dump(mode="json")["groups"], MODE_IDS)
    texts = [el.text() for el in parse(svg)[0].iter("text")]
    assert any("too few" in t for t in texts) and any("(3)" in t for t in texts)


def test_separation_in_stats_json_and_the_markdown_sentence():
    status = status_with(10, {"FM-1.3": [0, 1, 2, 3]})
    result = stats_from_vectors(vectors_frame(status, [False] * 5 + [True] * 5))
    overall = result.separation[0]
    # failed scores 1,1,1,1,0 vs successful 0 x5: 4 x 5 wins + 1 x 5 ties / 25 = 0.9
    assert overall.group == "all" and overall.auroc == pytest.approx(0.9)
    assert overall.flagged_failed == 0.8 and overall.flagged_success == 0.0
    md = render_markdown(None, "s", result)
    assert "tell failed from successful runs with AUROC 0.90" in md


@pytest.fixture
def filled(store, db_path):
    ids = build_store(store, per_model=12)
    add_reference_set(store, ids)
    judged = store.get_annotations("judge-a")
    for ann in judged:  # FM-2.2 assessed on only 3 traces of the first model
        if ann.trace_id.startswith(ids[0].split("-run-")[0]) and not ann.trace_id.endswith(("-0", "-1", "-2")):
            ann.verdict.modes["FM-2.2"] = ann.verdict.modes["FM-2.2"].model_copy(
                update={"status": ModeStatus.NOT_ASSESSED, "evidence": []})
    failed = next(a for a in judged if a.verdict.task_completed is False)
    failed.verdict.decisive_step, failed.verdict.decisive_agent = 2, "sre"
    failed.verdict.decisive_reason = "ran the wrong command"
    store.save_annotations(judged)
    human = store.get_annotations("human")
    for ann in human:
        ann.verdict.decisive_step = 2
    store.save_annotations(human)
    return store, ids, failed.trace_id


def test_stats_cli_reference_and_verdict_rules(filled, db_path, tmp_path):
    store, ids, _ = filled
    store.close()
    rules = tmp_path / "rules.toml"
    rules.write_text("[verdict]\nmin_assessed = 4\n", encoding="utf-8")
    runner = CliRunner()
    out = runner.invoke(app, ["stats", "--set", "judge-a", "--reference", "human", "--verdict-rules", str(rules),
                              "--json", "--db", str(db_path)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["reference"] == "human" and data["separation"][0]["group"] == "all"
    first = next(g for g in data["groups"] if g["name"] == ids[0].split("-run-")[0])
    modes = {m["id"]: m for m in first["modes"]}
    assert modes["FM-2.2"]["too_few_assessed"] and modes["FM-2.2"]["n_assessed"] == 3
    corrected = [m for g in data["groups"] for m in g["modes"] if m["prevalence_corrected"] is not None]
    assert corrected and all(0 <= m["prevalence_corrected"] <= 1 and m["sensitivity"] is not None for m in corrected)
    assert all(m["prevalence_corrected_ci"][0] <= m["prevalence_corrected"] <= m["prevalence_corrected_ci"][1]
               for m in corrected if m["prevalence_corrected_ci"])
    table = runner.invoke(app, ["stats", "--set", "judge-a", "--db", str(db_path)], env={"COLUMNS": "250"})
    assert "too few assessed (3)" in table.output and "AUROC" in table.output


def test_report_card_localization_and_went_wrong_here(filled):
    store, ids, failed_id = filled
    stats = compute_stats(store, "judge-a", reference="human")
    agreement = compute_agreement(store, "human", "judge-a")
    assert agreement.localization is not None and agreement.localization.n > 0
    root, errors = parse(render_html(store, "judge-a", stats, agreement=agreement))
    assert errors == []
    [card] = root.find_all(id="reliability")
    [sentence] = card.find_all("p", id="separation")
    sep = stats.separation[0]
    assert f"AUROC {sep.auroc:.2f} [{sep.auroc_ci[0]:.2f}, {sep.auroc_ci[1]:.2f}] on {sep.n} runs" in sentence.text()
    [signature] = root.find_all(id="signature")
    assert "too few assessed (3)" in signature.text() and "corrected" in signature.text()
    [loc] = root.find_all(id="localization")
    assert "Where the runs went wrong" in loc.text()
    [trace] = [d for d in root.find_all("details", class_="trace")
               if d.find_all("span", class_="trace-id")[0].text() == failed_id]
    [note] = trace.find_all("p", class_="decisive-note")
    assert "step 2 (sre)" in " ".join(note.text().split()) and "ran the wrong command" in note.text()
    assert "(judge)" in note.text()
    [step] = trace.find_all("li", class_="decisive")
    assert step.attrs["id"].endswith("-s2") and "went wrong here" in step.text()
    # traces whose judge named no step are localized at their earliest evidence, said so
    others = [d for d in root.find_all("details", class_="trace")
              if d is not trace and d.find_all("li", class_="decisive")]
    assert others and all("(earliest evidence)" in d.find_all("p", class_="decisive-note")[0].text() for d in others)
    assert np.isfinite(sep.auroc)
