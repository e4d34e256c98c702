"""Failure vectors from a real store: tri-state mode columns, onsets from evidence steps, outcomes under a
success rule, metadata columns, and what is left out (stale annotations, judge errors, unknown traces)."""

from __future__ import annotations

import pandas as pd
import pytest

from mastlens.analysis import compute_stats, failure_vectors
from mastlens.trace import (
    Annotation, AnnotationStatus, Evidence, ModeStatus, ModeVerdict, Outcome, Source, Step, StepKind, Trace, Verdict,
)

SET = "openai:test"


def _trace(trace_id, score, *, success=None, success_from="rule", content="look at the pods", team="red"):
    steps = [Step(index=i, kind=StepKind.ASSISTANT, content=f"{content} {i}") for i in range(6)]
    return Trace(id=trace_id, source=Source(format="native", path=f"/runs/{trace_id}.jsonl"), model="m1",
                 task="scenario-2", steps=steps, metadata={"team": team, "nested": {"ignored": True}},
                 outcome=Outcome(score=score, success=score >= 1 if success is None else success,
                                 success_from=success_from))


def _annotate(store, trace_id, present: dict[str, list[int]], *, not_assessed=(), error=False):
    modes = {}
    for mode_id in ("FM-1.3", "FM-1.5", "FM-2.6", "FM-3.3"):
        if mode_id in present:
            evidence = [Evidence(step=s, quote="...") for s in present[mode_id]]
            modes[mode_id] = ModeVerdict(id=mode_id, status=ModeStatus.PRESENT, evidence=evidence)
        elif mode_id in not_assessed:
            modes[mode_id] = ModeVerdict(id=mode_id, status=ModeStatus.NOT_ASSESSED)
        else:
            modes[mode_id] = ModeVerdict(id=mode_id, status=ModeStatus.ABSENT)
    if error:
        store.save_annotation(Annotation(trace_id=trace_id, set=SET, status=AnnotationStatus.ERROR, error="timeout"))
    else:
        store.save_annotation(Annotation(trace_id=trace_id, set=SET, status=AnnotationStatus.OK,
                                         verdict=Verdict(modes=modes)))


@pytest.fixture
def filled(store):
    store.ensure_set(SET, judge="openai:test")
    store.add_trace(_trace("a", 1.0, team="blue"))
    store.add_trace(_trace("b", 0.5))
    store.add_trace(_trace("c", 0.0, success=True, success_from="source"))  # the source's own flag
    store.add_trace(_trace("d", 0.0))
    store.add_trace(_trace("e", 0.0))
    _annotate(store, "a", {"FM-1.3": [4, 2]})
    _annotate(store, "b", {"FM-2.6": [1], "FM-1.5": [3], "FM-3.3": []}, not_assessed=("FM-1.3",))
    _annotate(store, "c", {"FM-2.6": [2], "FM-1.5": [5]})
    _annotate(store, "d", {}, error=True)
    _annotate(store, "e", {"FM-3.3": [1]})
    store.add_trace(_trace("e", 0.0, content="changed"))  # re-ingested with new content: annotation is stale
    _annotate(store, "ghost", {"FM-1.3": [0]})  # labelled, never ingested
    return store


def test_vectors_columns_and_values(filled):
    df = failure_vectors(filled, SET)
    assert list(df["id"]) == ["a", "b", "c"]
    assert df.attrs["excluded"] == {"stale": 1, "errors": 1, "not_in_store": 1}
    assert df.attrs["success_rule"] == "as ingested"
    assert list(df["success"]) == [True, False, True] and list(df["score"]) == [1.0, 0.5, 0.0]
    assert df["FM-1.3"].tolist()[0] is True and df["FM-1.3"].isna().tolist() == [False, True, False]
    assert df["FM-1.1"].isna().all()  # a mode the judge never wrote is not assessed
    assert df.loc[0, "FM-1.3@step"] == 2  # earliest evidence step
    assert pd.isna(df.loc[1, "FM-3.3@step"]) and df.loc[1, "FM-3.3"]  # present but not localized
    assert list(df["meta.team"]) == ["blue", "red", "red"] and "meta.nested" not in df


def test_success_rule_decides_every_trace_with_its_field(filled):
    df = failure_vectors(filled, SET, success_rule="score>0")
    assert df.attrs["success_rule"] == "score>0"
    assert list(df["success"]) == [True, True, False]  # b now succeeds; c's source flag gives way to the rule
    assert df.attrs["success_decided"] == "success decided: 3 by your rule score>0"


def test_compute_stats_from_the_store(filled):
    result = compute_stats(filled, SET, group_by="team")
    assert [g.name for g in result.groups] == ["blue", "red"]
    assert result.excluded.stale == 1 and result.n_traces == 3
    red = result.groups[1]
    assert (red.n, red.n_failed) == (2, 1)
    order = next(p for p in result.precedence if p.group == "red")
    assert (order.first, order.second, order.n_both_localized, order.share_first) == ("FM-2.6", "FM-1.5", 2, 1.0)
    firsts = [(f.group, f.mode, f.n_first) for f in result.first_onsets]
    assert firsts == [("red", "FM-2.6", 1)]  # b is the only failed trace
    with pytest.raises(ValueError, match="no annotation set 'missing'"):
        compute_stats(filled, "missing")
