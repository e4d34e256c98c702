"""Model names for grouping: from the data or ``unknown``, provider prefixes stripped (the raw name kept on
the trace), ``--model-alias a=b`` on the commands that group. Real data: the Terminus-2 ATIF trajectory
names ``openai/gpt-4o``; tau-bench records name no model."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import EXAMPLES
from typer.testing import CliRunner

from mastlens.cli.app import app
from mastlens.store import Store
from mastlens.trace.model_names import ModelAliasError, group_model, normalize_model, parse_aliases, same_model

runner = CliRunner()
TERMINUS = "atif/terminus_2_hello-world-context-summarization-linear-history.trajectory.json"


def run(*args: str):  # noqa: ANN202
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.mark.parametrize(("raw", "group"), [
    ("gpt-4o", "gpt-4o"), ("openai/gpt-4o", "gpt-4o"), (" openrouter/openai/gpt-4o ", "gpt-4o"),
    ("models/gemini-1.5-pro", "gemini-1.5-pro"), ("azure/gpt-4.1-mini", "gpt-4.1-mini"),
    ("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"), ("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B"),
    (None, "unknown"), ("", "unknown"), ("openai/", "openai/"),
])
def test_normalisation(raw, group):
    assert normalize_model(raw) == group


def test_aliases_and_same_model():
    aliases = parse_aliases(["openai/gpt-4o-2024-08-06=gpt-4o", "kimi-k2-thinking=kimi-k2"])
    assert aliases == {"gpt-4o-2024-08-06": "gpt-4o", "kimi-k2-thinking": "kimi-k2"}
    assert group_model("gpt-4o-2024-08-06", aliases) == "gpt-4o" and group_model("o3", aliases) == "o3"
    for bad in ("gpt-4o", "=gpt-4o", "gpt-4o="):
        with pytest.raises(ModelAliasError, match="NAME=GROUP"):
            parse_aliases([bad])
    assert same_model("openai/GPT-4o", "gpt-4o") and not same_model("gpt-5", "gpt-5-mini")
    assert not same_model(None, None)


def _mixed_store(fixtures_dir, tmp_path) -> str:
    """The Terminus-2 trajectory (openai/gpt-4o) beside chat runs that say gpt-4o."""
    folder = tmp_path / "runs"
    folder.mkdir()
    shutil.copy(fixtures_dir / TERMINUS, folder / "trajectory.json")
    lines = (EXAMPLES / "chat" / "support_runs.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines[:2]]
    for record in records:
        record["model"] = "gpt-4o"
    (folder / "chat.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    db = str(tmp_path / "m.db")
    ingested = run("ingest", str(folder), "--db", db)
    assert ingested.exit_code == 0, ingested.output
    assert run("annotate", "--judge", "rules", "--db", db).exit_code == 0
    return db


def test_provider_prefix_is_one_group_and_the_raw_name_stays(fixtures_dir, tmp_path):
    db = _mixed_store(fixtures_dir, tmp_path)
    stats = json.loads(run("stats", "--db", db, "--json").stdout)
    assert [(g["name"], g["n"]) for g in stats["groups"]] == [("gpt-4o", 3)]
    with Store(db) as store:
        assert sorted(r.model for r in store.trace_rows()) == ["gpt-4o", "gpt-4o", "openai/gpt-4o"]
    aliased = json.loads(run("stats", "--model-alias", "gpt-4o=GPT-4o family", "--db", db, "--json").stdout)
    assert [(g["name"], g["n"]) for g in aliased["groups"]] == [("GPT-4o family", 3)]
    assert aliased["model_aliases"] == {"gpt-4o": "GPT-4o family"}
    bad = run("stats", "--model-alias", "gpt-4o", "--db", db)
    assert bad.exit_code == 2 and "NAME=GROUP" in bad.output
    report = run("report", "--model-alias", "gpt-4o=GPT-4o family", "-o", str(tmp_path / "r.html"),
                 "--md", str(tmp_path / "r.md"), "--db", db)
    assert report.exit_code == 0, report.output
    summary = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "GPT-4o family" in summary and "openai/gpt-4o |" not in summary


def test_records_without_a_model_are_grouped_by_their_source(fixtures_dir, tmp_path):
    db = str(tmp_path / "m.db")
    shutil.copy(fixtures_dir / "tau_bench" / "gpt-4o-airline.subset.json", tmp_path / "docent_tb_airline.json")
    assert run("ingest", str(tmp_path / "docent_tb_airline.json"), "--db", db).exit_code == 0
    assert run("annotate", "--judge", "rules", "--db", db).exit_code == 0
    stats = json.loads(run("stats", "--db", db, "--json").stdout)
    # not one "unknown" model pooling every benchmark: the source (format/system/domain) is the group
    assert [(g["name"], g["n"]) for g in stats["groups"]] == [("tau/tau-bench/airline", 15)]
    assert stats["groups_by_source"] == ["tau/tau-bench/airline"]
