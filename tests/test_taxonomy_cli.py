"""`mastlens --taxonomy FILE`: a user's own taxonomy drives the judge prompt, the set record and the report."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from conftest import EXAMPLES
from fake_openai import FakeOpenAI
from typer.testing import CliRunner

from mastlens.cli.app import app
from mastlens.store import Store
from mastlens.taxonomy import load_taxonomy

runner = CliRunner()
MARKER = "Our team reads this mode strictly: any repeated kubectl call counts."


def _custom_taxonomy(tmp_path: Path) -> Path:
    """The packaged file with its own version and our sentence leading FM-1.3's definition."""
    text = resources.files("mastlens.taxonomy").joinpath("mast.toml").read_text("utf-8")
    original = 'definition = "The agent (or a group of agents) redoes work already done'
    assert text.count(original) == 1
    text = text.replace('version = "mast-2025.1"', 'version = "team-2026.1"', 1)
    text = text.replace(original, f'definition = "{MARKER} The agent (or a group of agents) redoes work already done')
    path = tmp_path / "team.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_users_taxonomy_reaches_the_judge_and_is_recorded(tmp_path: Path):
    custom = _custom_taxonomy(tmp_path)
    db = str(tmp_path / "m.db")
    with FakeOpenAI() as server:
        result = runner.invoke(app, ["--taxonomy", str(custom), "annotate", str(EXAMPLES / "chat"), "--judge",
                                     "openai:gpt-4.1-mini", "--base-url", server.url, "--json", "--db", db],
                               env={"MASTLENS_API_KEY": "sk-test-x"}, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        system = server.requests[0]["messages"][0]["content"]
    assert MARKER in system
    with Store(db) as store:
        assert store.get_set("openai:gpt-4.1-mini").taxonomy_version == "team-2026.1"
    # the next invocation without --taxonomy is back on the packaged MAST taxonomy
    listed = runner.invoke(app, ["annotations", "--json", "--db", db], catch_exceptions=False)
    runs = len((EXAMPLES / "chat" / "support_runs.jsonl").read_text(encoding="utf-8").splitlines())
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)) == runs
    assert load_taxonomy().version == "mast-2025.1"


def test_a_broken_taxonomy_file_is_one_error_line(tmp_path: Path):
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "x"\nversion = "1"\n[[modes]]\nid = "FM-9"\n', encoding="utf-8")
    result = runner.invoke(app, ["--taxonomy", str(broken), "traces", "--db", str(tmp_path / "m.db")])
    assert result.exit_code == 2
    assert "broken.toml" in result.output and len(result.output.strip().splitlines()) <= 3
    assert load_taxonomy().version == "mast-2025.1"
