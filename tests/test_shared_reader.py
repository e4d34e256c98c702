"""The one shared reader every adapter goes through: a UTF-8 BOM is dropped and gzip data is read
transparently (sniffing sees the decompressed head), on every real fixture file and an ITBench run."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, FIXTURES, require_fixtures

from mastlens.adapters.base import UTF8_BOM, read_head, trace_suffix
from mastlens.adapters.loader import FileResult, FileSkip, read_file, walk

TRACE_SUFFIXES = (".json", ".jsonl")


def _fixture_files() -> list[Path]:
    if not FIXTURES.is_dir():
        return []
    return sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix in TRACE_SUFFIXES)


def _digest(result: FileResult) -> list[tuple[str, str]]:
    return [(t.id, t.content_hash()) for t in result.traces]


@pytest.mark.parametrize("name", [str(p.relative_to(FIXTURES)) for p in _fixture_files()] or ["(no fixtures)"])
def test_bom_and_gzip_read_to_the_same_traces(name, tmp_path):
    fixtures = require_fixtures()
    original = fixtures / name
    plain = read_file(original)
    assert plain.traces and plain.format, f"{name}: {[f.describe() for f in plain.failures]}"
    raw = original.read_bytes()
    variants = {
        "bom": (tmp_path / "bom" / original.name, UTF8_BOM + raw),
        "gzip": (tmp_path / "gz" / (original.name + ".gz"), gzip.compress(raw)),
        "bom+gzip": (tmp_path / "both" / (original.name + ".gz"), gzip.compress(UTF8_BOM + raw)),
    }
    for label, (path, data) in variants.items():
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        got = read_file(path)
        assert got.format == plain.format, (label, [f.describe() for f in got.failures])
        assert [f.reason for f in got.failures] == [f.reason for f in plain.failures], label
        assert _digest(got) == _digest(plain), label


def test_claude_code_with_a_bom_keeps_its_first_line(fixtures_dir, tmp_path):
    """The first line of a session is the user's task: a BOM used to make it unparseable and silently lost."""
    original = fixtures_dir / "claude_code" / "tool_call_conversation.jsonl"
    path = tmp_path / original.name
    path.write_bytes(UTF8_BOM + original.read_bytes())
    (plain,) = read_file(original).traces
    result = read_file(path)
    assert result.failures == []
    (trace,) = result.traces
    assert [s.content for s in trace.steps] == [s.content for s in plain.steps]
    assert trace.steps[0].kind.value == "user" and trace.steps[0].content


def test_who_and_when_with_a_bom(fixtures_dir, tmp_path):
    original = fixtures_dir / "who_and_when" / "Hand-Crafted" / "6.json"
    path = tmp_path / "6.json"
    path.write_bytes(UTF8_BOM + original.read_bytes())
    result = read_file(path)
    assert result.format == "whowhen" and result.failures == []
    assert _digest(result) == _digest(read_file(original))


def test_gzipped_itbench_rollout_in_a_run_folder(tmp_path):
    run = EXAMPLES / "itbench" / "kimi-k2" / "scenario_2" / "2"
    copy = tmp_path / "kimi-k2" / "scenario_2" / "2"
    shutil.copytree(run, copy)
    (rollout,) = copy.rglob("rollout-*.jsonl")
    rollout.with_name(rollout.name + ".gz").write_bytes(gzip.compress(rollout.read_bytes()))
    rollout.unlink()
    (plain,) = [r for r in walk([run]) if isinstance(r, FileResult)]
    (packed,) = [r for r in walk([copy]) if isinstance(r, FileResult)]
    assert packed.failures == [] and _digest(packed) == _digest(plain)


def test_sniffing_sees_the_decompressed_head_and_damage_is_one_clear_failure(tmp_path):
    source = EXAMPLES / "chat" / "support_runs.jsonl"
    packed = tmp_path / "runs.jsonl.gz"
    data = gzip.compress(source.read_bytes())
    packed.write_bytes(data)
    assert read_head(packed, 200) == source.read_bytes()[:200]
    assert trace_suffix(packed) == ".jsonl" and trace_suffix(tmp_path / "a.tar.gz") == ".tar"
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) // 2])
    result = read_file(cut)
    assert result.format == "openai" and result.traces  # the lines before the cut are read
    assert any("truncated gzip" in f.reason for f in result.failures), [f.describe() for f in result.failures]
    junk = tmp_path / "junk.json.gz"
    junk.write_bytes(b"\x1f\x8b" + b"\x00" * 40)
    (failure,) = read_file(junk).failures
    assert failure.path == str(junk) and failure.reason
    skipped = [r for r in walk([tmp_path]) if isinstance(r, FileSkip)]
    assert all(s.path != str(packed) for s in skipped)
