"""Check the judge's evidence quotes against the steps they cite.

A quote is verified when it occurs in the cited step after whitespace, case and quote-mark
normalization, allowing "..." elisions and small differences (most of its word trigrams present); if the
cited step does not hold it, the two steps either side are searched and the step number corrected.
"""

from __future__ import annotations

import re

from mastlens.judges.llm.render import full_step_text
from mastlens.trace import Evidence, Trace

NEIGHBOURS = 2
MIN_TRIGRAM_SHARE = 0.8
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…|\[\s*\.\.\.\s*\])\s*")
_DROP = str.maketrans({c: " " for c in "\"'`\\*"} | {"’": " ", "‘": " ", "“": " ", "”": " "})


def normalize(text: str) -> str:
    return " ".join(text.lower().translate(_DROP).split())


def _trigrams(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


class _StepIndex:
    """Normalized step texts (and their trigrams) built on demand, once per trace."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self.by_index = {s.index: s for s in trace.steps}
        self._text: dict[int, str] = {}
        self._grams: dict[int, set[tuple[str, ...]]] = {}

    def text(self, index: int) -> str:
        if index not in self._text:
            step = self.by_index[index]
            self._text[index] = normalize(full_step_text(step))
        return self._text[index]

    def grams(self, index: int) -> set[tuple[str, ...]]:
        if index not in self._grams:
            self._grams[index] = _trigrams(self.text(index).split())
        return self._grams[index]

    def holds(self, index: int, quote: str) -> bool:
        if index not in self.by_index:
            return False
        text = self.text(index)
        fragments = [normalize(f) for f in _ELLIPSIS.split(quote)]
        fragments = [f for f in fragments if f]
        if not fragments:
            return False
        if all(f in text for f in fragments):
            return True
        words = normalize(" ".join(fragments)).split()
        if len(words) < 5:
            return False
        wanted = _trigrams(words)
        return len(wanted & self.grams(index)) >= MIN_TRIGRAM_SHARE * len(wanted)


def verify_evidence(trace: Trace, items: list[tuple[int, str]]) -> list[Evidence]:
    """Evidence with ``verified`` set (and the step corrected when a neighbour holds the quote)."""
    index = _StepIndex(trace)
    out: list[Evidence] = []
    for step, quote in items:
        quote = quote.strip()
        found = None
        if quote:
            for delta in (0, *[d for k in range(1, NEIGHBOURS + 1) for d in (-k, k)]):
                if index.holds(step + delta, quote):
                    found = step + delta
                    break
        out.append(Evidence(step=found if found is not None else step, quote=quote, verified=found is not None))
    return out
