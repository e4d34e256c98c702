"""`mastlens formats`: every registered input format, with what it detects on."""

from __future__ import annotations

import json

from conftest import EXAMPLES
from typer.testing import CliRunner

from mastlens.adapters.loader import read_file
from mastlens.adapters.registry import all_adapters
from mastlens.cli.app import app

runner = CliRunner()


def test_formats_json_lists_every_registered_adapter():
    result = runner.invoke(app, ["formats", "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == [a.name for a in all_adapters()]
    for row in rows:
        assert row["description"] and row["detects"], row["name"]
    by_name = {r["name"]: r for r in rows}
    assert {"otel", "inspect", "atif", "whowhen", "claude-code", "codex", "native", "itbench"} <= set(by_name)
    assert by_name["atif"]["folders"] is True and by_name["itbench"]["folders"] is True
    assert ".eval" in by_name["inspect"]["extensions"]
    assert by_name["itbench"]["extensions"] == []  # a folder-only format


def test_formats_table_names_each_format():
    result = runner.invoke(app, ["formats"], catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for adapter in all_adapters():
        assert adapter.name in result.stdout
    assert "resourceSpans" in result.stdout and "ATIF-v1.x" in result.stdout


def test_every_format_says_where_its_outcome_goes():
    rows = json.loads(runner.invoke(app, ["formats", "--json"], catch_exceptions=False).stdout)
    by_name = {r["name"]: r["outcome"] for r in rows}
    assert all(by_name.values())
    carrying = {"native", "itbench", "atif", "inspect", "mad", "tau", "tau2", "whowhen", "openai"}
    carrying |= {"mini-swe-agent", "mini-swe-agent-run", "swe-agent"}  # the SWE-bench evaluation report
    assert {n for n, o in by_name.items() if not o.startswith("none")} == carrying
    assert '"outcome"' in by_name["openai"] and "score" in by_name["openai"] and "metrics" in by_name["openai"]
    helped = runner.invoke(app, ["formats", "--help"], catch_exceptions=False, env={"COLUMNS": "2000"})
    text = " ".join(helped.stdout.split())
    for name in carrying:
        assert f"{name}: {' '.join(by_name[name].split())}" in text, name


def test_the_documented_chat_outcome_is_what_is_read(tmp_path):
    """The shapes `formats` documents for an OpenAI-chat record's outcome, read as documented."""
    lines = (EXAMPLES / "chat" / "support_runs.jsonl").read_text(encoding="utf-8").splitlines()
    base = json.loads(lines[0])
    shapes = [({"success": False, "score": 0.25, "metrics": {"turns": 3}, "judge": "human"},
               (False, 0.25, {"turns": 3, "judge": "human"})),
              (True, (True, None, {})), (0.5, (False, 0.5, {})), ("resolved", (True, None, {"status": "resolved"}))]
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps({**base, "id": f"r{i}", "outcome": shape}) + "\n"
                            for i, (shape, _) in enumerate(shapes)), encoding="utf-8")
    traces = read_file(path).traces
    got = [(t.outcome.success, t.outcome.score, t.outcome.metrics) for t in traces]
    assert got == [expected for _, expected in shapes]  # 0.5 fails the default rule score>=1
