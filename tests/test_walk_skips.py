"""A folder walk skips JSON that parses but is in no trace format (a benchmark's ground truth, a config)
instead of failing the run; unparseable files and files named on the command line still fail."""

from __future__ import annotations

import json
import shutil

from conftest import EXAMPLES
from typer.testing import CliRunner

from mastlens.cli.app import app

runner = CliRunner()


def _ingest(*args: str):  # noqa: ANN202
    return runner.invoke(app, ["ingest", *args], catch_exceptions=False)


def _benchmark_folder(tmp_path):
    """Traces beside an ITBench-style ground-truth file and a settings file, as benchmark checkouts have."""
    folder = tmp_path / "bench"
    shutil.copytree(EXAMPLES / "chat", folder / "runs")
    truths = [{"id": "2", "groundtruth": {"entities": [{"id": "flagd-config", "kind": "ConfigMap",
                                                         "namespace": "otel-demo", "root_cause": True}]}}]
    (folder / "ground_truths.json").write_text(json.dumps(truths, indent=2), encoding="utf-8")
    (folder / "settings.jsonl").write_text('{"k": 3}\n{"judge": "gpt-4.1"}\n', encoding="utf-8")
    return folder


def test_parseable_non_trace_json_is_skipped_and_the_exit_code_stays_0(tmp_path):
    folder = _benchmark_folder(tmp_path)
    result = _ingest(str(folder), "--db", str(tmp_path / "m.db"), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    runs = len((EXAMPLES / "chat" / "support_runs.jsonl").read_text(encoding="utf-8").splitlines())
    assert payload["failed"] == [] and payload["ingested"] == runs
    assert {"path": str(folder / "ground_truths.json"), "reason": "no trace format recognised"} in payload["skipped"]
    assert {"path": str(folder / "settings.jsonl"), "reason": "no trace format recognised"} in payload["skipped"]
    human = _ingest(str(folder), "--db", str(tmp_path / "m2.db"))
    assert f"skipped {folder / 'ground_truths.json'}: no trace format recognised" in human.output


def test_unparseable_or_named_files_still_fail(tmp_path):
    folder = _benchmark_folder(tmp_path)
    (folder / "broken.json").write_text('{"id": "2", "groundtruth": {', encoding="utf-8")
    (folder / "half.jsonl").write_text('{"k": 3}\n{"judge": \n', encoding="utf-8")
    result = _ingest(str(folder), "--db", str(tmp_path / "m.db"), "--json")
    assert result.exit_code == 1
    failed = {f["path"]: f for f in json.loads(result.stdout)["failed"]}
    assert set(failed) == {str(folder / "broken.json"), str(folder / "half.jsonl")}
    assert failed[str(folder / "half.jsonl")]["line"] == 2
    assert all(f["reason"].startswith("not a trace and not valid JSON: invalid JSON") for f in failed.values())
    named = _ingest(str(folder / "ground_truths.json"), "--db", str(tmp_path / "m.db"), "--json")
    assert named.exit_code == 2
    (failure,) = json.loads(named.stdout)["failed"]
    assert failure["reason"] == "unknown format: no adapter recognizes this file"
