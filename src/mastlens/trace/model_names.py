"""Model names for grouping: traces keep the name their data gives; groups use a normalised one.

Normalisation (documented in the README): surrounding whitespace is dropped, then leading provider or
router prefixes (``openai/``, ``anthropic/``, ``openrouter/openai/``, ``azure/``, ``bedrock/``,
``models/``...) are stripped, so ``openai/gpt-4o`` and ``gpt-4o`` are one group. Organisation prefixes
of open-weight models (``meta-llama/``, ``Qwen/``) are part of the name and stay. A trace with no model
is in group ``unknown``. ``--model-alias a=b`` then maps a normalised name onto another
(``--model-alias gpt-4o-2024-08-06=gpt-4o``); the raw name stays on the trace (``traces``, ``show``,
exports).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

UNKNOWN_MODEL = "unknown"

#: API providers and routers whose prefix names where a model ran, not which model it is
PROVIDER_PREFIXES = frozenset({
    "openai", "azure", "azure_ai", "anthropic", "bedrock", "vertex_ai", "vertex", "google", "gemini", "models",
    "openrouter", "together", "together_ai", "groq", "fireworks", "fireworks_ai", "deepinfra", "mistral",
    "cohere", "ollama", "ollama_chat", "hosted_vllm", "vllm", "litellm_proxy", "lm_studio", "perplexity",
    "xai", "deepseek", "cerebras", "sambanova", "nvidia_nim", "huggingface", "hf",
})


class ModelAliasError(ValueError):
    pass


def normalize_model(raw: str | None) -> str:
    """The grouping name of a model: provider prefixes stripped; ``unknown`` for none."""
    name = (raw or "").strip()
    while "/" in name:
        head, rest = name.split("/", 1)
        if head.strip().lower().removeprefix("@") not in PROVIDER_PREFIXES or not rest.strip():  # @: Portkey's
            break
        name = rest.strip()
    return name or UNKNOWN_MODEL


def parse_aliases(items: Iterable[str] | None) -> dict[str, str]:
    """``["a=b", ...]`` (as given to ``--model-alias``) -> ``{normalised a: normalised b}``."""
    aliases: dict[str, str] = {}
    for item in items or ():
        name, sep, target = item.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise ModelAliasError(f"bad --model-alias {item!r}: expected NAME=GROUP, e.g. gpt-4o-2024-08-06=gpt-4o")
        aliases[normalize_model(name)] = normalize_model(target)
    return aliases


def group_model(raw: str | None, aliases: Mapping[str, str] | None = None) -> str:
    """The group a model name falls in: normalised, then aliased."""
    name = normalize_model(raw)
    return (aliases or {}).get(name, name)


def same_model(a: str | None, b: str | None) -> bool:
    """Whether two names (from different files of one run) name the same model."""
    return bool(a and b) and normalize_model(a).lower() == normalize_model(b).lower()
