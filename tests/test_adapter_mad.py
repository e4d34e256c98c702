"""MAST-Data: the real human-labelled file, labels stored on ingest, and the full dataset's shape."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from mastlens.adapters.loader import read_file
from mastlens.store import Store
from mastlens.store.ingest import ingest
from mastlens.trace import ModeStatus, StepKind

HUMAN = Path("mast_data") / "MAD_human_labelled_dataset.json"
ANNOTATOR_SETS = ["mad-annotator_1", "mad-annotator_2", "mad-annotator_3"]


@pytest.fixture(scope="module")
def human_file() -> Path:
    from conftest import require_fixtures

    return require_fixtures() / HUMAN


@pytest.fixture(scope="module")
def human(human_file):
    result = read_file(human_file)
    assert result.format == "mad" and result.failures == []
    return result


def test_records_ids_and_systems(human):
    traces = human.traces
    assert len(traces) == 19
    assert traces[0].id == "Round 1/AppWorld/Test-C/0"
    assert traces[18].id == "Generlazability/GAIA/OpenManus/18"
    assert Counter(t.metadata["round"] for t in traces) == {"Round 1": 5, "Round 2": 5, "Round 3": 5,
                                                             "Generlazability": 4}
    assert Counter(t.system for t in traces) == {"AppWorld": 3, "HyperAgent": 3, "AG2": 3, "ChatDev": 4,
                                                  "MetaGPT": 4, "GAIA": 2}
    assert all(t.model is None for t in traces)  # the human file has no llm_name
    assert [t.source.record for t in traces] == list(range(19))


@pytest.mark.parametrize("record, agents", [
    (0, {"Supervisor Agent", "Spotify Agent"}),  # AppWorld
    (1, {"Planner", "Navigator", "Inner-Navigator-Assistant"}),  # HyperAgent
    (2, {"mathproxyagent", "assistant"}),  # AG2
    (3, {"Chief Executive Officer", "Programmer", "Code Reviewer"}),  # ChatDev
    (4, {"Alice(SimpleCoder)", "Bob(SimpleTester)", "Charlie(SimpleReviewer)"}),  # MetaGPT
    (16, {"SimpleCoder", "SimpleTester", "SimpleReviewer"}),  # MetaGPT communication log
    (17, {"MagenticOneOrchestrator", "WebSurfer"}),  # Magentic-One
    (18, {"Manus"}),  # OpenManus
])
def test_logs_split_at_speaker_markers(human, record, agents):
    trace = human.traces[record]
    assert len(trace.steps) > 3
    assert agents <= {s.agent for s in trace.steps}
    assert [s.index for s in trace.steps] == list(range(len(trace.steps)))


def test_structured_logs_keep_task_and_tools(human):
    hyper, ag2, manus = human.traces[1], human.traces[2], human.traces[18]
    assert hyper.steps[0].kind is StepKind.USER and "separability_matrix" in hyper.steps[0].content
    assert hyper.metadata["instance_id"] == "astropy__astropy-12907"
    assert ag2.outcome.success is True and ag2.outcome.success_from == "source"  # other_data.correct
    calls = [s for s in manus.steps if s.kind is StepKind.TOOL_CALL]
    assert Counter(c.tool for c in calls)["python_execute"] >= 1
    assert any(isinstance(c.arguments, dict) and "code" in c.arguments for c in calls)


def test_labels_are_not_trace_content(human):
    assert all("annotations" not in t.metadata and "mast_annotation" not in t.metadata for t in human.traces)
    assert len(human.labels) == 19 * 4
    assert {lab.set for lab in human.labels} == {*ANNOTATOR_SETS, "mad-majority"}


def test_final_taxonomy_records_and_votes(human):
    final = {t.id for t in human.traces if t.metadata["round"] == "Generlazability"}
    assert len(final) == 4
    labels = [lab for lab in human.labels if lab.trace_id in final and lab.set in ANNOTATOR_SETS]
    assert len(labels) == 12
    votes = Counter(v for lab in labels for v in lab.flags.values())
    # The README counts 23 positive votes: 21 True plus the 2 missing (NaN) votes of annotator_3 on
    # record 18, which a truthiness count takes for True. mastlens keeps a missing vote not assessed.
    assert votes[True] == 21 and votes[True] + 2 == 23
    assert sum(len(lab.flags) for lab in labels) == 12 * 14 - 2
    rec18 = next(lab for lab in labels if lab.trace_id.endswith("/18") and lab.set == "mad-annotator_3")
    assert len(rec18.flags) == 12 and not any(rec18.flags.values())


def test_old_rounds_map_by_name(human):
    """Round 1's "1.2 Inconsistency between reasoning and action" is FM-2.6, not FM-1.2; no old round
    has a loss-of-history entry, so FM-1.4 is not assessed there."""
    raw = json.loads(Path(human.path).read_text(encoding="utf-8"))
    first = raw[0]["annotations"]
    entry = next(a for a in first if a["failure mode"].startswith("1.2 Inconsistency"))
    lab = next(lab for lab in human.labels if lab.trace_id == human.traces[0].id and lab.set == "mad-annotator_1")
    assert lab.flags["FM-2.6"] is entry["annotator_1"]
    role = next(a for a in first if a["failure mode"].startswith("2.6 Disobey role"))
    assert lab.flags["FM-1.2"] is role["annotator_1"]
    assert "FM-1.4" not in lab.flags and len(lab.flags) == 13
    assert any("map to no mode" in n and "Backtracking interruption (15x)" in n for n in human.notes)
    assert any("FM-1.4 in 15 records" in n for n in human.notes)


def test_ingest_stores_label_sets(human_file, tmp_path):
    with Store(tmp_path / "m.db") as store:
        report = ingest([human_file], store)
        assert report.ingested == 19 and report.failed == []
        assert report.labels == {s: 19 for s in [*ANNOTATOR_SETS, "mad-majority"]}
        info = store.get_set("mad-majority")
        assert info.judge == "labels" and info.params["format"] == "mad"
        anns = {a.trace_id: a for a in store.get_annotations("mad-majority")}
        assert len(anns) == 19 and all(a.status.value == "ok" for a in anns.values())
        final = anns["Generlazability/ChatDev/MMLU/15"].verdict.present()
        assert final == ["FM-1.1", "FM-3.2", "FM-3.3"]
        old = anns["Round 1/AppWorld/Test-C/0"].verdict.modes
        assert old["FM-1.4"].status is ModeStatus.NOT_ASSESSED
        assert old["FM-1.5"].status is ModeStatus.PRESENT  # "1.5 Unaware of stopping conditions", all three
        assert old["FM-2.5"].status is ModeStatus.PRESENT  # "3.3 Ignoring suggestions from agents"
        assert old["FM-3.3"].status is ModeStatus.ABSENT
        assert all(a.trace_hash for a in anns.values())
        again = ingest([human_file], store)  # idempotent: same traces, same labels
        assert again.ingested == 0 and again.skipped_duplicates == 19
        assert len(store.get_annotations("mad-annotator_1")) == 19


def _full_records(human_file: Path) -> list[dict]:
    raw = json.loads(human_file.read_text(encoding="utf-8"))
    records = []
    for i, rec in enumerate(raw[15:17]):
        records.append({"mas_name": rec["mas_name"], "llm_name": "GPT-4o", "benchmark_name": rec["benchmark_name"],
                        "trace_id": i, "trace": {"key": "k", "index": i, "trajectory": rec["trace"]},
                        "mast_annotation": {"1.1": 1, "1.2": 0, "3.3": 1, "9.9": 1}})
    return records


def test_full_dataset_shape_and_renamed_ids(human_file, tmp_path):
    path = tmp_path / "MAD_full_dataset.json"
    path.write_text(json.dumps(_full_records(human_file)), encoding="utf-8")
    result = read_file(path)
    assert [t.id for t in result.traces] == ["ChatDev/GPT-4o/MMLU/0", "MetaGPT/GPT-4o/MMLU/1"]
    assert result.traces[0].model == "GPT-4o" and result.traces[0].metadata["index"] == 0
    assert any("unknown failure-mode names" in n and "9.9" in n for n in result.notes)
    other = tmp_path / "other" / "MAD_full_dataset.json"
    other.parent.mkdir()
    changed = _full_records(human_file)
    changed[0]["trace"]["trajectory"] = "a different log"
    other.write_text(json.dumps(changed), encoding="utf-8")
    with Store(tmp_path / "m.db") as store:
        ingest([path], store)
        report = ingest([other], store)  # same ids, different content, other file: renamed, labels follow
        assert report.labels == {"mad": 2}
        anns = {a.trace_id: a.verdict for a in store.get_annotations("mad")}
        assert set(anns) == {"ChatDev/GPT-4o/MMLU/0", "MetaGPT/GPT-4o/MMLU/1",
                             "ChatDev/GPT-4o/MMLU/0@MAD_full_dataset.json"}
        renamed = anns["ChatDev/GPT-4o/MMLU/0@MAD_full_dataset.json"]
        assert renamed.present() == ["FM-1.1", "FM-3.3"]
        assert renamed.modes["FM-1.2"].status is ModeStatus.ABSENT
        assert renamed.modes["FM-2.1"].status is ModeStatus.NOT_ASSESSED
