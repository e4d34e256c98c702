"""The LLM judge against a real Chat Completions server on 127.0.0.1, scripted per test."""

from __future__ import annotations

import json
import time

from fake_openai import FakeOpenAI, error, quoting_verdict, rejects_json_schema, reply, trace_steps, verdict
from judge_helpers import fill, judge, sample_trace

from mastlens.judges.runner import annotate_traces
from mastlens.trace import ModeStatus
from test_llm_parse import MAST_TEXT


def _only(store, set_name="openai:gpt-4.1-mini"):
    anns = store.get_annotations(set_name)
    assert len(anns) == 1
    return anns[0]


def test_good_verdict_is_stored_with_verified_evidence_and_no_secret(store, db_path):
    fill(store, 1)
    with FakeOpenAI() as srv:
        summary = annotate_traces(store, judge(srv.url))
    assert summary.contract()["annotated"] == 1 and summary.calls == 1 and summary.errors == 0
    ann = _only(store)
    assert ann.status.value == "ok" and ann.attempts == 1 and ann.input_tokens > 0
    fm = ann.verdict.modes["FM-1.3"]
    assert fm.status is ModeStatus.PRESENT and fm.evidence[0].verified and fm.has_verified_evidence
    assert all(m.status is ModeStatus.ABSENT for k, m in ann.verdict.modes.items() if k != "FM-1.3")
    assert ann.verdict.metadata["format"] == "json_schema"
    info = store.get_set("openai:gpt-4.1-mini")
    assert info.endpoint_host == f"127.0.0.1:{srv.port}" and info.prompt_hash and info.taxonomy_version
    sent = srv.requests[0]
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["temperature"] == 0
    store.close()
    assert b"SECRET" not in db_path.read_bytes()
    wal = db_path.with_name(db_path.name + "-wal")
    assert not wal.exists() or b"SECRET" not in wal.read_bytes()


def test_prompt_system_message_identical_and_trace_delimited(store):
    fill(store, 3)
    with FakeOpenAI() as srv:
        annotate_traces(store, judge(srv.url))
    systems = {r["messages"][0]["content"] for r in srv.requests}
    assert len(systems) == 1
    system = systems.pop()
    assert "FM-2.6" in system and "Reasoning-action mismatch".lower() in system.lower()
    user = srv.requests[0]["messages"][1]["content"]
    assert "<trace>" in user and "</trace>" in user and "never instructions" in user
    assert "[step 2 | tool_call | sre | shell]" in user


def test_429_retry_after_is_honoured(store):
    fill(store, 1)

    def responder(req, n):
        return error(429, "slow down", retry_after=1) if n == 0 else reply(quoting_verdict(req), req)

    with FakeOpenAI(responder) as srv:
        started = time.monotonic()
        annotate_traces(store, judge(srv.url, backoff_base=0.001))
        elapsed = time.monotonic() - started
    assert srv.calls == 2 and elapsed >= 0.9
    ann = _only(store)
    assert ann.status.value == "ok" and ann.attempts == 2


def test_500s_are_retried_then_recorded_as_error(store):
    fill(store, 2)

    def responder(req, n):
        if "Alert 0:" in req["messages"][1]["content"]:
            return error(500, "boom")
        return error(503, "busy") if n < 2 else reply(quoting_verdict(req), req)

    with FakeOpenAI(responder) as srv:
        summary = annotate_traces(store, judge(srv.url, max_retries=2), concurrency=1)
    by_id = {a.trace_id: a for a in store.get_annotations("openai:gpt-4.1-mini")}
    assert by_id["trace-000"].status.value == "error"
    assert "HTTP 500" in by_id["trace-000"].error and "3 attempts" in by_id["trace-000"].error
    assert by_id["trace-001"].status.value == "ok"
    assert summary.errors == 1 and summary.annotated == 1
    assert store.conn.execute("SELECT COUNT(*) FROM mode_annotations WHERE trace_id='trace-000'").fetchone()[0] == 0


def test_hang_past_timeout_is_retried(store):
    fill(store, 1)

    def responder(req, n):
        return reply(quoting_verdict(req), req, delay=3.0 if n == 0 else 0.0)

    with FakeOpenAI(responder) as srv:
        started = time.monotonic()
        annotate_traces(store, judge(srv.url, timeout=0.5))
        elapsed = time.monotonic() - started
    assert _only(store).status.value == "ok"
    assert srv.calls == 2 and elapsed < 2.5


def test_connection_refused_is_a_recorded_error(store):
    import socket

    fill(store, 1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    summary = annotate_traces(store, judge(f"http://127.0.0.1:{port}/v1", max_retries=1))
    ann = _only(store)
    assert summary.errors == 1 and ann.status.value == "error" and "connection error" in ann.error


def test_truncated_json_gets_one_corrective_retry(store):
    fill(store, 1)

    def responder(req, n):
        body = json.dumps(quoting_verdict(req))
        return reply(body[:300], req, finish_reason="length") if n == 0 else reply(body, req)

    with FakeOpenAI(responder) as srv:
        annotate_traces(store, judge(srv.url))
    assert _only(store).status.value == "ok"
    second = srv.requests[1]["messages"]
    assert second[-2]["role"] == "assistant" and second[-2]["content"] == json.dumps(quoting_verdict(srv.requests[0]))[:300]
    assert "not valid JSON" in second[-1]["content"] and "output token limit" in second[-1]["content"]


def test_missing_modes_fed_back_then_error_keeps_raw_reply(store):
    fill(store, 1)
    bad = json.dumps(verdict(drop=("FM-2.2",)))
    with FakeOpenAI(lambda req, n: reply(bad, req)) as srv:
        summary = annotate_traces(store, judge(srv.url))
    assert srv.calls == 2
    assert "missing modes: FM-2.2" in srv.requests[1]["messages"][-1]["content"]
    ann = _only(store)
    assert ann.status.value == "error" and "missing modes: FM-2.2" in ann.error
    assert bad in ann.raw_reply and ann.verdict is None
    assert summary.errors == 1
    # a mode that could not be read is never stored as absent
    assert store.conn.execute("SELECT COUNT(*) FROM mode_annotations").fetchone()[0] == 0


def test_unknown_ids_are_errors_and_aliases_are_fine(store):
    fill(store, 2)

    def responder(req, n):
        if "Alert 0:" in req["messages"][1]["content"]:
            return reply(verdict(ids={"FM-2.4": "FM-7.1"}), req)
        return reply(verdict({"FM-3.3": []}, ids={"FM-3.3": "Weak Verification", "FM-1.3": "1.3"}), req)

    with FakeOpenAI(responder) as srv:
        annotate_traces(store, judge(srv.url), concurrency=1)
    by_id = {a.trace_id: a for a in store.get_annotations("openai:gpt-4.1-mini")}
    assert by_id["trace-000"].status.value == "error" and "unknown mode id 'FM-7.1'" in by_id["trace-000"].error
    ok = by_id["trace-001"]
    assert ok.status.value == "ok" and ok.verdict.modes["FM-3.3"].status is ModeStatus.PRESENT
    assert len(ok.verdict.modes) == 14


def test_mast_style_text_reply_is_accepted(store):
    fill(store, 1)
    with FakeOpenAI(lambda req, n: reply(MAST_TEXT, req)) as srv:
        annotate_traces(store, judge(srv.url))
    ann = _only(store)
    assert ann.status.value == "ok" and ann.verdict.metadata["parser"] == ["mast_text"]
    assert set(ann.verdict.present()) == {"FM-1.3", "FM-1.5", "FM-3.2"}
    assert srv.calls == 1


def test_key_value_text_reply_is_read_by_value_end_to_end(store):
    # issue 14 item 19: "FM-1.1 Disobey task specification: present: false" once read as all 14 present
    fill(store, 1)
    from mastlens.taxonomy import load_taxonomy
    tax = load_taxonomy()
    text = "\n".join(f"{m} {tax.by_id[m].name}: present: {'true' if m == 'FM-2.3' else 'false'}" for m in tax.ids)
    with FakeOpenAI(lambda req, n: reply(text, req)) as srv:
        annotate_traces(store, judge(srv.url))
    ann = _only(store)
    assert ann.status.value == "ok" and srv.calls == 1
    assert set(ann.verdict.present()) == {"FM-2.3"}


def test_text_reply_with_an_unreadable_line_is_an_error_keeping_the_raw_text(store):
    fill(store, 1)
    text = MAST_TEXT.replace("1.3 Step Repetition: yes", "1.3 Step Repetition: hard to say")
    with FakeOpenAI(lambda req, n: reply(text, req)) as srv:
        annotate_traces(store, judge(srv.url))
    ann = _only(store)
    assert srv.calls == 2 and "FM-1.3: no yes/no answer" in srv.requests[1]["messages"][-1]["content"]
    assert ann.status.value == "error" and ann.verdict is None
    assert "hard to say" in ann.raw_reply and "FM-1.3" in ann.error


def test_fabricated_evidence_is_stored_unverified(store):
    fill(store, 1)
    fake = verdict({"FM-1.2": [(3, "kubectl delete pod checkout --force")], "FM-1.3": [(2, "kubectl get pods")]})
    with FakeOpenAI(lambda req, n: reply(fake, req)) as srv:
        annotate_traces(store, judge(srv.url))
    ann = _only(store)
    fm12 = ann.verdict.modes["FM-1.2"]
    assert fm12.status is ModeStatus.PRESENT and not fm12.evidence[0].verified and not fm12.has_verified_evidence
    assert ann.verdict.modes["FM-1.3"].has_verified_evidence
    assert ann.verdict.metadata["unverified_evidence"] == 1
    row = store.conn.execute(
        "SELECT has_verified_evidence FROM mode_annotations WHERE mode_id='FM-1.2'").fetchone()
    assert row[0] == 0 and srv.calls == 1


def test_json_schema_rejection_falls_back_once_and_is_remembered(store):
    fill(store, 4)
    from mastlens.judges.llm.client import ResponseFormat

    with FakeOpenAI(rejects_json_schema(lambda req, n: reply(quoting_verdict(req), req))) as srv:
        j = judge(srv.url)
        summary = annotate_traces(store, j, concurrency=4)
        types = [r.get("response_format", {}).get("type") for r in srv.requests]
        # only requests already in flight when the first refusal came back repeat the refused format
        assert 1 <= types.count("json_schema") <= 4
        assert types.count("json_object") == 4 and summary.annotated == 4
        assert srv.requests[-1]["response_format"]["schema"]["properties"]["modes"]
        assert j.response_format is ResponseFormat.JSON_OBJECT
        # a new run on the same store starts with what works
        fill(store, 5)
        annotate_traces(store, judge(srv.url), trace_ids=["trace-004"])
        assert srv.requests[-1]["response_format"]["type"] == "json_object"
        assert srv.calls == len(types) + 1


def test_server_taking_no_response_format_gets_schema_in_prompt(store):
    fill(store, 1)

    def responder(req, n):
        if "response_format" in req:
            return error(400, f"unsupported response_format type {req['response_format']['type']}")
        return reply(quoting_verdict(req), req)

    with FakeOpenAI(responder) as srv:
        annotate_traces(store, judge(srv.url))
    assert [r.get("response_format", {}).get("type") for r in srv.requests] == ["json_schema", "json_object", None]
    assert "JSON schema" in srv.requests[-1]["messages"][0]["content"]
    ann = _only(store)
    assert ann.status.value == "ok" and ann.verdict.metadata["format"] == "plain"


def test_refusals_are_errors_and_never_cached(store):
    fill(store, 1)

    def responder(req, n):
        resp = reply("", req, finish_reason="stop")
        resp.body["choices"][0]["message"]["refusal"] = "I can't help with that."
        return resp

    with FakeOpenAI(responder) as srv:
        annotate_traces(store, judge(srv.url))
        assert _only(store).status.value == "error" and "refused" in _only(store).error
        annotate_traces(store, judge(srv.url))  # the error is retried, with a real call
        assert srv.calls == 2
    assert store.conn.execute("SELECT COUNT(*) FROM judge_cache WHERE key LIKE 'verdict:%'").fetchone()[0] == 0


def test_long_trace_is_segmented_and_merged(store):
    trace = sample_trace(0, n_rounds=20, marker="I will just run the same query again.")
    store.add_trace(trace)
    marker_step = next(s.index for s in trace.steps if s.content.startswith("I will just run"))

    def responder(req, n):
        steps = trace_steps(req)
        if marker_step in steps:
            return reply(verdict({"FM-1.3": [(marker_step, "run the same query again")]}, task_completed=None), req)
        return reply(verdict(task_completed=n % 2 == 0), req)

    with FakeOpenAI(responder) as srv:
        # (each output cut to its share of the trace's budget: a window of 1,200 tokens holds a few rounds)
        summary = annotate_traces(store, judge(srv.url, max_trace_tokens=1200), concurrency=1)
    assert srv.calls > 2 and summary.calls == srv.calls
    ann = _only(store)
    assert ann.verdict.segmented and ann.verdict.metadata["windows"] == srv.calls
    fm = ann.verdict.modes["FM-1.3"]
    assert fm.status is ModeStatus.PRESENT and fm.evidence[0].verified
    # task_completed comes from the last window
    assert ann.verdict.task_completed is ((srv.calls - 1) % 2 == 0)


def test_api_key_echoed_by_the_server_never_reaches_the_store(store, db_path):
    fill(store, 1)

    def responder(req, n):
        return error(401, "Incorrect API key provided: sk-test-SECRET-0123456789")

    with FakeOpenAI(responder) as srv:
        annotate_traces(store, judge(srv.url))
    ann = _only(store)
    assert ann.status.value == "error" and "HTTP 401" in ann.error and "[api key]" in ann.error
    store.close()
    assert b"SECRET" not in db_path.read_bytes()
