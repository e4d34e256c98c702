"""Run tags: `ingest --tag KEY=VALUE` stores them per trace, re-ingesting retags without a new content version,
and tags are group keys."""

from __future__ import annotations

import json

import pytest
from conftest import EXAMPLES
from typer.testing import CliRunner

from mastlens.analysis import compute_stats
from mastlens.cli.app import app
from mastlens.store import Store
from mastlens.store.ingest import ingest, parse_tags

runner = CliRunner()
GEMINI = EXAMPLES / "itbench" / "gemini-3-flash"
KIMI = EXAMPLES / "itbench" / "kimi-k2"


def _runs(model_folder) -> int:  # noqa: ANN001
    """How many run folders (= traces) a bundled model folder holds."""
    return len(list(model_folder.glob("scenario_*/*")))


def _run(*args: str):  # noqa: ANN202
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_parse_tags():
    assert parse_tags(["run=baseline", "agent = v2", "note=a=b"]) == {"run": "baseline", "agent": "v2", "note": "a=b"}
    assert parse_tags(None) == {}
    for bad, reason in (("run", "KEY=VALUE"), ("=x", "KEY=VALUE"), ("model=x", "trace field"),
                        ("a b=1", "KEY=VALUE")):
        with pytest.raises(ValueError, match=reason):
            parse_tags([bad])
    with pytest.raises(ValueError, match="given twice"):
        parse_tags(["run=a", "run=b"])


def test_retagging_keeps_content_version_and_annotations(store):
    first = ingest([GEMINI], store, tags={"run": "baseline", "agent": "v1"})
    ids = sorted(set(first.trace_ids))
    assert ids and all(store.get_tags(i) == {"agent": "v1", "run": "baseline"} for i in ids)
    versions = {r.id: (r.version, r.hash) for r in store.trace_rows()}
    second = ingest([GEMINI], store, tags={"run": "new"})
    assert second.ingested == 0 and second.retagged == len(ids)
    assert {r.id: (r.version, r.hash) for r in store.trace_rows()} == versions
    assert all(store.get_tags(i) == {"agent": "v1", "run": "new"} for i in ids)
    # Without --tag a re-ingest leaves the tags alone; the same tags again change nothing.
    assert ingest([GEMINI], store).retagged == 0 and ingest([GEMINI], store, tags={"run": "new"}).retagged == 0
    assert store.get_tags(ids[0])["run"] == "new"


def test_tags_are_group_keys(tmp_path):
    db = str(tmp_path / "t.db")
    assert _run("ingest", str(GEMINI), "--tag", "run=baseline", "--db", db).exit_code == 0
    assert _run("ingest", str(KIMI), "--tag", "run=candidate", "--db", db).exit_code == 0
    assert _run("annotate", "--judge", "rules", "--db", db).exit_code == 0
    with Store(db) as store:
        stats = compute_stats(store, group_by="run")
        groups = {g.name: g.n for g in stats.groups}
        assert groups == {"baseline": _runs(GEMINI), "candidate": _runs(KIMI)}
        with pytest.raises(ValueError, match="run"):  # the error lists the keys there are
            compute_stats(store, group_by="nope")
    result = _run("stats", "--group-by", "run", "--json", "--db", db)
    assert result.exit_code == 0
    assert sorted(g["name"] for g in json.loads(result.stdout)["groups"]) == ["baseline", "candidate"]
    html = tmp_path / "r.html"
    assert _run("report", "--group-by", "run", "-o", str(html), "--db", db).exit_code == 0
    text = html.read_text(encoding="utf-8")
    # every drill-down sits in its tag's group (g0, g1), none in the catch-all for unknown groups
    assert 'data-group="g0"' in text and 'data-group="g1"' in text and 'data-group="g-other"' not in text


def test_cli_tag_errors_and_analyze_passes_tags(tmp_path):
    db = str(tmp_path / "a.db")
    bad = _run("ingest", str(GEMINI), "--tag", "oops", "--db", db)
    assert bad.exit_code == 2 and "KEY=VALUE" in bad.output
    result = _run("analyze", str(KIMI), "--tag", "run=pr-42", "--db", db, "-o", str(tmp_path / "r.html"))
    assert result.exit_code == 0, result.output
    with Store(db) as store:
        assert {tuple(store.get_tags(r.id).items()) for r in store.trace_rows()} == {(("run", "pr-42"),)}
    ingested = _run("ingest", str(KIMI), "--tag", "run=pr-43", "--db", db, "--json")
    assert json.loads(ingested.stdout)["retagged"] == _runs(KIMI)
