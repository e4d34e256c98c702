"""Model prices (USD per 1M tokens): packaged table, a user file, or explicit overrides.

Each model has four rates: input, cached input (prompt tokens the provider served from its prefix cache,
``usage.prompt_tokens_details.cached_tokens``), output, and the batch factor (what a provider's batch API
charges relative to the synchronous price: 0.5 at OpenAI, Anthropic and Google; 1.0 where there is no
batch API). A user file may give a model as a pair ``[input, output]`` (no cached or batch discount
assumed) or as a table ``{input = .., cached_input = .., output = .., batch = ..}``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MIN_CACHED_PREFIX_TOKENS = 1024  # providers cache a repeated prompt prefix from this length on (OpenAI)


@dataclass(frozen=True)
class Price:
    input_per_m: float
    output_per_m: float
    source: str
    cached_input_per_m: float | None = None  # None: cached tokens cost the full input rate
    batch_factor: float = 1.0  # batch-API price / synchronous price

    @property
    def cached_rate(self) -> float:
        return self.input_per_m if self.cached_input_per_m is None else self.cached_input_per_m

    def cost(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0, *, batch: bool = False) -> float:
        """USD for one call's usage. ``input_tokens`` counts every prompt token, ``cached_tokens`` the part
        of them read from the provider's cache (as the usage block reports them); ``batch`` prices the
        call at the batch rate."""
        cached = max(0, min(cached_tokens, input_tokens))
        usd = ((input_tokens - cached) * self.input_per_m + cached * self.cached_rate
               + output_tokens * self.output_per_m) / 1_000_000
        return usd * (self.batch_factor if batch else 1.0)


@dataclass(frozen=True)
class _Rates:
    input: float
    output: float
    cached_input: float | None
    batch: float


def _rates(name: str, value: object, where: str) -> _Rates:
    bad = ValueError(f"{where}: models.{name!r} must be a pair (input, output) of USD per 1M tokens, or a table "
                     f"{{input = .., cached_input = .., output = .., batch = ..}}, got {value!r}")
    try:
        if isinstance(value, dict):
            if not {"input", "output"} <= value.keys() or not value.keys() <= {"input", "output", "cached_input",
                                                                               "batch"}:
                raise bad
            cached = value.get("cached_input")
            return _Rates(float(value["input"]), float(value["output"]),
                          None if cached is None else float(cached), float(value.get("batch", 1.0)))
        low, high = value  # type: ignore[misc]
        return _Rates(float(low), float(high), None, 1.0)
    except (TypeError, ValueError):
        raise bad from None


@lru_cache(maxsize=4)
def _table(path: str | None) -> dict[str, _Rates]:
    if path is None:
        text = resources.files("mastlens.judges.llm").joinpath("prices.toml").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    data = tomllib.loads(text).get("models", {})
    return {name.lower(): _rates(name, value, path or "prices.toml") for name, value in data.items()}


def _find(model: str, path: str | None) -> _Rates | None:
    name = model.lower().rsplit("/", 1)[-1]
    table = _table(path)
    best = None
    for key in table:
        if name == key or name.startswith(key + "-") or name.startswith(key + ":"):
            if best is None or len(key) > len(best):
                best = key
    return table[best] if best else None


def lookup(model: str, path: str | None = None) -> tuple[float, float] | None:
    """(input, output) price for ``model`` by longest matching prefix, ignoring a ``vendor/`` router prefix."""
    rates = _find(model, path)
    return (rates.input, rates.output) if rates else None


def resolve_price(model: str, price_in: float | None = None, price_out: float | None = None) -> Price | None:
    """Explicit overrides win; then the file named by MASTLENS_PRICES; then the packaged table.

    An override of the input or output rate keeps the table's cached-input and batch rates only as
    ratios to what they override (a cached rate a quarter of the input stays a quarter of the new one)."""
    user_file = os.environ.get("MASTLENS_PRICES")
    found: _Rates | None = None
    source = ""
    if user_file:
        try:
            found, source = _find(model, user_file), user_file
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"MASTLENS_PRICES={user_file}: cannot read price file: {exc}") from None
    if found is None:
        found, source = _find(model, None), "packaged table"
    if price_in is not None or price_out is not None:
        if found is None and (price_in is None or price_out is None):
            raise ValueError(f"no packaged price for {model!r}: give both --price-in and --price-out")
        base = found or _Rates(0.0, 0.0, None, 1.0)
        new_in = price_in if price_in is not None else base.input
        cached = None
        if base.cached_input is not None and base.input > 0:
            cached = new_in * base.cached_input / base.input
        return Price(new_in, price_out if price_out is not None else base.output, "command line",
                     cached_input_per_m=cached, batch_factor=base.batch)
    if found is None:
        return None
    return Price(found.input, found.output, source, cached_input_per_m=found.cached_input, batch_factor=found.batch)


def cacheable_prefix_tokens(messages: list[dict[str, str]], chars_per_token: int = 4) -> int:
    """Tokens a provider's prefix cache can serve on a repeat of ``messages``' static part: the system
    message, when it is long enough to be cached at all (estimated as characters / ``chars_per_token``)."""
    if not messages or messages[0].get("role") != "system":
        return 0
    tokens = len(messages[0]["content"]) // chars_per_token
    return tokens if tokens >= MIN_CACHED_PREFIX_TOKENS else 0
