"""The rules judge behind the judge interface: verdict shape, set info, registry, CLI, big outputs."""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import EXAMPLES
from rules_traces import TraceBuilder
from typer.testing import CliRunner

from mastlens.cli.app import app
from mastlens.judges.registry import get_judge
from mastlens.judges.rules import DETECTORS, RulesConfig, RulesJudge
from mastlens.store import Store
from mastlens.taxonomy import load_taxonomy
from mastlens.trace import ModeStatus


def _looping_trace():
    b = TraceBuilder()
    for _ in range(3):
        b.shell("kubectl top pods", "cart 20m")
    return b.event("turn_aborted", "interrupted").build(trace_id="loop")


def test_annotate_returns_every_mode_at_no_cost_and_only_detected_modes_are_judged():
    result = asyncio.run(RulesJudge().annotate(_looping_trace()))
    verdict = result.verdict
    assert list(verdict.modes) == load_taxonomy().ids
    assert result.calls == 0 and result.cost_usd == 0 and result.input_tokens == 0 and result.attempts == 1
    assert verdict.present() == ["FM-1.3", "FM-1.5"] and "FM-1.3, FM-1.5" in verdict.summary
    for mode_id, mode in verdict.modes.items():
        if mode_id not in DETECTORS:
            assert mode.status is ModeStatus.NOT_ASSESSED and "LLM judge" in mode.reason
        assert mode.reason
        if mode.status is ModeStatus.PRESENT:
            assert mode.has_verified_evidence and 0 < mode.confidence <= 1
        if mode.status is ModeStatus.NOT_ASSESSED:
            assert mode.confidence is None and not mode.evidence


def test_info_names_the_judge_and_a_changed_config_changes_the_hash():
    default, tuned = RulesJudge().info(), RulesJudge(RulesConfig(repeat_min_calls=5)).info()
    assert default.judge == "rules" and default.model is None and default.endpoint_host is None
    assert default.taxonomy_version == load_taxonomy().version
    assert default.prompt_hash and tuned.prompt_hash and default.prompt_hash != tuned.prompt_hash
    assert RulesJudge(RulesConfig()).info().prompt_hash == default.prompt_hash
    assert tuned.params["repeat_min_calls"] == 5 and set(tuned.params["detectors"]) == set(DETECTORS)


def test_config_rejects_nonsense_and_unknown_knobs():
    with pytest.raises(ValueError):
        RulesConfig(repeat_min_calls=1)
    with pytest.raises(ValueError):
        RulesConfig(repeat_min_callz=3)


def test_registry_builds_the_rules_judge_with_a_config():
    judge = get_judge("rules", config=RulesConfig(repeat_min_calls=2))
    assert isinstance(judge, RulesJudge) and judge.config.repeat_min_calls == 2
    assert get_judge("rules").config == RulesConfig()


def test_megabyte_outputs_are_judged_without_scanning_them():
    log = "2026-01-15T17:45:01Z INFO frontend request handled in 26ms\n" * 40_000  # ~2.4 MB
    b = TraceBuilder()
    for _ in range(3):
        b.shell("kubectl logs deploy/frontend", log)
    verdict = RulesJudge().judge(b.say("frontend is the root cause.").build())
    assert verdict.modes["FM-1.3"].status is ModeStatus.PRESENT
    assert all(len(e.quote) <= 200 for m in verdict.modes.values() for e in m.evidence)


def test_cli_annotates_the_examples_with_rules_and_lists_the_verdicts(tmp_path):
    db = str(tmp_path / "r.db")
    runner = CliRunner()
    res = runner.invoke(app, ["annotate", str(EXAMPLES / "itbench"), "--judge", "rules", "--json", "--db", db])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    runs = len(list((EXAMPLES / "itbench").glob("*/scenario_*/*")))  # one trace per bundled run folder
    assert summary["set"] == "rules" and summary["annotated"] == summary["traces"] == runs >= 9
    assert summary["errors"] == summary["calls"] == 0 and summary["cost_usd"] == 0
    with Store(db) as store:
        info = store.get_set("rules")
        assert info.judge == "rules" and info.prompt_hash == RulesJudge().info().prompt_hash
    listed = runner.invoke(app, ["annotations", "--set", "rules", "--json", "--db", db])
    assert listed.exit_code == 0, listed.output
    rows = {r["trace_id"]: r for r in json.loads(listed.stdout)}
    looping = rows["kimi-k2/scenario_2/1"]["modes"]
    assert looping["FM-1.5"]["status"] == "present" and looping["FM-1.1"]["status"] == "not_assessed"
    assert all(e["verified"] for e in looping["FM-1.5"]["evidence"])


def test_a_detector_that_trips_leaves_its_mode_not_assessed_and_the_rest_judged(monkeypatch):
    def broken(view, config):
        raise KeyError("plan")

    monkeypatch.setitem(DETECTORS, "FM-3.1", broken)
    verdict = RulesJudge().judge(_looping_trace())
    assert verdict.modes["FM-3.1"].status is ModeStatus.NOT_ASSESSED
    assert verdict.modes["FM-3.1"].reason == "detector error: KeyError: 'plan'"
    assert verdict.modes["FM-1.5"].status is ModeStatus.PRESENT


def test_odd_shapes_do_not_break_the_detectors():
    b = TraceBuilder().call("update_plan", {"plan": 5}, "ok").call("shell", {"command": 7}, "", content="")
    b.call("mystery", ["a", {"b": None}], "Error: boom" + "x" * 100_000).say("All done, it works.")
    verdict = RulesJudge().judge(b.build())
    assert not any(m.reason.startswith("detector error") for m in verdict.modes.values())
    assert verdict.modes["FM-2.5"].status is ModeStatus.PRESENT
    assert verdict.modes["FM-2.5"].evidence[0].quote == "Error: boom" + "x" * 189


def test_a_set_is_never_extended_by_another_configuration_and_replace_starts_over(tmp_path):
    db = str(tmp_path / "r.db")
    strict = tmp_path / "strict.toml"
    strict.write_text("[rules]\nrepeat_min_calls = 6\n", encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(app, ["annotate", str(EXAMPLES / "itbench"), "--judge", "rules", "--json", "--db", db])
    assert first.exit_code == 0, first.output
    clash = runner.invoke(app, ["annotate", "--judge", "rules", "--rules-config", str(strict), "--db", db])
    assert clash.exit_code == 2
    assert "another judge configuration" in clash.output and "--replace" in clash.output
    assert "prompt hash" in clash.output
    with Store(db) as store:
        assert store.get_set("rules").prompt_hash == RulesJudge().info().prompt_hash
    tuned = runner.invoke(app, ["annotate", "--judge", "rules", "--rules-config", str(strict), "--replace",
                                "--json", "--db", db])
    assert tuned.exit_code == 0, tuned.output
    assert json.loads(tuned.stdout)["annotated"] == len(list((EXAMPLES / "itbench").glob("*/scenario_*/*")))
    with Store(db) as store:
        assert store.get_set("rules").prompt_hash == RulesJudge(config=RulesConfig(repeat_min_calls=6)).info().prompt_hash
        looping = {a.trace_id: a for a in store.get_annotations("rules")}["gpt-oss-120b/scenario_2/1"]
    # the loop example repeats its read five times: under a threshold of six it is no longer repetition
    assert looping.verdict.modes["FM-1.3"].status is ModeStatus.ABSENT


def test_a_bad_rules_config_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("repeat_min_calls = 1\nnot_a_knob = 3\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["annotate", str(EXAMPLES / "itbench"), "--judge", "rules", "--rules-config",
                                   str(bad), "--db", str(tmp_path / "r.db")])
    assert res.exit_code == 2
    assert "bad.toml" in res.output and "repeat_min_calls" in res.output and "not_a_knob" in res.output
