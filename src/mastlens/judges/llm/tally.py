"""What one trace's judging costs and yields: the tally of its requests and each window's verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mastlens.judges.llm.client import Reply, ResponseFormat
from mastlens.judges.llm.parse import ParsedVerdict


@dataclass
class WindowResult:
    """One window's verdict (costs are counted in the trace's tally)."""

    parsed: ParsedVerdict
    raw: str
    fmt: ResponseFormat
    cache_hits: int = 0


@dataclass
class Tally:
    """Tokens, requests and time spent on one trace, retries included."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    calls: int = 0
    attempts: int = 0
    latency_s: float = 0.0
    raws: list[str] = field(default_factory=list)
    releases: list[Any] = field(default_factory=list)  # the held replies' slot releases, not yet handed on

    def add(self, reply: Reply) -> None:
        if reply.release is not None:
            self.releases.append(reply.release)
        self.input_tokens += reply.input_tokens
        self.output_tokens += reply.output_tokens
        self.cached_tokens += reply.cached_tokens
        self.calls += reply.attempts  # every request sent, retries included
        self.attempts += reply.attempts
        self.latency_s += reply.latency_s

    def take_releases(self) -> list[Any]:
        taken, self.releases = self.releases, []
        return taken


def release_now(releases: list[Any]) -> None:
    """Free the request slots of replies that will not be stored (a corrected reply, an error)."""
    for release in releases:
        release.set()


def hash_parts(digest: Any, parts: tuple[str, str]) -> None:
    """Feed ``parts`` to ``digest`` length-prefixed, so no two message lists hash alike."""
    for part in parts:
        raw = part.encode("utf-8")
        digest.update(len(raw).to_bytes(8, "big"))
        digest.update(raw)
