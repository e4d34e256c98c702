"""Cached prompt tokens: read from the usage block, priced at the cached rate in the ledger and the dry run,
and the static system prompt first and identical in every request (what providers' prefix caches need)."""

from __future__ import annotations

import json

import pytest
from fake_openai import FakeOpenAI, Response, completion, quoting_verdict
from judge_helpers import fill

from mastlens.judges.llm import LLMJudge
from mastlens.judges.llm.prices import resolve_price
from mastlens.judges.runner import annotate_traces
from mastlens.store import Store

CACHED = 3000  # the fake says this many prompt tokens came from its cache, on every request after the first


def _caching(request, n):
    body = completion(json.dumps(quoting_verdict(request)), request)
    body["usage"]["prompt_tokens"] = max(body["usage"]["prompt_tokens"], CACHED + 100)
    body["usage"]["prompt_tokens_details"] = {"cached_tokens": CACHED if n > 0 else 0}
    return Response(200, body)


def test_packaged_table_has_cached_and_batch_rates():
    price = resolve_price("gpt-4.1-mini")
    assert (price.input_per_m, price.cached_rate, price.output_per_m, price.batch_factor) == (0.40, 0.10, 1.60, 0.5)
    full = price.cost(1_000_000, 1_000_000)
    assert price.cost(1_000_000, 1_000_000, cached_tokens=1_000_000) == pytest.approx(full - 0.30)
    assert price.cost(1_000_000, 1_000_000, batch=True) == pytest.approx(full / 2)
    # an override keeps the table's cached rate as a ratio of the input rate
    assert resolve_price("gpt-4.1-mini", price_in=0.8).cached_rate == pytest.approx(0.2)
    # a pair in a user file: no discount assumed
    assert resolve_price("mystery", 1.0, 2.0).cost(10, 10, 10, batch=True) == pytest.approx(30 / 1_000_000)


def test_cached_tokens_are_read_and_priced_at_the_cached_rate(tmp_path):
    with FakeOpenAI(_caching) as server, Store(tmp_path / "db.sqlite") as store:
        fill(store, 3)
        judge = LLMJudge("gpt-4.1-mini", base_url=server.url, api_key="k", backoff_base=0.0)
        summary = annotate_traces(store, judge, concurrency=1)
        assert summary.annotated == 3 and server.calls == 3
        systems = {r["messages"][0]["content"] for r in server.requests}
        assert len(systems) == 1 and all(r["messages"][0]["role"] == "system" for r in server.requests)
        price = resolve_price("gpt-4.1-mini")
        anns = sorted(store.get_annotations(summary.set), key=lambda a: a.trace_id)
        expected = [price.cost(a.input_tokens, a.output_tokens, 0 if i == 0 else CACHED) for i, a in enumerate(anns)]
        assert [a.cost_usd for a in anns] == pytest.approx(expected)
        assert anns[1].cost_usd < price.cost(anns[1].input_tokens, anns[1].output_tokens)
        assert summary.cost_usd == pytest.approx(sum(expected))


def test_dry_run_prices_the_system_prompt_as_cached_where_the_endpoint_caches(tmp_path):
    price = resolve_price("gpt-4.1-mini")
    with FakeOpenAI(_caching) as server, Store(tmp_path / "db.sqlite") as store:
        fill(store, 3)
        url = server.url
        judge = LLMJudge("gpt-4.1-mini", base_url=url, require_key=False)
        before = annotate_traces(store, judge, dry_run=True).estimates[0]
        # an endpoint not yet seen caching: the estimate is the full price (an upper bound for --budget)
        assert before.cost_usd == pytest.approx(price.cost(before.input_tokens, before.output_tokens))
        annotate_traces(store, LLMJudge("gpt-4.1-mini", base_url=url, api_key="k"), trace_ids=["trace-000",
                                                                                                 "trace-001"])
        assert server.calls == 2  # the second reply reported cached tokens: remembered in the store
        judge = LLMJudge("gpt-4.1-mini", base_url=url, require_key=False)
        after = annotate_traces(store, judge, set_name="new", dry_run=True).estimates[2]
        assert after.trace_id == "trace-002" and not after.cached
        window = judge._render(store.get_trace("trace-002")).windows[0]
        system_tokens = len(judge._messages(window, judge.response_format)[0]["content"]) // 4
        assert system_tokens >= 1024
        assert after.cost_usd == pytest.approx(price.cost(after.input_tokens, after.output_tokens, system_tokens))
        assert after.cost_usd < price.cost(after.input_tokens, after.output_tokens)
