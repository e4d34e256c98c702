"""The judge's own outcome call (``task_completed``) beside the run's real outcome: through a real Chat
Completions server on 127.0.0.1, the store, `annotations --json`, the exports, `stats` and the report."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
from _html_tree import parse
from fake_openai import FakeOpenAI, reply, verdict
from judge_helpers import judge, sample_trace
from statsmodels.stats.proportion import proportion_confint
from typer.testing import CliRunner

from mastlens.analysis.outcome_call import outcome_call
from mastlens.cli.app import app
from mastlens.judges.runner import annotate_traces
from mastlens.trace import Outcome

SET = "openai:gpt-4.1-mini"
CALLS_COMPLETED = {0, 1, 2, 3, 4}  # the judge says runs 0-4 completed the task
SUCCEEDED = {0, 2, 4, 6, 8}  # the runs that really did: right on 0, 2, 4, 5, 7, 9
_ALERT = re.compile(r"Alert (\d+):")


def _answer(request, n):
    text = "\n".join(str(m.get("content")) for m in request["messages"])
    i = int(_ALERT.search(text).group(1))
    return reply(verdict(task_completed=i in CALLS_COMPLETED), request)


@pytest.fixture
def judged(store, db_path):
    for i in range(10):
        t = sample_trace(i)
        t.outcome = Outcome(success=i in SUCCEEDED, success_from="source")
        store.add_trace(t)
    with FakeOpenAI(_answer) as srv:
        summary = annotate_traces(store, judge(srv.url))
    assert summary.errors == 0
    store.close()
    return str(db_path)


def test_accuracy_with_a_wilson_interval():
    call = outcome_call(np.array([1, 1, 0, 0, -1, 1]), np.array([1, 0, 0, 1, 1, -1]))
    assert (call.n_known, call.n_called, call.n_agree) == (5, 4, 2)  # no call, and unknown outcome, left out
    assert (call.completed_but_failed, call.not_completed_but_succeeded) == (1, 1)
    assert call.accuracy == 0.5
    assert call.accuracy_ci == pytest.approx(proportion_confint(2, 4, method="wilson"))


def test_annotations_json_shows_the_call_beside_the_outcome(judged):
    out = CliRunner().invoke(app, ["annotations", "--db", judged, "--set", SET, "--json"])
    assert out.exit_code == 0, out.output
    rows = {r["trace_id"]: r for r in json.loads(out.output)}
    assert [(rows[f"trace-{i:03d}"]["task_completed"], rows[f"trace-{i:03d}"]["run_success"]) for i in (0, 1, 6)] \
        == [(True, True), (True, False), (False, True)]
    table = CliRunner().invoke(app, ["annotations", "--db", judged, "--set", SET], env={"COLUMNS": "200"})
    assert "done? judge / run" in table.output and "yes / no" in table.output


def test_stats_and_exports_carry_the_call(judged, tmp_path):
    out = CliRunner().invoke(app, ["stats", "--db", judged, "--set", SET, "--json"])
    (call,) = json.loads(out.output)["outcome_calls"]
    assert (call["n_known"], call["n_called"], call["n_agree"]) == (10, 10, 6)
    assert (call["completed_but_failed"], call["not_completed_but_succeeded"]) == (2, 2)
    assert call["accuracy_ci"] == pytest.approx(proportion_confint(6, 10, method="wilson"))
    table = CliRunner().invoke(app, ["stats", "--db", judged, "--set", SET], env={"COLUMNS": "200"})
    assert "judge's own outcome call" in table.output and "60% [31–83]" in table.output
    path = tmp_path / "v.csv"
    assert CliRunner().invoke(app, ["export", "--db", judged, "--set", SET, "--to", "csv", str(path)]).exit_code == 0
    rows = {r["id"]: r for r in csv.DictReader(path.open())}
    assert (rows["trace-001"]["judge_task_completed"], rows["trace-001"]["success"]) == ("True", "False")
    jsonl = tmp_path / "v.jsonl"
    assert CliRunner().invoke(app, ["export", "--db", judged, "--set", SET, "--to", "jsonl", str(jsonl)]).exit_code == 0
    first = json.loads(jsonl.read_text().splitlines()[0])
    assert first["judge_task_completed"] is True and first["source"] == "native"


def test_report_card_and_drilldown_show_it(judged, tmp_path):
    html, md = tmp_path / "r.html", tmp_path / "r.md"
    out = CliRunner().invoke(app, ["report", "--db", judged, "--set", SET, "-o", str(html), "--md", str(md)])
    assert out.exit_code == 0, out.output
    page = html.read_text()
    assert parse(page)[1] == []
    card = re.search(r'<p id="outcome-call">([^<]*)</p>', page).group(1)
    assert "matches the run&#39;s real outcome on 6 of 10 runs (60% [31%, 83%], Wilson 95%)" in card
    assert page.count('class="small judge-outcome"') == 10
    assert page.count("(the judge's call is wrong)") == 4
    assert "on 6 of 10 runs" in md.read_text()


def test_the_rules_judge_makes_no_call_and_nothing_is_shown(judged):
    assert CliRunner().invoke(app, ["annotate", "--judge", "rules", "--db", judged]).exit_code == 0
    stats = json.loads(CliRunner().invoke(app, ["stats", "--db", judged, "--set", "rules", "--json"]).output)
    assert stats["outcome_calls"] == []
