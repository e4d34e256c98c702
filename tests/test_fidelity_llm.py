"""The LLM judge's decisive step, agent and reason, through the real fake Chat Completions server."""

from __future__ import annotations

from fake_openai import FakeOpenAI, reply, verdict
from judge_helpers import fill, judge

from mastlens.judges.runner import annotate_traces

SET = "openai:gpt-4.1-mini"


def _with_decisive(step, agent="sre", reason="read the wrong pod"):
    body = verdict({"FM-1.3": []})
    body.update({"decisive_step": step, "decisive_agent": agent, "decisive_reason": reason})
    return body


def test_schema_and_prompt_ask_for_the_decisive_step(store):
    fill(store, 1)
    with FakeOpenAI(lambda req, n: reply(_with_decisive(2), req)) as srv:
        annotate_traces(store, judge(srv.url))
    sent = srv.requests[0]
    schema = sent["response_format"]["json_schema"]["schema"]
    assert {"decisive_step", "decisive_agent", "decisive_reason"} <= set(schema["required"])
    assert schema["properties"]["decisive_step"]["type"] == ["integer", "null"]
    assert '"decisive_step"' in sent["messages"][0]["content"]


def test_decisive_fields_are_stored_and_read_back(store):
    fill(store, 1)
    with FakeOpenAI(lambda req, n: reply(_with_decisive(2), req)) as srv:
        annotate_traces(store, judge(srv.url))
    [ann] = store.get_annotations(SET)
    assert ann.status.value == "ok"
    v = ann.verdict
    assert (v.decisive_step, v.decisive_agent, v.decisive_reason) == (2, "sre", "read the wrong pod")


def test_no_decisive_step_is_null_not_an_error(store):
    fill(store, 2)
    with FakeOpenAI(lambda req, n: reply(verdict(), req) if n == 0 else reply(_with_decisive(None, agent=""), req)) \
            as srv:
        summary = annotate_traces(store, judge(srv.url), concurrency=1)
    assert summary.errors == 0 and srv.calls == 2
    for ann in store.get_annotations(SET):
        assert ann.verdict.decisive_step is None and ann.verdict.decisive_agent is None


def test_out_of_range_step_gets_one_correction_then_an_error_with_the_raw_replies(store):
    fill(store, 1)  # sample_trace(0) has 5 steps: 0..4
    with FakeOpenAI(lambda req, n: reply(_with_decisive(40 + n), req)) as srv:
        summary = annotate_traces(store, judge(srv.url))
    assert summary.errors == 1 and srv.calls == 2
    correction = srv.requests[1]["messages"][-1]["content"]
    assert "decisive_step 40 is not a step of the record (steps 0 to 4)" in correction
    [ann] = store.get_annotations(SET)
    assert ann.status.value == "error" and ann.verdict is None
    assert "decisive_step 41" in ann.error
    assert '"decisive_step": 40' in ann.raw_reply and '"decisive_step": 41' in ann.raw_reply


def test_out_of_range_step_corrected_on_retry_is_kept(store):
    fill(store, 1)
    with FakeOpenAI(lambda req, n: reply(_with_decisive(-1 if n == 0 else 4), req)) as srv:
        summary = annotate_traces(store, judge(srv.url))
    assert summary.errors == 0 and srv.calls == 2
    [ann] = store.get_annotations(SET)
    assert ann.verdict.decisive_step == 4
