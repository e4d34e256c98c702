"""Reference attributions: Who&When records become set whowhen-attribution on ingest (equal to the files' own
labels), and import-labels reads decisive_step / decisive_agent / FM-x.y_step columns."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mastlens.adapters.whowhen_labels import ATTRIBUTION_SET, history_step
from mastlens.analysis.labels import import_labels
from mastlens.cli.app import app
from mastlens.store.ingest import ingest
from mastlens.trace import ModeStatus, Source, Step, StepKind, Trace


def test_whowhen_reference_set_equals_the_files_labels(fixtures_dir, store):
    folder = fixtures_dir / "who_and_when"
    report = ingest([str(folder)], store)
    files = sorted(folder.rglob("*.json"))
    assert report.labels[ATTRIBUTION_SET] == len(files) == 6
    anns = {a.trace_id: a for a in store.get_annotations(ATTRIBUTION_SET)}
    for path in files:
        record = json.loads(path.read_text(encoding="utf-8"))
        trace_id = f"{path.parent.name}/{path.stem}"
        verdict = anns[trace_id].verdict
        trace = store.get_trace(trace_id)
        assert verdict.decisive_agent == record["mistake_agent"]
        assert trace.steps[verdict.decisive_step].metadata["history_index"] == int(record["mistake_step"])
        assert verdict.decisive_reason == record["mistake_reason"]
        assert verdict.task_completed is False
        assert all(m.status is ModeStatus.NOT_ASSESSED for m in verdict.modes.values())  # no mode was labelled
        assert trace.metadata["attribution"]["step"] == verdict.decisive_step


def test_history_step_maps_by_the_tag_not_by_position():
    steps = [Step(index=0, kind=StepKind.SYSTEM, content="a"),
             Step(index=1, kind=StepKind.ASSISTANT, content="b", metadata={"history_index": 0}),
             Step(index=2, kind=StepKind.TOOL_CALL, content="", metadata={"history_index": 0}),  # one message, 2 steps
             Step(index=3, kind=StepKind.TOOL_RESULT, content="c", metadata={"history_index": 1}),
             Step(index=4, kind=StepKind.ASSISTANT, content="d", metadata={"history_index": 2})]
    assert [history_step(steps, i) for i in (0, 1, 2, 3, None)] == [1, 3, 4, None, None]


def _trace(tid, n=6):
    steps = [Step(index=i, kind=StepKind.ASSISTANT, agent="a" if i % 2 else "b", content=f"s{i}") for i in range(n)]
    return Trace(id=tid, source=Source(format="native"), steps=steps)


def test_import_labels_reads_decisive_and_onset_columns(store, tmp_path):
    for tid in ("t1", "t2", "t3", "t4", "t5"):
        store.add_trace(_trace(tid))
    path = tmp_path / "labels.csv"
    path.write_text("trace_id,FM-1.3,FM-1.3_step,FM-2.1_step,decisive_step,decisive_agent,decisive_reason\n"
                    "t1,1,4,2,2,a,looped\n"      # FM-2.1 blank with a step: present
                    "t2,0,,,,,\n"
                    "t3,,,,3,,\n"                # only a decisive step: still a label
                    "t4,0,3,,,,\n"               # a first step for an absent mode
                    "t5,,,,9,,\n",               # past the end of the trace (6 steps)
                    encoding="utf-8")
    report = import_labels(store, path, "human")
    assert report.imported == 3
    assert sorted(line for line, _ in report.errors) == [5, 6]
    assert "marks absent" in report.errors[0][1] and "past the end" in report.errors[1][1]
    anns = {a.trace_id: a.verdict for a in store.get_annotations("human")}
    t1 = anns["t1"]
    assert (t1.decisive_step, t1.decisive_agent, t1.decisive_reason) == (2, "a", "looped")
    assert t1.modes["FM-1.3"].first_step == 4 and t1.modes["FM-2.1"].status is ModeStatus.PRESENT
    assert t1.modes["FM-2.1"].first_step == 2
    assert anns["t2"].decisive_step is None and anns["t2"].modes["FM-1.3"].status is ModeStatus.ABSENT
    assert anns["t3"].decisive_step == 3


@pytest.mark.parametrize("cell", ["x", "-1", "2.5"])
def test_a_bad_step_cell_is_a_row_error(store, tmp_path, cell):
    store.add_trace(_trace("t1"))
    path = tmp_path / "labels.csv"
    path.write_text(f"trace_id,decisive_step\nt1,{cell}\n", encoding="utf-8")
    report = import_labels(store, path, "human")
    assert report.imported == 0 and "decisive_step" in report.errors[0][1]


def test_annotations_json_and_show_carry_the_attribution(fixtures_dir, store, db_path):
    ingest([str(fixtures_dir / "who_and_when" / "Hand-Crafted" / "6.json")], store)
    store.close()
    runner = CliRunner()
    listed = runner.invoke(app, ["annotations", "--set", ATTRIBUTION_SET, "--json", "--db", str(db_path)])
    assert listed.exit_code == 0, listed.output
    [entry] = json.loads(listed.output)
    assert entry["decisive_agent"] == "Orchestrator" and entry["decisive_reason"]
    step = entry["decisive_step"]
    shown = runner.invoke(app, ["show", "Hand-Crafted/6", "--db", str(db_path)], env={"COLUMNS": "200"})
    assert f"step {step} |" in shown.output and "went wrong here (set whowhen-attribution) Orchestrator" in shown.output
