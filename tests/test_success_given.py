"""`--success` is never silently ignored: a given rule decides every trace with its field (over the source's
own flag), the output says what decided, and a rule naming a field no trace has is an error (real tau-bench
and Who&When files)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mastlens.cli.app import app
from mastlens.store import Store

runner = CliRunner()
TAU = "tau_bench/gpt-4o-airline.subset.json"


def run(*args: str):  # noqa: ANN202
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_ingest_rule_naming_a_missing_field_is_an_error_and_stores_nothing(fixtures_dir, tmp_path):
    db = str(tmp_path / "m.db")
    result = run("ingest", str(fixtures_dir / TAU), "--success", "reward==1", "--db", db)
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "none of the 15 traces has an outcome field 'reward'" in message
    assert "the fields they have:" in message and "score" in message
    with Store(db) as store:
        assert store.count_traces() == 0


def test_ingest_rule_overrides_the_source_flag_and_says_so(fixtures_dir, tmp_path):
    db = str(tmp_path / "m.db")
    default = json.loads(run("ingest", str(fixtures_dir / TAU), "--db", db, "--json").stdout)
    assert default["success"] == {"rule": "score>=1", "given": False, "by_rule": 0, "by_source": 15, "unknown": 0}
    with Store(db) as store:
        assert sum(r.success for r in store.trace_rows()) == 5
    assert run("annotate", "--judge", "rules", "--db", db).exit_code == 0
    given = run("ingest", str(fixtures_dir / TAU), "--success", "score>=2", "--db", db)
    assert given.exit_code == 0
    assert "success decided: 15 by your rule score>=2" in " ".join(given.output.split())
    with Store(db) as store:
        assert sum(r.success for r in store.trace_rows()) == 0
        # another success rule is no content change: the annotations stay current, and back again
        annotations = store.get_annotations(store.latest_set(), include_stale=True)
        assert len(annotations) == 15 and not any(a.stale for a in annotations)
    assert run("ingest", str(fixtures_dir / TAU), "--db", db).exit_code == 0
    with Store(db) as store:
        assert sum(r.success for r in store.trace_rows()) == 5
        assert not any(a.stale for a in store.get_annotations(store.latest_set(), include_stale=True))


def test_stats_rule_changes_the_rate_of_source_flagged_traces(fixtures_dir, tmp_path):
    db = str(tmp_path / "m.db")
    assert run("ingest", str(fixtures_dir / TAU), "--db", db).exit_code == 0
    assert run("annotate", "--judge", "rules", "--db", db).exit_code == 0
    as_ingested = json.loads(run("stats", "--db", db, "--json").stdout)
    assert [g["success_rate"] for g in as_ingested["groups"]] == [5 / 15]
    ruled = run("stats", "--success", "score>=2", "--db", db, "--json")
    payload = json.loads(ruled.stdout)
    assert payload["success_rule"] == "score>=2" and [g["success_rate"] for g in payload["groups"]] == [0.0]
    assert payload["success_decided"] == "success decided: 15 by your rule score>=2"
    human = " ".join(run("stats", "--success", "score>=2", "--db", db).output.split())
    assert "success decided: 15 by your rule score>=2" in human
    missing = run("stats", "--success", "reward==1", "--db", db)
    assert missing.exit_code != 0 and "has an outcome field 'reward'" in " ".join(missing.output.split())


def test_a_source_flag_without_the_field_is_kept_and_counted(fixtures_dir, tmp_path):
    """Who&When records carry is_correct (the source's flag) and no r_actions metric: a rule on tau-bench's
    r_actions decides the tau traces and leaves the Who&When one to its own flag."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "6.json").write_bytes((fixtures_dir / "who_and_when/Hand-Crafted/6.json").read_bytes())
    (folder / "tau.json").write_bytes((fixtures_dir / TAU).read_bytes())
    payload = json.loads(run("ingest", str(folder), "--success", "r_actions>0", "--db", str(tmp_path / "m.db"),
                             "--json").stdout)
    assert payload["success"]["by_rule"] == 15 and payload["success"]["by_source"] == 1
