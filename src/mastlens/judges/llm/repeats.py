"""Long runs of whole lines shown once: a copy inside the same step, or a copy of an earlier instruction step.

:func:`collapse_inner_repeats` folds a block a step repeats inside itself (the task instructions and an AGENTS.md
file carrying the same document) into ``[same as above: K characters]``. :class:`EarlierLines` folds a run of lines
an earlier instruction or request step holds, in the same order, into ``[same as step N]``, wherever it sits in a
later step (inside a wrapper such as ``<INSTRUCTIONS>...</INSTRUCTIONS>``, glued to the wrapper's own lines).
"""

from __future__ import annotations

INNER_REPEAT_MIN_CHARS = 1000  # a block repeated inside one step is shown once from this size on
ANCHOR_CHARS = 16  # lines shorter than this (blank, a brace) never start a repeated block
SAME_ABOVE = "[same as above: "
_LATEST = 8  # the latest few earlier copies of a line are enough to find the longest run


def _run(lines: list[str], j: int, source: list[str], i: int, stop: int) -> tuple[int, int]:
    """(characters, lines) of the run where ``lines[j:]`` and ``source[i:stop]`` agree."""
    k = size = 0
    while j + k < len(lines) and i + k < stop and source[i + k] == lines[j + k]:
        size += len(lines[j + k]) + 1
        k += 1
    return size, k


def collapse_inner_repeats(text: str, min_chars: int = INNER_REPEAT_MIN_CHARS) -> str:
    """``text`` with each later copy of a run of whole lines it already holds (``min_chars`` or more) replaced
    by ``[same as above: K characters]``. A copy never overlaps its original, so a line repeated in a
    row (a loop's output) is not folded into itself."""
    if len(text) < 2 * min_chars:
        return text
    lines = text.split("\n")
    seen: dict[str, list[int]] = {}
    out: list[str] = []
    j = 0
    while j < len(lines):
        line = lines[j]
        best_chars, best_lines = 0, 0
        if len(line) >= ANCHOR_CHARS:
            for i in seen.get(line, ())[-_LATEST:]:
                size, k = _run(lines, j, lines, i, j)
                if size > best_chars:
                    best_chars, best_lines = size, k
        if best_chars - 1 >= min_chars:
            out.append(f"{SAME_ABOVE}{best_chars - 1:,} characters]")
            j += best_lines
            continue
        if len(line) >= ANCHOR_CHARS:
            seen.setdefault(line, []).append(j)
        out.append(line)
        j += 1
    return "\n".join(out)


class EarlierLines:
    """The lines of the instruction and request steps seen so far, to fold later copies of their runs."""

    def __init__(self, min_chars: int) -> None:
        self.min_chars = min_chars
        self.sources: list[tuple[int, list[str]]] = []  # (step index, its lines)
        self.where: dict[str, list[tuple[int, int]]] = {}  # line -> (source, line number)

    def add(self, step_index: int, text: str) -> None:
        lines = text.split("\n")
        k = len(self.sources)
        self.sources.append((step_index, lines))
        for i, line in enumerate(lines):
            if len(line) >= ANCHOR_CHARS:
                self.where.setdefault(line, []).append((k, i))

    def fold(self, text: str) -> tuple[str, set[int]]:
        """``text`` with every run of ``min_chars`` or more that an earlier step holds as ``[same as step N]`` (a
        run of such references to one step, blank lines between, is one), and the steps referred to."""
        if not self.where or len(text) < self.min_chars:
            return text, set()
        lines = text.split("\n")
        out: list[str] = []
        refs: set[int] = set()
        j = 0
        while j < len(lines):
            best_chars, best_lines, best_source = 0, 0, -1
            if len(lines[j]) >= ANCHOR_CHARS:
                for k, i in self.where.get(lines[j], ())[-_LATEST:]:
                    source = self.sources[k][1]
                    size, n = _run(lines, j, source, i, len(source))
                    if size > best_chars:
                        best_chars, best_lines, best_source = size, n, k
            if best_chars - 1 < self.min_chars:
                out.append(lines[j])
                j += 1
                continue
            index = self.sources[best_source][0]
            marker = f"[same as step {index}]"
            refs.add(index)
            j += best_lines
            back = len(out)
            while back and not out[back - 1].strip():
                back -= 1
            if back and out[back - 1] == marker:
                del out[back:]
            else:
                out.append(marker)
        return "\n".join(out), refs
