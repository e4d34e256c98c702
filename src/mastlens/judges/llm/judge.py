"""The LLM judge: render, prompt, call (cached), parse with one corrective retry, merge windows, verify."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

from mastlens.judges.base import Judge, JudgeError, JudgeInfo, JudgeResult
from mastlens.judges.limits import CallEstimate, RateLimiter
from mastlens.judges.llm.client import (
    ChatClient, EndpointError, FormatRejected, NotSent, Reply, ResponseFormat, endpoint_host,
)
from mastlens.judges.llm.localize import LOCALIZE_SYSTEM, LocalizationPass, needs_localization
from mastlens.judges.llm.memo import memo_key, memo_key_base
from mastlens.judges.llm.parse import ParsedVerdict, ReplyError, check_decisive_step, parse_reply
from mastlens.judges.llm.prices import Price, cacheable_prefix_tokens, resolve_price
from mastlens.judges.llm.prompt import build_messages, correction_message, prompt_hash, verdict_schema
from mastlens.judges.llm.render import CHARS_PER_TOKEN, TOOL_OUTPUT_CHARS, Window, render_trace
from mastlens.judges.llm.segments import merge_windows
from mastlens.judges.llm.tally import Tally, WindowResult, hash_parts, release_now
from mastlens.judges.endpoint import configured_api_key, configured_base_url
from mastlens.judges.offload import InlineWork
from mastlens.taxonomy import Taxonomy, load_taxonomy
from mastlens.trace import Trace

DEFAULT_OUTPUT_ESTIMATE = 1500  # tokens a full 14-mode verdict usually takes
LOCALIZE_OUTPUT_ESTIMATE = 120  # the localization pass's three fields


class LLMJudge(LocalizationPass, Judge):
    """MAST judge on any OpenAI-compatible Chat Completions endpoint."""

    supports_samples = True

    def __init__(self, model: str, *, provider: str = "openai", base_url: str | None = None,
                 api_key: str | None = None, timeout: float = 120.0, max_retries: int = 4,
                 temperature: float | None = 0.0, max_trace_tokens: int = 100_000,
                 max_output_tokens: int | None = None, price_in: float | None = None,
                 price_out: float | None = None, require_key: bool = True, taxonomy: Taxonomy | None = None,
                 backoff_base: float = 1.0, tool_output_chars: int = TOOL_OUTPUT_CHARS,
                 response_format: str | None = None, localize: bool = False):
        self.model = model
        self.localize = localize  # a second, focused pass naming the decisive agent and step of a failed run
        self.provider = provider
        self.name = f"{provider}:{model}"
        self.base_url = base_url or configured_base_url()
        if self.base_url and urlsplit(self.base_url).scheme.lower() not in ("http", "https"):
            raise ValueError("the endpoint URL (--base-url or OPENAI_BASE_URL) must start with http:// or https://, "
                             "e.g. http://localhost:8000/v1")
        key = api_key or configured_api_key()
        if require_key and not key and not self.base_url:
            raise ValueError(
                f"{self.name} needs an API key: set OPENAI_API_KEY or MASTLENS_API_KEY "
                "(or pass --base-url for a local server that needs none)")
        self.temperature = temperature
        self.max_trace_tokens = max_trace_tokens
        self.max_output_tokens = max_output_tokens
        self.tool_output_chars = tool_output_chars
        self.taxonomy = taxonomy or load_taxonomy()
        self.price: Price | None = resolve_price(model, price_in, price_out)
        self.client = ChatClient(model=model, base_url=self.base_url, api_key=key, timeout=timeout,
                                 max_retries=max_retries, backoff_base=backoff_base)
        self.timeout, self.max_retries = timeout, max_retries
        self._schema = verdict_schema(self.taxonomy)
        self._prompt_hash = prompt_hash(self.taxonomy, extra=LOCALIZE_SYSTEM if localize else "")
        self._fmt: ResponseFormat | None = ResponseFormat(response_format) if response_format else None
        self._refused: set[ResponseFormat] = set()
        self._store: Any = None
        self._work: Any = None  # the runner's helper thread and write buffer, while a run lasts
        self._key_bases: dict[tuple[Any, ...], Any] = {}
        # whether the endpoint serves a repeated prompt prefix from its cache (OpenAI's does; others once
        # seen reporting cached tokens): the estimate prices the system prompt as cached only then
        self._caches_prompts = endpoint_host(self.base_url) == "api.openai.com"

    # -- hooks the runner uses ----------------------------------------------------------------

    @property
    def has_price(self) -> bool:
        return self.price is not None

    def info(self) -> JudgeInfo:
        return JudgeInfo(
            judge=self.name, model=self.model, endpoint_host=endpoint_host(self.base_url),
            prompt_hash=self._prompt_hash, taxonomy_version=self.taxonomy.version,
            params={
                "provider": self.provider, "temperature": self.temperature,
                "max_trace_tokens": self.max_trace_tokens, "max_output_tokens": self.max_output_tokens,
                "tool_output_chars": self.tool_output_chars, "timeout": self.timeout,
                "max_retries": self.max_retries, "localize": self.localize,
                "price_in": self.price.input_per_m if self.price else None,
                "price_out": self.price.output_per_m if self.price else None,
            },
        )

    def bind_store(self, store: Any) -> None:
        """Use ``store`` for the reply cache and to remember the endpoint's response format."""
        self._store = store
        if self._fmt is None:
            self._caches_prompts = self._caches_prompts or store.cache_get(self._caching_key()) == "yes"
            known = store.cache_get(self._format_key())
            if known in {f.value for f in ResponseFormat}:
                self._fmt = ResponseFormat(known)

    def use_work(self, work: Any) -> None:
        """Do rendering, cache look-ups and cache writes through ``work`` (a run's helper thread), or
        directly again with None."""
        self._work = work
        # a reply keeps its request slot until the run has stored it, so a crash costs at most C requests
        self.client.hold_replies = work is not None
        if work is not None:
            work.waiting = lambda: self.client.in_flight > 0

    def _w(self) -> Any:
        return self._work if self._work is not None else InlineWork(self._store)

    def set_rate_limiter(self, limiter: RateLimiter) -> None:
        self.client.limiter = limiter

    def set_request_slots(self, slots: int | None) -> None:
        """At most ``slots`` requests on the wire at once (None: the HTTP pool's own limit). The runner
        then keeps more traces in hand than slots, rendered and queued, so a freed slot is used at once."""
        self.client.set_slots(slots)

    async def aclose(self) -> None:
        await self.client.aclose()

    @property
    def response_format(self) -> ResponseFormat | None:
        """The format this endpoint is known to accept (None until a call has succeeded)."""
        return self._fmt

    def estimate(self, trace: Trace, sample: int = 0) -> CallEstimate:
        rendering = self._render(trace)
        fmt = self._fmt or ResponseFormat.JSON_SCHEMA
        est = CallEstimate(segments=len(rendering.windows), calls=len(rendering.windows))
        cached = self._store is not None
        cached_in = 0  # the system prompt is the same in every request: a caching endpoint serves it
        for window in rendering.windows:
            messages = self._messages(window, fmt)
            if cached and self._store.cache_get(self._cache_key(messages, fmt, sample)) is None:
                cached = False
            est.input_tokens += sum(len(m["content"]) for m in messages) // CHARS_PER_TOKEN
            cached_in += cacheable_prefix_tokens(messages, CHARS_PER_TOKEN) if self._caches_prompts else 0
            est.output_tokens += min(self.max_output_tokens or DEFAULT_OUTPUT_ESTIMATE, DEFAULT_OUTPUT_ESTIMATE)
        if self.localize and len(rendering.windows) == 1:  # at most: asked only when the run went wrong
            est.calls += 1
            est.input_tokens += (len(LOCALIZE_SYSTEM) + len(rendering.windows[0].text)) // CHARS_PER_TOKEN + 500
            est.output_tokens += LOCALIZE_OUTPUT_ESTIMATE
        est.cost_usd = self.price.cost(est.input_tokens, est.output_tokens, cached_in) if self.price else 0.0
        if cached:
            est.cached, est.cost_usd, est.calls = True, 0.0, 0
        return est

    def first_requests(self, trace: Trace, fmt: ResponseFormat = ResponseFormat.JSON_SCHEMA) -> list[list[dict[str, str]]]:
        """The messages of every first request the judge sends for ``trace`` in ``fmt`` (one per window),
        before any reply is known: what a replay dumps for an answerer."""
        return [self._messages(window, fmt) for window in self._render(trace).windows]

    # -- judging ------------------------------------------------------------------------------

    def _render(self, trace: Trace):
        return render_trace(trace, max_tokens=self.max_trace_tokens, tool_output_chars=self.tool_output_chars)

    def _messages(self, window: Window, fmt: ResponseFormat) -> list[dict[str, str]]:
        return build_messages(window, self.taxonomy, with_schema=fmt is ResponseFormat.PLAIN)

    def _cache_key(self, messages: list[dict[str, str]], fmt: ResponseFormat, sample: int) -> str:
        # The params and the system message are the same for every trace: hashed once, then copied.
        first = messages[0]["role"], messages[0]["content"]
        base = self._key_bases.get((fmt, sample, first))
        if base is None:
            params = json.dumps(
                {"model": self.model, "temperature": self.temperature, "format": fmt.value,
                 "max_tokens": self.max_output_tokens, "taxonomy": self.taxonomy.version, "sample": sample},
                sort_keys=True, separators=(",", ":"),
            )
            base = hashlib.sha256(params.encode("utf-8"))
            hash_parts(base, first)
            self._key_bases[(fmt, sample, first)] = base
        digest = base.copy()
        for message in messages[1:]:
            hash_parts(digest, (message["role"], message["content"]))
        return "verdict:" + digest.hexdigest()

    def verdict_memo_key(self, trace_hash: str, samples: int) -> str | None:
        """Where the finished verdict of a trace with this content hash is remembered (see
        :mod:`mastlens.judges.llm.memo`); None until the endpoint's response format is known."""
        if self._fmt is None:
            return None
        base = self._key_bases.get(("memo", self._fmt, samples))
        if base is None:
            base = self._key_bases[("memo", self._fmt, samples)] = memo_key_base({
                "model": self.model, "temperature": self.temperature, "format": self._fmt.value,
                "max_tokens": self.max_output_tokens, "taxonomy": self.taxonomy.version,
                "prompt": self._prompt_hash, "max_trace_tokens": self.max_trace_tokens,
                "tool_output_chars": self.tool_output_chars, "samples": samples,
            })
        return memo_key(base, trace_hash)

    def memo_key_for(self, trace_hash: str, samples: int, verdict: Any) -> str | None:
        """The memo key to store a finished verdict under; None when its windows were asked in another
        format than the one now known (the key would not describe it)."""
        key = self.verdict_memo_key(trace_hash, samples)
        if key is None or verdict.metadata.get("format") != self._fmt.value:  # type: ignore[union-attr]
            return None
        return key

    def _format_key(self) -> str:
        ident = f"{self.base_url or 'https://api.openai.com/v1'}|{self.model}"
        return "response-format:" + hashlib.sha256(ident.encode("utf-8")).hexdigest()[:32]

    def _caching_key(self) -> str:
        return "prompt-cache:" + self._format_key().split(":", 1)[1]

    def _remember_caching(self, reply: Reply) -> None:
        if reply.cached_tokens > 0 and not self._caches_prompts:
            self._caches_prompts = True
            if self._store is not None:
                self._w().cache_put(self._caching_key(), "yes")

    def _remember_format(self, fmt: ResponseFormat) -> None:
        if self._fmt is not fmt:
            self._fmt = fmt
            if self._store is not None:
                self._w().cache_put(self._format_key(), fmt.value)

    def _cost(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
        return self.price.cost(input_tokens, output_tokens, cached_tokens) if self.price else 0.0

    def _prepare(self, trace: Trace, sample: int, work: Any) -> tuple[Any, list[tuple[Any, ...]], Any]:
        """The blocking part before any request (done through the run's work: on its helper thread while
        requests are in flight): render, build each window's messages and cache key, look the replies up;
        with every window cached, the merged verdict too."""
        rendering = self._render(trace)
        fmt = self._fmt or self._first_untried()
        looked = []
        for window in rendering.windows:
            messages = self._messages(window, fmt)
            key = self._cache_key(messages, fmt, sample)
            looked.append((fmt, messages, key, self._cache_lookup(key, work, window)))
        merged = None
        if all(hit is not None for *_, hit in looked):
            merged = merge_windows(trace, rendering.windows, [hit[0] for *_, hit in looked])
        return rendering, looked, merged

    async def annotate(self, trace: Trace, sample: int = 0) -> JudgeResult:
        work = self._w()
        rendering, looked, merged = await work.run(self._prepare, trace, sample, work)
        results: list[WindowResult] = []
        tally = Tally()
        localized_hits = 0
        try:
            for window, prepared in zip(rendering.windows, looked):
                results.append(await self._judge_window(window, sample, tally, prepared, work))
            verdict = merged if merged is not None else \
                await work.run(merge_windows, trace, rendering.windows, [r.parsed for r in results])
            if self.localize and needs_localization(verdict):
                localized_hits = await self._localize(trace, rendering.windows, verdict, sample, tally, work)
        except JudgeError as exc:
            exc.calls = tally.calls  # type: ignore[attr-defined]
            exc.input_tokens, exc.output_tokens = tally.input_tokens, tally.output_tokens  # type: ignore[attr-defined]
            exc.cost_usd = self._cost(tally.input_tokens, tally.output_tokens, tally.cached_tokens)  # type: ignore[attr-defined]
            exc.attempts = max(exc.attempts, tally.attempts)
            if len(rendering.windows) > 1:
                exc.reason = f"segment {len(results) + 1} of {len(rendering.windows)}: {exc.reason}"
            raise
        verdict.metadata.update({
            "format": results[-1].fmt.value, "parser": sorted({r.parsed.parser for r in results}),
            "render_chars": rendering.chars, "raw_chars": rendering.raw_chars, "sample": sample,
        })
        return JudgeResult(
            verdict=verdict, input_tokens=tally.input_tokens, output_tokens=tally.output_tokens,
            cost_usd=self._cost(tally.input_tokens, tally.output_tokens, tally.cached_tokens), latency_s=tally.latency_s,
            attempts=max(tally.attempts, 1), calls=tally.calls,
            cache_hits=sum(r.cache_hits for r in results) + localized_hits,
            raw_reply=results[-1].raw if len(results) == 1 else None,
        )

    async def _judge_window(self, window: Window, sample: int, tally: Tally, prepared: tuple[Any, ...],
                            work: Any) -> WindowResult:
        fmt, messages, key, hit = prepared
        if hit is None and self._fmt is not None and self._fmt is not fmt:  # learnt meanwhile: look up again
            fmt = self._fmt
            messages = self._messages(window, fmt)
            key = self._cache_key(messages, fmt, sample)
            hit = await work.run(self._cache_lookup, key, work, window)
        if hit is not None:
            return WindowResult(hit[0], hit[1], fmt, cache_hits=1)
        try:
            return await self._ask_window(window, sample, tally, fmt, messages, key, work)
        finally:  # the replies' slots are freed once what they yield is stored (or at once, if nothing is)
            work.release_when_durable(tally.take_releases())

    async def _ask_window(self, window: Window, sample: int, tally: Tally, fmt: ResponseFormat,
                          messages: list[dict[str, str]], key: str, work: Any) -> WindowResult:
        reply, fmt, messages, key = await self._call(window, messages, fmt, key, sample, tally)
        if reply.refusal or reply.finish_reason == "content_filter":
            raise JudgeError(f"the model refused: {reply.refusal or 'content filter'}",
                             raw_reply=reply.content or reply.refusal, attempts=tally.attempts)
        try:
            parsed = self._parse(reply.content, window)
            raw = reply.content
        except ReplyError as first:
            note = " (the reply was cut off at the output token limit)" if reply.finish_reason == "length" else ""
            retry = [*messages, {"role": "assistant", "content": reply.content},
                     {"role": "user", "content": correction_message(f"{first}{note}", self.taxonomy)}]
            release_now(tally.take_releases())  # the first reply is not stored; its slot serves the retry
            second = await self._send(retry, fmt, tally)
            try:
                parsed = self._parse(second.content, window)
                raw = second.content
            except ReplyError as again:
                raise JudgeError(
                    f"invalid verdict after a corrective retry: {again}",
                    raw_reply=f"{reply.content}\n\n--- reply after correction ---\n{second.content}",
                    attempts=tally.attempts,
                ) from None
        if self._store is not None:
            work.cache_put(key, json.dumps({"content": raw, "format": fmt.value}))
        return WindowResult(parsed, raw, fmt)

    def _parse(self, text: str, window: Window) -> ParsedVerdict:
        """A verdict whose decisive step, if any, is one of the window's steps (else :class:`ReplyError`)."""
        parsed = parse_reply(text, self.taxonomy)
        # a part of a long run also shows the pinned instructions, which come first: any step up to its last
        check_decisive_step(parsed, 0 if window.parts > 1 else window.first_step, window.last_step)
        return parsed

    def _cache_lookup(self, key: str, work: Any, window: Window) -> tuple[ParsedVerdict, str] | None:
        if self._store is None:
            return None
        cached = work.cache_get(key)
        if cached is None:
            return None
        try:
            raw = json.loads(cached)["content"]
            return self._parse(raw, window), raw
        except (ReplyError, ValueError, KeyError, TypeError):
            return None  # an unreadable cache entry is simply a miss

    async def _call(self, window: Window, messages: list[dict[str, str]], fmt: ResponseFormat, key: str,
                    sample: int, tally: Tally) -> tuple[Reply, ResponseFormat, list[dict[str, str]], str]:
        """Send, falling back through response formats. The first refusal of a format is remembered at once,
        so only requests already in flight at that moment repeat the refused format; nobody waits for a probe."""
        if self._fmt is not None and self._fmt is not fmt:
            fmt = self._fmt
            messages = self._messages(window, fmt)
            key = self._cache_key(messages, fmt, sample)
        return await self._send_with_fallback(window, messages, fmt, key, sample, tally)

    async def _send_with_fallback(self, window: Window, messages: list[dict[str, str]], fmt: ResponseFormat,
                                  key: str, sample: int, tally: Tally):
        while True:
            try:
                reply = await self.client.complete(messages, fmt=fmt, schema=self._schema,
                                                   temperature=self.temperature, max_tokens=self.max_output_tokens)
            except FormatRejected as exc:
                tally.attempts += exc.attempts
                tally.calls += exc.attempts
                nxt = fmt.fallback()
                if nxt is None:
                    raise JudgeError(f"endpoint rejected every response format: {exc}", attempts=tally.attempts) from None
                known = self._rejected_below(fmt)
                fmt = known if known is not None else nxt
                messages = self._messages(window, fmt)
                key = self._cache_key(messages, fmt, sample)
                continue
            except EndpointError as exc:
                tally.attempts += exc.attempts
                tally.calls += exc.attempts
                error = JudgeError(exc.reason, attempts=tally.attempts, fatal=exc.fatal)
                error.unsent = isinstance(exc, NotSent) and tally.calls == 0  # type: ignore[attr-defined]
                raise error from None
            tally.add(reply)
            self._remember_format(fmt)
            self._remember_caching(reply)
            return reply, fmt, messages, key

    def _first_untried(self) -> ResponseFormat:
        return next((f for f in ResponseFormat if f not in self._refused), ResponseFormat.PLAIN)

    def _rejected_below(self, fmt: ResponseFormat) -> ResponseFormat | None:
        """Record that ``fmt`` was refused; the format to use next (possibly already found by another call)."""
        order = list(ResponseFormat)
        self._refused.add(fmt)
        if self._fmt is not None and order.index(self._fmt) > order.index(fmt):
            return self._fmt
        nxt = next((f for f in order[order.index(fmt) + 1:] if f not in self._refused), None)
        return nxt

    async def _send(self, messages: list[dict[str, str]], fmt: ResponseFormat, tally: Tally, *,
                    schema: dict[str, Any] | None = None, what: str = "corrective retry") -> Reply:
        try:
            reply = await self.client.complete(messages, fmt=fmt, schema=schema or self._schema,
                                               temperature=self.temperature, max_tokens=self.max_output_tokens)
        except (EndpointError, FormatRejected) as exc:
            tally.attempts += exc.attempts
            tally.calls += exc.attempts
            raise JudgeError(f"{what} failed: {exc}", attempts=tally.attempts) from None
        tally.add(reply)
        return reply
