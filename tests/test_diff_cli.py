"""`mastlens diff` end to end: tagged ingests of the bundled examples, JSON, the Markdown PR summary (parsed),
the HTML page (parsed), and the report's Diff section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _diff_runs import run_pair, store_pair
from _html_tree import parse
from conftest import EXAMPLES
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from mastlens.cli.app import app
from mastlens.store import Store

runner = CliRunner()
HOSTILE = "<img src=x onerror=\"window.__pwned=1\"> [click](javascript:alert(1)) | `x` *y*"


def _run(*args: str):  # noqa: ANN202
    return runner.invoke(app, list(args), catch_exceptions=False)


def _tokens(md: str) -> list:
    """Every block and inline token of the document, in order."""
    out = []
    for token in MarkdownIt("commonmark").enable("table").parse(md):
        out.append(token)
        out.extend(token.children or [])
    return out


def test_diff_of_two_tagged_example_runs(tmp_path: Path):
    db = str(tmp_path / "m.db")
    assert _run("ingest", str(EXAMPLES / "itbench" / "gemini-3-flash"), "--tag", "run=baseline", "--db", db).exit_code == 0
    assert _run("ingest", str(EXAMPLES / "itbench" / "kimi-k2"), "--tag", "run=candidate", "--db", db).exit_code == 0
    assert _run("annotate", "--judge", "rules", "--db", db).exit_code == 0
    md, page = tmp_path / "diff.md", tmp_path / "diff.html"
    result = _run("diff", "baseline", "candidate", "--match", "task", "--db", db, "--md", str(md), "-o", str(page))
    assert result.exit_code == 0, result.output
    assert "McNemar exact (paired)" in result.output and "small sample" in result.output
    data = json.loads(_run("diff", "baseline", "candidate", "--db", db, "--json").stdout)
    assert data["paired"] is False and data["test"] == "Fisher exact (unpaired)"
    runs = {name: len(list((EXAMPLES / "itbench" / name).glob("scenario_*/*"))) for name in ("gemini-3-flash", "kimi-k2")}
    assert data["base_summary"]["stats"]["n"] == runs["gemini-3-flash"] >= 8
    assert data["new_summary"]["stats"]["n"] == runs["kimi-k2"] >= 8
    assert len(data["modes"]) == 14 and all("p_holm" in m for m in data["modes"])
    assert "# mastlens diff: run baseline → candidate" in md.read_text(encoding="utf-8")
    tree, errors = parse(page.read_text(encoding="utf-8"))
    assert errors == [] and tree.by_id("diff-modes") is not None
    missing = _run("diff", "baseline", "nope", "--db", db)
    assert missing.exit_code == 2 and "values: baseline, candidate" in missing.output


@pytest.fixture
def hostile_db(tmp_path: Path) -> Path:
    db = tmp_path / "h.db"
    base, new = run_pair(1)
    new["tag.run"] = "new"
    new["task"] = [f"{t} {HOSTILE}" if i < 30 else t for i, t in enumerate(new["task"])]
    base["task"] = list(new["task"])
    new["id"] = [f"{i} {HOSTILE}" for i in new["id"]]
    with Store(db) as store:
        store_pair(store, base, new, quote=HOSTILE)
    return db


def test_markdown_summary_parses_and_keeps_trace_text_inert(tmp_path, hostile_db):
    md = tmp_path / "pr.md"
    result = _run("diff", "base", "new", "--match", "task", "--db", str(hostile_db), "--md", str(md), "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    text = md.read_text(encoding="utf-8")
    tokens = _tokens(text)
    types = {t.type for t in tokens}
    assert {"table_open", "heading_open", "bullet_list_open"} <= types
    assert not types & {"html_inline", "html_block", "link_open", "image"}
    headings = [t.content for t in tokens if t.type == "inline" and t.content.startswith(("Biggest", "Verdict", "Flips"))]
    assert headings == ["Biggest changes", "Verdict changes", "Flips (task)"]
    # the three biggest changes, significant first: FM-2.4 and FM-3.3 with their CIs
    table_rows = [line for line in text.splitlines() if line.startswith("| FM-")]
    assert len(table_rows) == 3 and table_rows[0].count("[") >= 3
    assert {"FM-2.4", "FM-3.3"} <= {row.split()[1] for row in table_rows[:2]}
    fixed = sum(f["direction"] == "fixed" for f in data["flips"])
    assert f"{fixed} fail → pass, {len(data['flips']) - fixed} pass → fail." in text


def test_html_page_and_report_section_are_escaped(tmp_path, hostile_db):
    page = tmp_path / "diff.html"
    assert _run("diff", "base", "new", "--match", "task", "--db", str(hostile_db), "-o", str(page)).exit_code == 0
    tree, errors = parse(page.read_text(encoding="utf-8"))
    assert errors == []
    assert not tree.find_all("img") and not tree.find_all("script")
    assert HOSTILE in tree.by_id("diff").text()  # shown as text
    rows = tree.by_id("diff-modes").find_all("tr", class_="significant")
    assert {r.attrs["data-mode"] for r in rows} >= {"FM-2.4", "FM-3.3"}
    report = tmp_path / "report.html"
    result = _run("report", "--db", str(hostile_db), "-o", str(report), "--diff", "base", "new", "--diff-match", "task",
                  "--md", str(tmp_path / "r.md"))
    assert result.exit_code == 0, result.output
    tree, errors = parse(report.read_text(encoding="utf-8"))
    assert errors == []
    section = tree.by_id("diff")
    assert section is not None and not tree.find_all("img")
    # example traces of the verdict changes link to their drill-downs
    links = [a.attrs["href"][1:] for a in section.find_all("a", class_="trace-id")]
    assert links and all(tree.by_id(anchor) is not None for anchor in links)
    assert "### mastlens diff" in (tmp_path / "r.md").read_text(encoding="utf-8")


def test_every_output_says_when_the_judge_changed(tmp_path):
    db = tmp_path / "j.db"
    base, new = run_pair(4)
    with Store(db) as store:
        store_pair(store, base, new, set_base="a", set_new="b")
        store.ensure_set("b", judge="rules", prompt_hash="rules-1", taxonomy_version=store.get_set("a").taxonomy_version)
    args = ["diff", "base", "new", "--set-base", "a", "--set-new", "b", "--db", str(db)]
    refused = _run(*args)
    assert refused.exit_code == 2 and "--allow-judge-change" in refused.output
    md, page = tmp_path / "d.md", tmp_path / "d.html"
    shown = _run(*args, "--allow-judge-change", "--md", str(md), "-o", str(page))
    assert shown.exit_code == 0 and "judge configuration changed" in shown.output
    assert "Judge configuration changed" in md.read_text(encoding="utf-8")
    assert parse(page.read_text(encoding="utf-8"))[0].by_id("diff-judge-change") is not None
    data = json.loads(_run(*args, "--allow-judge-change", "--json").stdout)
    assert "judge 'openai:test-model' -> 'rules'" in data["judge_change"]


def _code_blocks(text: str, lang: str) -> list[str]:
    return [t.content for t in MarkdownIt("commonmark").parse(text) if t.type == "fence" and t.info.strip() == lang]


def test_the_documented_commands_work(tmp_path: Path, monkeypatch):
    """docs/ci.md's offline walk-through, command by command, and its rules file."""
    from mastlens.analysis.gate import parse_gate_rules

    docs = (EXAMPLES.parent / "docs" / "ci.md").read_text(encoding="utf-8")
    monkeypatch.chdir(EXAMPLES.parent)
    db = str(tmp_path / "docs.db")
    commands = [line.split()[1:] for line in _code_blocks(docs, "bash")[0].splitlines() if line.startswith("mastlens ")]
    assert [c[0] for c in commands] == ["ingest", "ingest", "annotate", "diff", "gate"]
    for args in commands:
        args = [str(tmp_path / a) if a.endswith((".md", ".html")) else a for a in args]
        result = _run(*args, "--db", db)
        assert result.exit_code == 0, (args, result.output)
    assert "holds" in result.output and "VIOLATED" not in result.output
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    rules = parse_gate_rules(tomllib.loads(_code_blocks(docs, "toml")[0]), Path("docs/ci.md"))
    assert rules.active() == ["min_success_rate", "max_increase_pp", "require_assessed", "max_prevalence",
                              "no_new_fatal"]
    assert "mastlens gate" in _code_blocks(docs, "yaml")[0] and "--md diff.md" in _code_blocks(docs, "yaml")[0]
