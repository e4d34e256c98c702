"""Issue 14 items 12, 15 and 16 (show): the source's own failure labels in `show` and the report's drill-down,
tool-call arguments printed once, and `show --full` on one long unbroken step."""

from __future__ import annotations

import json
import re

import pytest
from _html_tree import parse
from _fixture_stores import rules_annotated_store
from conftest import EXAMPLES
from typer.testing import CliRunner

import mastlens
from mastlens.analysis.stats import compute_stats
from mastlens.cli.app import app
from mastlens.report import render_html
from mastlens.report.drilldown import step_text
from mastlens.store import Store
from mastlens.trace import StepKind

runner = CliRunner()
WIDE = {"COLUMNS": "120"}


def _whowhen(fixtures_dir, name="Algorithm-Generated/1.json"):
    path = fixtures_dir / "who_and_when" / name
    (trace,) = mastlens.load_traces(path)
    return path, trace


def test_show_marks_the_whowhen_human_attribution(fixtures_dir):
    path, trace = _whowhen(fixtures_dir)
    attribution = trace.metadata["attribution"]
    out = runner.invoke(app, ["show", str(path)], env=WIDE).output
    assert "the source's own failure label" in out
    flat = " ".join(out.replace("│", " ").split())
    assert " ".join(attribution["reason"].split()) in flat
    marked = [line for line in out.splitlines() if "<< Who&When human label" in line]
    assert len(marked) == 1
    step = trace.steps[attribution["step"]]
    assert f"step {step.index} | {step.kind.value} | {attribution['mistake_agent']}" in marked[0]


def test_show_gives_the_itbench_judge_justification():
    path = EXAMPLES / "itbench" / "gemini-3-flash" / "scenario_2" / "1"
    (trace,) = mastlens.load_traces(path)
    out = runner.invoke(app, ["show", str(path)], env=WIDE).output
    assert trace.metadata["judge"]["justification"] in " ".join(out.replace("│", " ").split())
    assert "ground-truth entities: " + trace.metadata["judge"]["gt_entities"][0] in out


@pytest.fixture(scope="module")
def whowhen_report(tmp_path_factory):
    db = rules_annotated_store(tmp_path_factory.mktemp("labels"), "who_and_when")
    with Store(db) as store:
        traces = {t.id: t for t in store.iter_traces()}
        html = render_html(store, "rules", compute_stats(store, "rules"))
    return traces, parse(html)


def test_report_drilldown_shows_the_source_label_beside_the_verdicts(whowhen_report):
    traces, (root, errors) = whowhen_report
    assert not errors
    labelled = [t for t in traces.values() if t.metadata.get("attribution", {}).get("step") is not None]
    assert labelled
    boxes = [d for d in root.find_all("div") if "source-label" in d.attrs.get("class", "")]
    assert len(boxes) == len(labelled)
    for details in root.find_all("details"):
        if "trace" not in details.attrs.get("class", ""):
            continue
        trace = traces[details.find_all("span")[0].text().strip()]
        attribution = trace.metadata["attribution"]
        box = [d for d in details.find_all("div") if "source-label" in d.attrs.get("class", "")][0]
        assert " ".join(attribution["reason"].split()) in " ".join(box.text().split())
        anchor = details.attrs["id"]
        step = details.by_id(f"{anchor}-s{attribution['step']}")
        assert step is not None and "source-marked" in step.attrs.get("class", "")


def test_tool_call_arguments_are_printed_once():
    # ITBench rollouts keep the command in the content and in the arguments; patches sit in both too
    traces = mastlens.load_traces(EXAMPLES / "itbench")
    calls = [s for t in traces for s in t.steps if s.kind is StepKind.TOOL_CALL and s.content and s.arguments]
    assert calls
    for step in calls:
        text = step_text(step)
        assert text.count(step.content.strip()) == 1, text
    path = EXAMPLES / "itbench" / "gemini-3-flash" / "scenario_2" / "1"
    (trace,) = mastlens.load_traces(path)
    call = next(s for s in trace.steps if s.kind is StepKind.TOOL_CALL and s.content)
    out = runner.invoke(app, ["show", str(path), "--full"], env={"COLUMNS": "400"}).output
    block = out.split(f"step {call.index} | tool_call")[1].split("╰")[0]
    assert block.count(call.content.strip()) == 1


def test_show_full_prints_one_long_unbroken_step_whole(tmp_path):
    body = "".join(f"{i:07d}" for i in range(3 * 1024 * 1024 // 7))  # 3 MB, no space, no newline
    path = tmp_path / "long.json"
    path.write_text(json.dumps({"id": "long", "messages": [{"role": "user", "content": "go"},
                                                          {"role": "assistant", "content": body}]}))
    result = runner.invoke(app, ["show", str(path), "--full"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert "".join(re.findall(r"\d{7}", result.output.split("step 1 | assistant")[1])) == body
