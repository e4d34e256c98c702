"""Judge names -> judges: ``rules`` or ``provider:model`` (e.g. ``openai:gpt-4.1-mini``)."""

from __future__ import annotations

import os
import re
from typing import Any

from mastlens.judges.base import Judge, UnknownJudge
from mastlens.judges.endpoint import (  # noqa: F401  (re-exported for the registry's callers)
    BASE_URL_VARS, KEY_VARS, configured_api_key, configured_base_url,
)

DEFAULT_MODEL = "gpt-4.1-mini"
_LLM_NAME = re.compile(r"^(?P<provider>[a-z][a-z0-9_.-]*):(?P<model>\S+)$")

# Every provider speaks the OpenAI Chat Completions protocol; the prefix only names who serves it.
KNOWN_PROVIDERS = ("openai", "azure", "openrouter", "vllm", "ollama", "llamacpp", "local", "together", "groq")

_HELP = (
    "use 'rules' (offline, no endpoint needed) or 'provider:model' for an OpenAI-compatible endpoint, "
    "e.g. 'openai:gpt-4.1-mini' or 'vllm:Qwen2.5-7B-Instruct --base-url http://host:8000/v1'"
)


def default_judge_name() -> str:
    """``rules`` when no endpoint or key is configured, else the configured LLM judge.

    The LLM judge is ``MASTLENS_JUDGE`` if set, else ``openai:$MASTLENS_MODEL`` (default model gpt-4.1-mini).
    """
    explicit = os.environ.get("MASTLENS_JUDGE")
    if explicit:
        return explicit
    if configured_api_key() or configured_base_url():
        return f"openai:{os.environ.get('MASTLENS_MODEL') or DEFAULT_MODEL}"
    return "rules"


def is_llm_judge_name(name: str) -> bool:
    return bool(_LLM_NAME.match(name.strip()))


def get_judge(name: str, **options: Any) -> Judge:
    """Build the judge called ``name``. Options go to the judge's constructor.

    Raises :class:`UnknownJudge` with a message naming the accepted forms.
    """
    name = (name or "").strip()
    if name == "rules":
        try:
            from mastlens.judges.rules import RulesJudge  # imported lazily: each judge loads only when named
        except ImportError as exc:  # the rules judge ships separately; say so plainly
            raise UnknownJudge(f"the rules judge is not available in this installation ({exc})") from None
        return RulesJudge(config=options.get("config"))
    match = _LLM_NAME.match(name)
    if match:
        from mastlens.judges.llm import LLMJudge

        llm_options = {k: v for k, v in options.items() if k != "config"}
        return LLMJudge(match["model"], provider=match["provider"], **llm_options)
    if not name:
        raise UnknownJudge(f"no judge given: {_HELP}")
    hint = ""
    if ":" not in name and name.lower() not in ("rule", "rules"):
        hint = f" (did you mean 'openai:{name}'?)"
    elif name.lower() == "rule":
        hint = " (did you mean 'rules'?)"
    raise UnknownJudge(f"unknown judge {name!r}{hint}: {_HELP}")
