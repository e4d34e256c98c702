"""`mastlens agree` shows only the modes both sets assess and names the rest in one line; against a
localization-only reference (Who&When's attribution) it says what the reference labels, not 14 rows of dashes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mastlens.cli.app import app
from mastlens.taxonomy import load_taxonomy
from mastlens.trace import (
    Annotation, AnnotationStatus, ModeStatus, ModeVerdict, Source, Step, StepKind, Trace, Verdict, label_annotation,
)

from conftest import FIXTURES

DEVSETS = FIXTURES.parent / "devsets"

MODE_IDS = load_taxonomy().ids
WIDE = {"COLUMNS": "200"}


def _trace(tid: str) -> Trace:
    steps = [Step(index=0, kind=StepKind.USER, content="q"),
             Step(index=1, kind=StepKind.ASSISTANT, agent="planner", content="plan"),
             Step(index=2, kind=StepKind.ASSISTANT, agent="coder", content="code")]
    return Trace(id=tid, source=Source(format="native"), steps=steps)


def _judged(trace_id: str, present: set[str]) -> Annotation:
    modes = {m: ModeVerdict(id=m, status=ModeStatus.PRESENT if m in present else ModeStatus.ABSENT) for m in MODE_IDS}
    return Annotation(trace_id=trace_id, set="judge", status=AnnotationStatus.OK,
                      verdict=Verdict(modes=modes, decisive_step=2, decisive_agent="coder"))


def _seed(store, reference: list[Annotation]) -> None:
    for i in range(4):
        store.add_trace(_trace(f"t{i}"))
    store.ensure_set("ref", judge="labels")
    store.ensure_set("judge", judge="rules")
    store.save_annotations(reference)
    store.save_annotations([_judged(f"t{i}", {"FM-1.3"} if i % 2 else set()) for i in range(4)])


def test_localization_only_reference_prints_one_line_then_the_localization(store, db_path):
    _seed(store, [label_annotation(f"t{i}", "ref", {}, MODE_IDS, decisive_step=2, decisive_agent="coder",
                                   task_completed=False) for i in range(4)])
    store.close()
    out = CliRunner().invoke(app, ["agree", "ref", "judge", "--db", str(db_path)], env=WIDE)
    assert out.exit_code == 0, out.output
    assert "FM-1.1" not in out.output and "micro" not in out.output  # no table of dashes
    assert "ref labels none of the 14 failure modes, only where the runs went wrong (a decisive step on 4 and a " \
           "decisive agent on 4 of 4 failed runs)" in " ".join(out.output.split())
    assert "decisive step exact" in out.output
    as_json = json.loads(CliRunner().invoke(app, ["agree", "ref", "judge", "--db", str(db_path), "--json"]).output)
    assert all(m["n_labelled_a"] == 0 for m in as_json["modes"])


def test_partial_reference_shows_its_modes_and_names_the_others(store, db_path):
    _seed(store, [label_annotation(f"t{i}", "ref", {"FM-1.3": bool(i % 2), "FM-2.1": False}, MODE_IDS)
                  for i in range(4)])
    store.close()
    out = CliRunner().invoke(app, ["agree", "ref", "judge", "--db", str(db_path)], env=WIDE)
    assert out.exit_code == 0, out.output
    rows = [line for line in out.output.splitlines() if line.startswith("│ FM-")]
    assert [r.split("│")[1].strip() for r in rows] == ["FM-1.3", "FM-2.1"]
    others = ", ".join(m for m in MODE_IDS if m not in ("FM-1.3", "FM-2.1"))
    assert f"ref labels none of these modes on the 4 traces in both: {others}" in " ".join(out.output.split())


def test_who_and_when_attribution_against_rules(tmp_path):
    import pytest

    devset = DEVSETS / "who_and_when"
    if not devset.is_dir():
        pytest.skip(f"no dev set at {devset}")
    db = str(tmp_path / "ww.db")
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(devset), "--db", db]).exit_code == 0
    assert runner.invoke(app, ["annotate", "--judge", "rules", "--db", db]).exit_code == 0
    out = runner.invoke(app, ["agree", "whowhen-attribution", "rules", "--db", db], env=WIDE)
    assert out.exit_code == 0, out.output
    assert "│ FM-" not in out.output
    assert "whowhen-attribution labels none of the 14 failure modes" in " ".join(out.output.split())
    assert "decisive agent" in out.output
