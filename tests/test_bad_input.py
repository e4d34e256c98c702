"""Bad input through `mastlens ingest`: one clear line per bad file, exit 1, the rest ingested, nothing stored touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mastlens.cli.app import app
from mastlens.store import Store

runner = CliRunner()
CHAT = [{"role": "user", "content": "Reset my password."},
        {"role": "assistant", "tool_calls": [{"id": "c1", "function": {"name": "reset", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
        {"role": "assistant", "content": "Your password was reset."}]
BIG = 100 * 1024 * 1024


def ingest(*args: str):  # noqa: ANN202
    return runner.invoke(app, ["ingest", *args], catch_exceptions=False)


def record(trace_id: str, **extra) -> str:
    return json.dumps({"id": trace_id, "model": "m", "messages": CHAT, **extra})


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    """A folder of good files and every kind of bad one (the 100 MB files are separate tests)."""
    d = tmp_path / "in"
    d.mkdir()
    (d / "good.jsonl").write_text(record("good-1") + "\n" + record("good-2") + "\n", encoding="utf-8")
    full = json.dumps([json.loads(record("list-1")), json.loads(record("list-2"))], indent=2)
    (d / "truncated.json").write_text(full[: len(full) // 2], encoding="utf-8")
    (d / "empty.json").write_bytes(b"")
    (d / "binary.json").write_bytes(bytes(range(256)) * 8)
    (d / "bad_utf8.jsonl").write_bytes(record("utf-1").encode() + b"\n" + b'{"id": "x\xff\xfe", "messages": []}\n'
                                       + record("utf-3").encode() + b"\n")
    (d / "wrong_schema.json").write_text(json.dumps({"messages": "not a list"}), encoding="utf-8")
    (d / "unknown.json").write_text(json.dumps({"hello": "world"}), encoding="utf-8")
    (d / "notes.txt").write_text("not a trace", encoding="utf-8")
    return d


def failures(result) -> dict[str, dict]:
    payload = json.loads(result.stdout)
    return {Path(f["path"]).name: f for f in payload["failed"]}, payload


def test_each_bad_file_is_one_clear_line(batch, tmp_path):
    db = tmp_path / "m.db"
    result = ingest(str(batch), "--db", str(db), "--json")
    assert result.exit_code == 1
    failed, payload = failures(result)
    assert set(failed) == {"truncated.json", "empty.json", "binary.json", "bad_utf8.jsonl", "wrong_schema.json"}
    assert failed["truncated.json"]["format"] == "openai" and "truncated" in failed["truncated.json"]["reason"]
    assert failed["truncated.json"]["line"] > 1
    assert failed["empty.json"] == {"path": str(batch / "empty.json"), "line": None, "format": None,
                                    "reason": "empty file"}
    assert failed["binary.json"]["reason"] == "binary file, not a trace"
    assert failed["bad_utf8.jsonl"]["line"] == 2 and "invalid UTF-8" in failed["bad_utf8.jsonl"]["reason"]
    assert failed["wrong_schema.json"]["format"] == "openai"
    assert "not OpenAI chat messages" in failed["wrong_schema.json"]["reason"]
    # JSON that parses but is no trace (a benchmark's ground truth...): skipped in a folder walk, not failed
    assert payload["skipped"] == [{"path": str(batch / "notes.txt"), "reason": "not a trace file type (.txt)"},
                                  {"path": str(batch / "unknown.json"), "reason": "no trace format recognised"}]
    # good-1, good-2, the lines around the bad UTF-8 one and the record before the cut of the truncated list
    assert payload["ingested"] == 5
    with Store(db) as store:
        assert {r.id for r in store.trace_rows()} == {"good-1", "good-2", "utf-1", "utf-3", "list-1"}


def test_human_output_names_file_line_reason_and_format(batch, tmp_path):
    result = ingest(str(batch), "--db", str(tmp_path / "m.db"))
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.startswith("failed ")]
    assert len(lines) == 5
    assert f"skipped {batch / 'unknown.json'}: no trace format recognised" in result.output
    utf = next(ln for ln in lines if "bad_utf8.jsonl" in ln)
    assert f"{batch / 'bad_utf8.jsonl'}:2 (record 1) [read as openai]: invalid UTF-8" in utf
    assert "Traceback" not in result.output


def test_stored_traces_are_not_touched(batch, tmp_path):
    db = tmp_path / "m.db"
    ingest(str(batch / "good.jsonl"), "--db", str(db))
    with Store(db) as store:
        before = {r.id: (r.hash, r.version) for r in store.trace_rows()}
    # the same ids again, in broken files
    (batch / "good_again.json").write_text("[" + record("good-1")[:-5], encoding="utf-8")
    result = ingest(str(batch), "--db", str(db), "--json")
    assert result.exit_code == 1
    with Store(db) as store:
        after = {r.id: (r.hash, r.version) for r in store.trace_rows()}
    assert {k: after[k] for k in before} == before


def test_nothing_readable_exits_2(batch, tmp_path):
    result = ingest(str(batch / "empty.json"), str(batch / "binary.json"), "--db", str(tmp_path / "m.db"))
    assert result.exit_code == 2


def _big_line(path: Path, *, valid: bool) -> None:
    """One JSONL line of a little over 100 MB: a chat record whose tool output is huge."""
    head = json.dumps({"id": "big", "model": "m", "messages": CHAT[:2]})[:-2]
    with path.open("w", encoding="utf-8") as fh:
        fh.write(head + ', {"role": "tool", "tool_call_id": "c1", "content": "')
        chunk = "log line 0123456789 " * 5000
        for _ in range(BIG // len(chunk) + 1):
            fh.write(chunk)
        if valid:
            fh.write('"}]}\n')


def test_100mb_single_line_valid_is_read(tmp_path):
    path = tmp_path / "big.jsonl"
    _big_line(path, valid=True)
    assert path.stat().st_size > BIG
    db = tmp_path / "m.db"
    result = ingest(str(path), "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    with Store(db) as store:
        trace = store.get_trace("big")
    assert len(trace.steps[-1].content) > BIG - 1024 and trace.steps[-1].call_id == "c1"


def test_100mb_single_line_invalid_is_one_error(tmp_path):
    path = tmp_path / "big.jsonl"
    _big_line(path, valid=False)
    (tmp_path / "ok.jsonl").write_text(record("ok") + "\n", encoding="utf-8")
    result = ingest(str(path), str(tmp_path / "ok.jsonl"), "--db", str(tmp_path / "m.db"), "--json")
    assert result.exit_code == 1
    failed, payload = failures(result)
    assert list(failed) == ["big.jsonl"] and failed["big.jsonl"]["line"] == 1
    assert "truncated" in failed["big.jsonl"]["reason"] and failed["big.jsonl"]["format"] == "openai"
    assert payload["ingested"] == 1


def test_a_folder_with_no_trace_exits_2_with_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    others = tmp_path / "others"
    others.mkdir()
    (others / "groundtruth.yaml").write_text("spec: {}\n", encoding="utf-8")
    for folder in (empty, others):
        result = ingest(str(folder), "--db", str(tmp_path / "m.db"))
        assert result.exit_code == 2, result.output
        assert f"error: no trace found in {folder}" in result.output and "Traceback" not in result.output
    payload = json.loads(ingest(str(others), "--db", str(tmp_path / "m.db"), "--json").stdout)
    assert payload["ingested"] == 0 and payload["skipped"][0]["reason"] == "not a trace file type (.yaml)"


def test_json_output_says_when_an_id_was_taken(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "runs.jsonl").write_text(record("run-1", task=folder) + "\n", encoding="utf-8")
    db = str(tmp_path / "m.db")
    payload = json.loads(ingest(str(tmp_path / "a"), str(tmp_path / "b"), "--db", db, "--json").stdout)
    assert payload["ingested"] == 2
    assert payload["notes"] == ["run-1: another trace already has this id; stored as run-1@runs.jsonl"]


@pytest.mark.parametrize("fmt,suffix", [("auto", ".json"), ("auto", ".jsonl"), ("codex", ".jsonl"),
                                        ("claude-code", ".jsonl")])
def test_truncated_json_reason_reads_cleanly(tmp_path, fmt, suffix):
    """The decoder's "Unterminated string starting at" loses its dangling "at"; one line per file."""
    path = tmp_path / f"cut{suffix}"
    path.write_text('{"id": "t", "messages": [{"role": "user", "content": "unfinish', encoding="utf-8")
    payload = json.loads(ingest(str(path), "--format", fmt, "--db", str(tmp_path / "m.db"), "--json").stdout)
    (failure,) = payload["failed"]
    assert failure["reason"].endswith(("Unterminated string (truncated file?)", "Unterminated string (truncated line?)",
                                       "Unterminated string")), failure
    assert " at" not in failure["reason"]


def test_odd_values_where_a_sniffer_expects_a_string_do_not_stop_the_batch(tmp_path):
    """A first line whose "type" is an object made the Claude Code sniffer raise, killing the whole ingest."""
    odd = tmp_path / "odd.jsonl"
    odd.write_text(json.dumps({"timestamp": "2026-08-01T10:01:00Z", "type": {}, "payload": {}}) + "\n",
                   encoding="utf-8")
    (tmp_path / "good.jsonl").write_text(record("good-1") + "\n", encoding="utf-8")
    result = ingest(str(tmp_path), "--db", str(tmp_path / "m.db"), "--json")
    assert result.exit_code == 0  # it parses, and no format claims it: skipped in a walk
    failed, payload = failures(result)
    assert failed == {} and {"path": str(odd), "reason": "no trace format recognised"} in payload["skipped"]
    assert payload["ingested"] == 1
    named = ingest(str(odd), "--db", str(tmp_path / "m.db"), "--json")  # named explicitly: still a failure
    assert named.exit_code == 2
    assert json.loads(named.stdout)["failed"][0]["reason"].startswith("unknown format")


def test_a_field_of_the_wrong_type_is_one_line(fixtures_dir, tmp_path):
    """An ATIF trajectory whose model name is a number: one failure line naming the field, no pydantic dump."""
    data = json.loads((fixtures_dir / "atif/terminus_2_hello-world-context-summarization-linear-history"
                                      ".trajectory.json").read_text(encoding="utf-8"))
    data["agent"]["model_name"] = 1
    path = tmp_path / "trajectory.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = ingest(str(path), "--db", str(tmp_path / "m.db"))
    assert result.exit_code == 2
    (line,) = [ln for ln in result.output.splitlines() if ln.strip()][-1:]
    assert line == f"failed {path} [read as atif]: wrong schema: model: Input should be a valid string, got 1"
    assert "errors.pydantic.dev" not in result.output and "validation error" not in result.output


def test_a_symlink_loop_is_walked_once(tmp_path):
    runs = tmp_path / "runs"
    (runs / "sub").mkdir(parents=True)
    (runs / "good.jsonl").write_text(record("good-1") + "\n", encoding="utf-8")
    (runs / "sub" / "loop").symlink_to(runs, target_is_directory=True)
    result = ingest(str(runs), "--db", str(tmp_path / "m.db"), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["ingested"] == 1 and payload["skipped_duplicates"] == 0
    assert payload["skipped"] == [{"path": str(runs / "sub" / "loop"),
                                   "reason": "folder already read (a link to it, or given twice)"}]
