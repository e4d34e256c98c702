"""Cuts for a trace over its budget: whole lines head + tail, the lines that carry the outcome kept from the middle.

At the default limits a long output is cut by characters, head + tail (``render.cut_middle``). A trace whose
outputs (or long call arguments) would take more than their total budget gets a smaller share per output, and
then :func:`cut_lines` cuts it: whole lines from the head and the tail, and from the omitted middle the lines a
judge needs to tell how a command went (errors, tracebacks, failing and passing test counts, exit statuses), one
of each shape (digits and hex ids aside). For a patch or diff the middle lines kept are its file headers, so every
file a call touches stays named. Every gap reads ``[... K characters omitted ...]``, the marker the judge's prompt
explains.

:func:`allocate` splits a total budget over the items that need cutting: each gets the same share times its
weight (the last outputs and failing ones weigh more), never more than the default limit nor less than a floor,
and an item shorter than its share keeps all of it.
"""

from __future__ import annotations

import re

SALIENT_LINE_CHARS = 200  # a kept middle line longer than this is cut itself
_MARKER = "\n[... {} characters omitted ...]\n"
_MARKER_CHARS = len(_MARKER.format(10_000))

# Generic words of how a command, a build or a test run ended; not any one tool's or benchmark's wording. Each is
# (word, whether a letter may precede it: ValueError, RuntimeException; whether one may follow it: AssertionError).
_WORDS = (("error", True, False), ("errors", True, False), ("exception", True, False), ("traceback", False, False),
          ("fail", False, False), ("failed", False, False), ("failure", False, False), ("failures", False, False),
          ("failing", False, False), ("fatal", False, False), ("panic", False, False), ("abort", False, True),
          ("denied", False, False), ("refused", False, False), ("not found", False, False),
          ("no such file", False, False), ("timeout", False, False), ("timed out", False, False),
          ("killed", False, False), ("segmentation fault", False, False), ("exit code", False, False),
          ("exit status", False, False), ("exited with", False, False), ("assert", False, True),
          ("passed", False, False), ("xfailed", False, False), ("skipped", False, False),
          ("succeeded", False, False), ("tests run", False, False), ("ran ", False, True))
_PATCH_HEADER = re.compile(
    r"^(?:\*\*\* (?:Begin Patch|End Patch|Update File:|Add File:|Delete File:|Move to:)|diff --git |--- |\+\+\+ )")
_SHAPE = re.compile(r"[0-9a-fA-F]{6,}|\d+")


def _word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def salient_starts(text: str, start: int = 0, end: int | None = None) -> set[int]:
    """Start offsets of the lines of ``text[start:end]`` that tell how something went: an error, a failure, a
    test count, an exit status. (One pass of ``str.find`` per word: a regular expression over megabytes of
    output is many times slower.)"""
    end = len(text) if end is None else end
    chunk = text[start:end]
    lowered = chunk.lower()
    if len(lowered) != len(chunk):  # a character whose lower case is longer (İ): keep it, so offsets hold
        lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in chunk)
    found: set[int] = set()
    for word, after_letter, before_letter in _WORDS:
        pos = lowered.find(word)
        while pos != -1:
            stop = pos + len(word)
            ok = (after_letter or pos == 0 or not _word_char(lowered[pos - 1])) and (
                before_letter or stop >= len(lowered) or not _word_char(lowered[stop]))
            if ok and word == "ran ":
                ok = stop < len(lowered) and lowered[stop].isdigit()
            if ok:
                found.add(start + lowered.rfind("\n", 0, pos) + 1)
            pos = lowered.find(word, stop)
    return found


def is_patch_header(line: str) -> bool:
    """A patch's or diff's file line (``*** Update File: x``, ``diff --git``, ``--- a/x``, ``+++ b/x``)."""
    return bool(_PATCH_HEADER.match(line))


def looks_like_patch(text: str) -> bool:
    head = text[:2000]
    return "*** Begin Patch" in head or ("\n+++ " in head and ("\n--- " in head or head.startswith("--- ")))


def _shape(line: str) -> str:
    return _SHAPE.sub("#", line.strip())


def _spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line of ``text``, newlines excluded."""
    out, start = [], 0
    for line in text.split("\n"):
        out.append((start, start + len(line)))
        start += len(line) + 1
    return out


def _alternate(items: list) -> list:
    """First, last, second, second to last...: what to keep first when not all fit."""
    out, lo, hi = [], 0, len(items) - 1
    while lo <= hi:
        out.append(items[lo])
        if hi != lo:
            out.append(items[hi])
        lo, hi = lo + 1, hi - 1
    return out


def cut_lines(text: str, limit: int, keep: str = "outcome") -> str:
    """``text`` in about ``limit`` characters: whole lines from the head and the tail (30% each), from the middle
    the lines ``keep`` names (``"outcome"``: the lines that tell how a command went, one per shape; ``"files"``:
    a patch's file headers; ``""``: none), the first and the last of them first when not all fit, and what is
    left for more of the tail. Each gap is marked with the characters it leaves out."""
    if len(text) <= limit:
        return text
    spans = _spans(text)
    room = max(limit - _MARKER_CHARS, 40)
    head, used = _take(spans, room * 3 // 10, 0, len(text), partial=True)
    head_end = head[-1][1] if head else 0
    tail, used_tail = _take(spans[::-1], room * 3 // 10, head_end, len(text), partial=True, from_end=True)
    tail_start = tail[0][0] if tail else len(text)
    used += used_tail
    middle = _middle(text, spans, head + tail, keep, room - used, head_end, tail_start)
    used += sum(b - a + _MARKER_CHARS for a, b in middle)
    more, _ = _take(spans[::-1], room - used, middle[-1][1] if middle else head_end, tail_start, from_end=True)
    return _join(text, [*head, *middle, *more, *tail])


def _take(spans: list[tuple[int, int]], room: int, lo: int, hi: int, *, partial: bool = False,
          from_end: bool = False) -> tuple[list[tuple[int, int]], int]:
    """Whole lines inside [lo, hi) in the order of ``spans`` while they fit in ``room``, in text order, and the
    characters they take; with ``partial``, a first line longer than ``room`` gives its beginning (its end
    ``from_end``)."""
    out: list[tuple[int, int]] = []
    used = 0
    for a, b in spans:
        if b <= lo or a >= hi:
            if out or (b <= lo if from_end else a >= hi):
                break
            continue
        a, b = max(a, lo), min(b, hi)
        if used + (b - a) + 1 > room:
            if not out and partial and room > 0:
                out.append((b - room, b) if from_end else (a, a + room))
                used = room
            break
        out.append((a, b))
        used += b - a + 1
    return (out[::-1] if from_end else out), used


def _middle(text: str, spans: list[tuple[int, int]], shown_pieces: list[tuple[int, int]], keep: str, room: int,
            lo: int, hi: int) -> list[tuple[int, int]]:
    """The lines inside [lo, hi) that ``keep`` names and fit in ``room``, in text order."""
    inside = [(a, b) for a, b in spans if a >= lo and b <= hi and b > a]
    if keep == "outcome":
        starts = salient_starts(text, lo, hi)
        shown = {_shape(text[a:b]) for a, b in shown_pieces}
        candidates = []
        for a, b in inside:
            if a in starts and (shape := _shape(text[a:b])) not in shown:
                shown.add(shape)
                candidates.append((a, min(b, a + SALIENT_LINE_CHARS)))
    elif keep == "files":
        candidates = [(a, b) for a, b in inside if is_patch_header(text[a:b])]
    else:
        candidates = []
    chosen, used = [], 0
    for a, b in _alternate(candidates):
        if used + (b - a) + _MARKER_CHARS <= room:
            chosen.append((a, b))
            used += (b - a) + _MARKER_CHARS
    return sorted(chosen)


def _join(text: str, pieces: list[tuple[int, int]]) -> str:
    """The kept pieces in order; a gap of more than the newline between two lines becomes a marker."""
    out, pos = [], 0
    for a, b in _merged(pieces):
        gap = a - pos
        if gap <= _MARKER_CHARS and (out or gap <= 2 and not text[:a].strip()):
            out.append(text[pos:a])  # the newline between two kept lines, or a gap no longer than its marker
        else:
            out.append(_MARKER.format(gap) if out else _MARKER.format(gap).lstrip("\n"))
        out.append(text[a:b])
        pos = b
    if len(text) - pos > _MARKER_CHARS:
        out.append(_MARKER.format(len(text) - pos).rstrip("\n"))
    else:
        out.append(text[pos:])
    return "".join(out)


def _merged(pieces: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(pieces):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def cut_argument(text: str, limit: int) -> str:
    """A long argument value over budget: a patch keeps its file headers, anything else its head and tail."""
    if len(text) <= limit:
        return text
    if looks_like_patch(text):
        return cut_lines(text, limit, "files")
    return cut_lines(text, limit, "")


def allocate(needs: list[int], weights: list[float], total: int, *, cap: int, floor: int) -> list[int]:
    """Per item, how many characters to keep: ``cap`` each when ``total`` allows it, else the same share times the
    item's weight, between ``floor`` and ``cap`` (an item needing less than its share keeps all it needs)."""
    if sum(min(n, cap) for n in needs) <= total:
        return [cap] * len(needs)

    def spent(share: float) -> int:
        return sum(min(n, cap, max(floor, int(share * w))) for n, w in zip(needs, weights))

    lo, hi = 0.0, float(cap)
    for _ in range(40):
        mid = (lo + hi) / 2
        if spent(mid) <= total:
            lo = mid
        else:
            hi = mid
    return [min(cap, max(floor, int(lo * w))) for w in weights]
