"""Codex CLI rollouts (``rollout-*.jsonl``): the reader, its step builder and its output parsing."""

from mastlens.adapters.codex.rollout import ADAPTER

__all__ = ["ADAPTER"]
