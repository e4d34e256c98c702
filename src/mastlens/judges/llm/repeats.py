"""Long runs of whole lines shown once: a copy inside the same step, or a copy of an earlier instruction step.

:func:`collapse_inner_repeats` folds a block a step repeats inside itself (the task instructions and an AGENTS.md
file carrying the same document) into ``[same as above: K characters]``. :class:`EarlierLines` folds a run of lines
an earlier instruction or request step holds, in the same order, into ``[same as step N]``, in a later step that
already repeats that step (the paragraphs of a document sent again inside a wrapper such as
``<INSTRUCTIONS>...</INSTRUCTIONS>``, whose first and last paragraphs are glued to the wrapper's own lines).
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

    def fold(self, text: str, only: set[int]) -> tuple[str, set[int]]:
        """``text`` with every run of lines that one of the earlier steps ``only`` holds as ``[same as step N]``,
        and the steps referred to: a run of ``min_chars`` or more, or a shorter one beside a reference to the same
        step (the rest of a paragraph the reference stands for); references to one step with only blank lines
        between them are one."""
        if not self.where or not only or len(text) < self.min_chars:
            return text, set()
        lines = text.split("\n")
        out: list[str] = []
        refs: set[int] = set()
        j = 0
        while j < len(lines):
            size, n, k, i = self._longest(lines, j, only)
            index = self.sources[k][0] if n else -1
            marker = f"[same as step {index}]"
            back = 0  # the short lines (a heading) the run began with, shown already
            if n:
                source = self.sources[k][1]
                while (back < len(out) and back < i and out[-1 - back] == source[i - 1 - back]
                       and not out[-1 - back].startswith("[same as step ")):
                    size += len(out[-1 - back]) + 1
                    back += 1
            after = next((x for x in lines[j + n:] if x.strip()), None)
            if n and (size - 1 >= self.min_chars or _last_marker(out[:len(out) - back]) == marker or after == marker):
                del out[len(out) - back:]
                refs.add(index)
                j += n
                _append_marker(out, marker)
                continue
            line = lines[j]
            j += 1
            if line.startswith("[same as step ") and _last_marker(out) == line:
                _append_marker(out, line)
            else:
                out.append(line)
        return "\n".join(out), refs

    def _longest(self, lines: list[str], j: int, only: set[int]) -> tuple[int, int, int, int]:
        """(characters, lines, source, its line) of the longest run from ``lines[j]`` in one of ``only``."""
        best = (0, 0, -1, -1)
        if len(lines[j]) < ANCHOR_CHARS:
            return best
        places = [w for w in self.where.get(lines[j], ()) if self.sources[w[0]][0] in only]
        for k, i in places[-_LATEST:]:
            source = self.sources[k][1]
            size, n = _run(lines, j, source, i, len(source))
            if size > best[0]:
                best = (size, n, k, i)
        return best


def _last_marker(out: list[str]) -> str | None:
    """The last non-blank line of ``out`` when it is a reference."""
    last = next((x for x in reversed(out) if x.strip()), None)
    return last if last is not None and last.startswith("[same as step ") else None


def _append_marker(out: list[str], marker: str) -> None:
    """``marker`` at the end of ``out``, or, when ``out`` already ends with it (blank lines after), merged."""
    if _last_marker(out) == marker:
        while not out[-1].strip():
            out.pop()
    else:
        out.append(marker)
