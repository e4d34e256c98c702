"""Label blocks repeated across traces: the published MAST-Data human-labelled file gives records of different
systems the very same annotations array (every annotator's column); ingest says so, each label records its block,
and agreement (CLI, JSON, report) warns that it measures little."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mastlens.adapters.loader import read_file
from mastlens.analysis import compute_agreement
from mastlens.cli.app import app
from mastlens.store.ingest import ingest

HUMAN = Path("mast_data") / "MAD_human_labelled_dataset.json"


def _block(*votes: bool) -> list[dict]:
    names = ["1.1 Disobey Task Specification", "1.3 Step Repetition", "3.2 No or Incomplete Verification"]
    return [{"failure mode": f"{name}\n\nour words", "annotator_1": v, "annotator_2": v, "annotator_3": False}
            for name, v in zip(names, votes)]


def _record(no: int, system: str, annotations: list[dict]) -> dict:
    log = f"[{system} Agent]: looked at the task {no}\n[{system} Agent]: done with it {no}\n"
    return {"round": "Generlazability", "mas_name": system, "benchmark_name": "Bench", "trace_id": no,
            "trace": log, "annotations": annotations}


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def test_records_sharing_a_block_are_named_in_the_notes_and_on_their_labels(tmp_path):
    path = _write(tmp_path / "human.json", [
        _record(0, "ChatDev", _block(True, False, True)),
        _record(1, "MetaGPT", _block(True, False, True)),  # another system, the same block byte for byte
        _record(2, "AG2", _block(False, True, False)),
    ])
    result = read_file(path)
    assert result.failures == []
    note = next(n for n in result.notes if "byte-identical annotation block" in n)
    assert "2 of 3 records" in note and "2 distinct blocks" in note
    assert "Generlazability/ChatDev/Bench/0 = Generlazability/MetaGPT/Bench/1" in note
    by_trace = {(lab.trace_id, lab.set): lab.metadata for lab in result.labels}
    first = by_trace[("Generlazability/ChatDev/Bench/0", "mad-majority")]
    second = by_trace[("Generlazability/MetaGPT/Bench/1", "mad-majority")]
    third = by_trace[("Generlazability/AG2/Bench/2", "mad-majority")]
    assert first["label_block"] == second["label_block"] != third["label_block"]
    assert first["label_block_shared_with"] == ["Generlazability/MetaGPT/Bench/1"]
    assert "label_block_shared_with" not in third


def test_distinct_blocks_give_no_note_and_no_warning(tmp_path, store):
    path = _write(tmp_path / "human.json", [
        _record(0, "ChatDev", _block(True, False, True)),
        _record(1, "MetaGPT", _block(False, False, True)),
    ])
    report = ingest([path], store)
    assert not any("byte-identical" in n for n in report.notes)
    result = compute_agreement(store, "mad-annotator_1", "mad-annotator_3")
    assert result.n_traces == 2 and result.shared_labels == []


def test_agreement_warns_on_both_backends_and_in_json(tmp_path, store, store_location):
    path = _write(tmp_path / "human.json", [
        _record(0, "ChatDev", _block(True, False, True)),
        _record(1, "MetaGPT", _block(True, False, True)),
        _record(2, "AG2", _block(True, False, True)),
        _record(3, "GAIA", _block(False, True, False)),
    ])
    ingest([path], store)
    result = compute_agreement(store, "mad-majority", "mad-annotator_3")
    # the block is the record's whole array, so every set read from it carries the same finding
    assert [s.set for s in result.shared_labels] == ["mad-majority", "mad-annotator_3"]
    shared = result.shared_labels[0]
    assert (shared.n_marked, shared.n_shared, shared.n_blocks) == (4, 3, 2)
    assert shared.example == ["Generlazability/AG2/Bench/2", "Generlazability/ChatDev/Bench/0",
                              "Generlazability/MetaGPT/Bench/1"]
    runner = CliRunner()
    out = runner.invoke(app, ["agree", "mad-majority", "mad-annotator_1", "--db", store_location])
    assert out.exit_code == 0, out.output
    assert "warning: mad-majority and mad-annotator_1: 3 of 4 traces carry the very same block" in " ".join(
        out.output.split())
    as_json = runner.invoke(app, ["agree", "mad-majority", "mad-annotator_1", "--json", "--db", store_location])
    assert [s["set"] for s in json.loads(as_json.stdout)["shared_labels"]] == ["mad-majority", "mad-annotator_1"]


class _Warnings(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in = False

    def handle_starttag(self, tag, attrs):
        self._in = tag == "p" and "shared-labels" in (dict(attrs).get("class") or "")
        if self._in:
            self.found.append("")

    def handle_endtag(self, tag):
        self._in = False if tag == "p" else self._in

    def handle_data(self, data):
        if self._in:
            self.found[-1] += data


def test_the_published_file_repeats_its_blocks_and_the_report_says_so(tmp_path, store, store_location):
    from conftest import require_fixtures

    path = require_fixtures() / HUMAN
    report = ingest([path], store)
    note = next(n for n in report.notes if "byte-identical annotation block" in n)
    assert "18 of 19 records" in note and "8 distinct blocks" in note
    result = compute_agreement(store, "mad-majority", "mad-annotator_1")
    majority = next(s for s in result.shared_labels if s.set == "mad-majority")
    assert (majority.n_marked, majority.n_shared, majority.n_blocks) == (19, 18, 8)
    # the three records of three systems that carry one block (MAST issue #16's first group)
    assert majority.example == ["Generlazability/ChatDev/MMLU/15", "Generlazability/GAIA/Magentic/17",
                                "Generlazability/MetaGPT/MMLU/16"]
    runner = CliRunner()
    assert runner.invoke(app, ["annotate", "--judge", "rules", "--db", store_location]).exit_code == 0
    html = tmp_path / "r.html"
    out = runner.invoke(app, ["report", "--set", "rules", "--reference", "mad-majority", "-o", str(html),
                              "--db", store_location])
    assert out.exit_code == 0, out.output
    parser = _Warnings()
    parser.feed(html.read_text(encoding="utf-8"))
    assert len(parser.found) == 1 and parser.found[0].startswith("mad-majority: 18 of 19 traces")
