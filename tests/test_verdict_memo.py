"""The verdict memo: a re-run into another set copies the verdicts held under the same key, inside
SQLite; any change to what makes the verdict is a miss (judged again, through the reply cache)."""

from __future__ import annotations

from fake_openai import FakeOpenAI, quoting_verdict, reply
from judge_helpers import fill, judge, sample_trace

from mastlens.judges.runner import annotate_traces


def _verdicts(store, set_name):
    return {a.trace_id: (a.verdict.model_dump(exclude={"metadata"}), a.raw_reply)
            for a in store.get_annotations(set_name)}


def test_a_rerun_copies_the_verdicts_and_spends_nothing(store):
    fill(store, 3)
    store.add_trace(sample_trace(7, n_rounds=20))  # segmented: one verdict stands for several replies
    with FakeOpenAI() as srv:
        first = annotate_traces(store, judge(srv.url, max_trace_tokens=2000), set_name="a")
        calls = srv.calls
        again = annotate_traces(store, judge(srv.url, max_trace_tokens=2000), set_name="b")
        assert srv.calls == calls  # no request
    assert (first.annotated, again.annotated, again.calls, again.cache_hits) == (4, 4, 0, calls)
    assert _verdicts(store, "a") == _verdicts(store, "b")
    copied = store.get_annotations("b")
    assert all(a.cost_usd == 0 and a.input_tokens == 0 and a.memo_key for a in copied)
    assert {a.trace_id: a.memo_key for a in copied} == {a.trace_id: a.memo_key for a in store.get_annotations("a")}


def test_a_changed_setting_or_trace_is_a_miss(store):
    fill(store, 2)
    with FakeOpenAI() as srv:
        annotate_traces(store, judge(srv.url), set_name="a")
        other = annotate_traces(store, judge(srv.url, temperature=0.7), set_name="warm")
        assert other.calls == 2 and srv.calls == 4  # another temperature: neither memo nor reply cache
        changed = sample_trace(0, marker="A new line in the trace.")
        store.add_trace(changed)
        rerun = annotate_traces(store, judge(srv.url), set_name="c")
    assert (rerun.calls, rerun.cache_hits) == (1, 1)  # the changed trace asked again, the other copied


def test_with_the_holding_set_gone_the_reply_cache_still_serves(store):
    fill(store, 2)
    with FakeOpenAI(lambda request, n: reply(quoting_verdict(request), request)) as srv:
        annotate_traces(store, judge(srv.url), set_name="a")
        before = _verdicts(store, "a")
        store.delete_set("a")
        rerun = annotate_traces(store, judge(srv.url), set_name="c")
        assert srv.calls == 2
    assert (rerun.calls, rerun.cache_hits, rerun.annotated) == (0, 2, 2)
    assert _verdicts(store, "c") == before


def test_a_set_is_never_copied_from_itself_and_replace_rejudges_through_the_cache(store):
    fill(store, 2)
    with FakeOpenAI() as srv:
        annotate_traces(store, judge(srv.url), set_name="a")
        again = annotate_traces(store, judge(srv.url), set_name="a", replace=True)
        assert srv.calls == 2
    assert (again.calls, again.cache_hits, again.annotated) == (0, 2, 2)
