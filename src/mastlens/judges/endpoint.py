"""Where the LLM judge's endpoint and key come from (the environment). Shared by the registry and the
LLM judge, so neither imports the other."""

from __future__ import annotations

import os

KEY_VARS = ("MASTLENS_API_KEY", "OPENAI_API_KEY")
BASE_URL_VARS = ("MASTLENS_BASE_URL", "OPENAI_BASE_URL")


def configured_api_key() -> str | None:
    """The API key from the environment (MASTLENS_API_KEY wins over OPENAI_API_KEY)."""
    return next((os.environ[v] for v in KEY_VARS if os.environ.get(v)), None)


def configured_base_url() -> str | None:
    return next((os.environ[v] for v in BASE_URL_VARS if os.environ.get(v)), None)
