"""The review's data rules without a server: seeded queue strategies, the append-only decision history
(current label = latest decision), import-labels into a human set, export of labels and history."""

from __future__ import annotations

import csv
import json
import random

import pytest
from _report_data import build_store
from typer.testing import CliRunner

from mastlens.analysis import compute_agreement, import_labels
from mastlens.cli.app import app
from mastlens.review import Label, StaleTrace, build_queue, history, human_set_name, open_queue, save_review
from mastlens.review.decisions import current_labels
from mastlens.review.queue import Candidate, load_candidates
from mastlens.trace import ModeStatus

runner = CliRunner()


def _candidates(n: int = 60, seed: int = 1) -> list[Candidate]:
    rng = random.Random(seed)
    return [Candidate(trace_id=f"t{i:03d}", group=rng.choice("abc"), outcome=rng.choice(["success", "failure"]),
                      min_confidence=round(rng.random(), 2), max_flip_rate=rng.choice([None, 0.0, 0.2, 0.5]),
                      unverified=rng.choice([0, 0, 0, 1, 2]), disagreements=rng.choice([0, 0, 1, 3]))
            for i in range(n)]


@pytest.mark.parametrize("strategy", ["stratified", "uncertain", "disagree", "random"])
def test_same_seed_same_queue(strategy):
    cands = _candidates()
    first = build_queue(cands, strategy, 20, seed=5)
    assert first == build_queue(list(cands), strategy, 20, seed=5)
    assert len({t for t, _ in first}) == len(first) > 0


def test_random_depends_on_the_seed():
    cands = _candidates()
    assert build_queue(cands, "random", 20, 1) != build_queue(cands, "random", 20, 2)


def test_stratified_takes_every_stratum_in_turn():
    cands = _candidates()
    strata = {(c.group, c.outcome) for c in cands}
    queue = build_queue(cands, "stratified", len(strata), seed=3)
    by_id = {c.trace_id: c for c in cands}
    assert {(by_id[t].group, by_id[t].outcome) for t, _ in queue} == strata
    assert all(why.startswith("stratum ") for _, why in queue)
    # A stratum smaller than its share gives up its place to the others.
    tiny = [Candidate("x", "solo", "failure")] + [Candidate(f"b{i}", "big", "success") for i in range(10)]
    assert "x" in [t for t, _ in build_queue(tiny, "stratified", 2, seed=0)]
    assert len(build_queue(tiny, "stratified", 50, seed=0)) == 11


def test_uncertain_puts_unverified_then_flips_then_low_confidence_first():
    cands = [Candidate("sure", "g", "failure", min_confidence=0.95),
             Candidate("low", "g", "failure", min_confidence=0.3),
             Candidate("flippy", "g", "failure", min_confidence=0.9, max_flip_rate=0.4),
             Candidate("unverified", "g", "failure", min_confidence=0.99, unverified=1)]
    order = [t for t, _ in build_queue(cands, "uncertain", 4, seed=0)]
    assert order == ["unverified", "flippy", "low", "sure"]


def test_disagree_keeps_only_differences_most_first():
    cands = [Candidate("same", "g", "failure"), Candidate("one", "g", "failure", disagreements=1),
             Candidate("three", "g", "failure", disagreements=3)]
    assert [t for t, _ in build_queue(cands, "disagree", 10, seed=0)] == ["three", "one"]


def test_unknown_strategy_is_an_error():
    with pytest.raises(ValueError, match="unknown strategy"):
        build_queue(_candidates(), "vibes", 3, 0)


def test_candidates_and_stored_queue_survive_reopening(store):
    ids = build_store(store, per_model=5)
    cands = load_candidates(store, "judge-a")
    assert sorted(c.trace_id for c in cands) == sorted(ids)
    assert {c.outcome for c in cands} == {"success", "failure"}
    q1 = open_queue(store, human_set="human:ann", judge_set="judge-a", strategy="stratified", sample=7, seed=1)
    items = store.conn.execute("SELECT trace_id FROM review_queue_items WHERE queue_id = ? ORDER BY position",
                               (q1.id,)).fetchall()
    q2 = open_queue(store, human_set="human:ann", judge_set="judge-a", strategy="stratified", sample=7, seed=1)
    assert q1.created and not q2.created and q1.id == q2.id and q1.size == q2.size == 7
    assert [r[0] for r in items] == [t for t, _ in build_queue(cands, "stratified", 7, 1)]
    q3 = open_queue(store, human_set="human:ann", judge_set="judge-a", strategy="random", sample=7, seed=1)
    assert q3.id != q1.id


def _hash(store, trace_id):  # noqa: ANN001, ANN202
    return store.conn.execute("SELECT hash FROM traces WHERE id = ?", (trace_id,)).fetchone()[0]


def test_current_label_is_the_latest_decision_and_nothing_is_lost(store):
    ids = build_store(store, per_model=2)
    t = ids[0]
    judge_status = store.conn.execute("SELECT status FROM mode_annotations WHERE set_name='judge-a' AND trace_id=? "
                                      "AND mode_id='FM-1.3'", (t,)).fetchone()[0]
    save_review(store, human_set="human:ann", judge_set="judge-a", trace_id=t, loaded_hash=_hash(store, t),
                choices={"FM-1.3": Label(ModeStatus.PRESENT, 2, "loops"), "FM-3.1": Label(ModeStatus.ABSENT)},
                reviewer="ann")
    save_review(store, human_set="human:ann", judge_set="judge-a", trace_id=t, loaded_hash=_hash(store, t),
                choices={"FM-1.3": Label(ModeStatus.NOT_ASSESSED)}, reviewer="bob")
    labels = current_labels(store, "human:ann", t)
    assert labels["FM-1.3"].status is ModeStatus.NOT_ASSESSED  # the latest decision
    assert labels["FM-3.1"].status is ModeStatus.ABSENT  # untouched by the second save
    assert labels["FM-2.2"].status is ModeStatus.NOT_ASSESSED  # never decided: not assessed, never absent
    rows = history(store, "human:ann", t)
    assert [(r["mode_id"], r["status"], r["previous_status"], r["reviewer"]) for r in rows] == [
        ("FM-1.3", "present", None, "ann"), ("FM-3.1", "absent", None, "ann"),
        ("FM-1.3", "not_assessed", "present", "bob")]
    assert rows[0]["judge_status"] == judge_status and rows[0]["step"] == 2 and rows[0]["note"] == "loops"
    assert all(r["source"] == "review" and r["trace_hash"] == _hash(store, t) for r in rows)
    # The human set is an ordinary annotation set: the agreement sees the one labelled trace.
    result = compute_agreement(store, "human:ann", "judge-a")
    assert result.n_traces == 1
    assert {s.id: s.n for s in result.modes}["FM-3.1"] == 1
    assert {s.id: s.n for s in result.modes}["FM-1.3"] == 0


def test_stale_save_is_refused_and_writes_nothing(store):
    ids = build_store(store, per_model=1)
    t = ids[0]
    loaded = _hash(store, t)
    trace = store.get_trace(t)
    trace.steps[0].content += " (edited upstream)"
    assert store.add_trace(trace).action == "replaced"
    with pytest.raises(StaleTrace, match="re-ingested"):
        save_review(store, human_set="human:ann", judge_set="judge-a", trace_id=t, loaded_hash=loaded,
                    choices={"FM-1.1": Label(ModeStatus.PRESENT)}, reviewer="ann")
    assert history(store, "human:ann") == [] and store.get_set("human:ann") is None


def test_import_into_a_reviewed_set_appends_to_history(store, tmp_path):
    ids = build_store(store, per_model=1)
    t = ids[0]
    save_review(store, human_set="human:ann", judge_set="judge-a", trace_id=t, loaded_hash=_hash(store, t),
                choices={"FM-1.1": Label(ModeStatus.PRESENT), "FM-1.2": Label(ModeStatus.ABSENT)}, reviewer="ann")
    labels = tmp_path / "labels.csv"
    labels.write_text(f"trace_id,FM-1.1,FM-1.2\n{t},0,0\n", encoding="utf-8")
    report = import_labels(store, labels, "human:ann")
    assert report.imported == 1
    rows = history(store, "human:ann", t)
    imported = [r for r in rows if r["source"] == "import"]
    # FM-1.1 flipped present -> absent by the file; FM-1.2 unchanged (absent) needs no new entry.
    flip = next(r for r in imported if r["mode_id"] == "FM-1.1")
    assert (flip["status"], flip["previous_status"], flip["reviewer"]) == ("absent", "present",
                                                                           "import-labels:labels.csv")
    assert not [r for r in imported if r["mode_id"] == "FM-1.2"]
    assert current_labels(store, "human:ann", t)["FM-1.1"].status is ModeStatus.ABSENT
    # Reviewing again records the import's value as the one replaced.
    save_review(store, human_set="human:ann", judge_set="judge-a", trace_id=t, loaded_hash=_hash(store, t),
                choices={"FM-1.1": Label(ModeStatus.PRESENT)}, reviewer="ann")
    last = history(store, "human:ann", t)[-1]
    assert (last["status"], last["previous_status"], last["source"]) == ("present", "absent", "review")
    # Deleting the set keeps every decision.
    n = len(history(store, "human:ann"))
    store.delete_set("human:ann")
    assert len(history(store, "human:ann")) == n


def test_export_current_labels_and_history(store, db_path, tmp_path):
    ids = build_store(store, per_model=1)
    for t, status in zip(ids[:2], (ModeStatus.PRESENT, ModeStatus.ABSENT)):
        save_review(store, human_set="human:ann", judge_set="judge-a", trace_id=t, loaded_hash=_hash(store, t),
                    choices={"FM-2.3": Label(status, note="why, with \"quotes\"")}, reviewer="ann")
    save_review(store, human_set="human:ann", judge_set="judge-a", trace_id=ids[0], loaded_hash=_hash(store, ids[0]),
                choices={"FM-2.3": Label(ModeStatus.ABSENT)}, reviewer="ann")
    current, past = tmp_path / "current.csv", tmp_path / "history.jsonl"
    r1 = runner.invoke(app, ["export", "--db", str(db_path), "--set", "human:ann", "--to", "csv", str(current)])
    r2 = runner.invoke(app, ["export", "--db", str(db_path), "--set", "human:ann", "--to", "jsonl", "--history",
                             str(past)])
    assert r1.exit_code == 0, r1.output
    assert r2.exit_code == 0, r2.output
    table = {row["id"]: row for row in csv.DictReader(current.open(encoding="utf-8"))}
    assert set(table) == set(ids[:2])
    column = "FM-2.3"
    assert {t: table[t][column] for t in ids[:2]} == {ids[0]: "False", ids[1]: "False"}
    records = [json.loads(line) for line in past.read_text(encoding="utf-8").splitlines()]
    assert [(r["trace_id"], r["status"], r["previous_status"]) for r in records] == [
        (ids[0], "present", None), (ids[1], "absent", None), (ids[0], "absent", "present")]
    bad = runner.invoke(app, ["export", "--db", str(db_path), "--set", "human:ann", "--to", "otel", "--history",
                              str(tmp_path / "x.json")])
    assert bad.exit_code == 2


def test_reviewer_names_and_usage_errors(store, db_path):
    build_store(store, per_model=1)
    assert human_set_name("ann") == human_set_name("human:ann") == "human:ann"
    with pytest.raises(ValueError):
        human_set_name("a b<script>")
    for args, message in ((["--strategy", "vibes"], "unknown strategy"),
                          (["--strategy", "disagree"], "needs --against"),
                          (["--set", "nope"], "no annotation set"),
                          (["--as", "bad name"], "reviewer name")):
        result = runner.invoke(app, ["review", "--db", str(db_path), *args], env={"COLUMNS": "300"})
        assert result.exit_code == 2, result.output
        assert message in result.output


def test_human_sets_belong_to_the_labels_judge():
    from mastlens.analysis.labels import LABELS_JUDGE
    from mastlens.review.decisions import LABELS_JUDGE as REVIEW_LABELS_JUDGE

    assert REVIEW_LABELS_JUDGE == LABELS_JUDGE


def test_agreement_page_numbers_equal_compute_agreement(store):
    from mastlens.review.agreement import agreement_view, human_agreement

    ids = build_store(store, per_model=6)
    rng = random.Random(4)
    for t in ids[::2]:
        choices = {m: Label(rng.choice(list(ModeStatus))) for m in ("FM-1.3", "FM-1.5", "FM-3.1", "FM-3.3", "FM-2.6")}
        save_review(store, human_set="human:ann", judge_set="judge-a", trace_id=t, loaded_hash=_hash(store, t),
                    choices=choices, reviewer="ann")
    expected = compute_agreement(store, "human:ann", "judge-a")
    assert expected.n_traces == len(ids[::2])
    assert human_agreement(store, "human:ann", "judge-a").model_dump() == expected.model_dump()
    view = agreement_view(store, "human:ann", "judge-a")
    assert view.result.model_dump() == expected.model_dump()
    assert view.corrected_available is True
    for row in view.rows:  # Rogan-Gladen by hand: (p + sp - 1) / (se + sp - 1), clipped to [0, 1]
        s = row.stat
        if not (s.tp + s.fn) or not (s.tn + s.fp) or row.judge_prevalence is None:
            assert row.corrected_prevalence is None, s.id
            continue
        se, sp = s.tp / (s.tp + s.fn), s.tn / (s.tn + s.fp)
        if se + sp - 1 <= 0.05:
            assert row.corrected_prevalence is None, s.id
            continue
        expected_rg = min(1.0, max(0.0, (row.judge_prevalence + sp - 1) / (se + sp - 1)))
        assert row.corrected_prevalence == pytest.approx(expected_rg), s.id
    assert {r.stat.id: r.judged for r in view.rows}["FM-1.3"] == len(ids)
