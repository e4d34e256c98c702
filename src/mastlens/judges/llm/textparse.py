"""Fallback reader for judge replies that are not JSON: MAST's own template ("1.3 Step Repetition: yes"),
key/value lines ("FM-1.1 Disobey task specification: present: false"), bullet lists, markdown tables,
headings followed by ``Present: no`` lines, and pretty-printed JSON fragments.

A line that names a mode is answered by its value (never by a field name such as ``present``); a line
whose value cannot be read is a problem, and the caller treats a reply with problems as an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mastlens.judges.llm.answers import exact_answer, keyed_pairs, read_answer
from mastlens.taxonomy import Taxonomy, UnknownMode

_PREFIX = re.compile(r"^\s*(?:(?:[-*•>#+]+|\d+[.)](?=\s)|[A-Z][.)](?=\s))\s*)*")
_SEPARATOR = re.compile(r"\s*(?::|=|\s[-–]\s|[—→]|->)\s*")
_CODE_START = re.compile(r"^\s*(?:fm)?[\s_-]*\d+\s*[.\-_]\s*\d+\b", re.IGNORECASE)
_JSON_ID = re.compile(r'"(?:id|mode|mode_id|code|failure_mode)"\s*:\s*"(?P<label>[^"]+)"\s*,?')
_QUOTED_KEY = re.compile(r'^"(?P<label>[^"]+)"\s*:\s*')
_PAREN = re.compile(r"\([^)]*\)")
_SUMMARY = re.compile(r"^\s*A[.)]\s*(?:[^:\n]*:)?\s*(?P<text>.+)$")
_COMPLETION = re.compile(r"(?:\b|_)(complet|success)", re.IGNORECASE)
_TABLE_RULE = re.compile(r"^[\s|:\-+]*$")


@dataclass
class TextVerdict:
    summary: str
    task_completed: bool | None
    modes: dict[str, bool]
    problems: list[str] = field(default_factory=list)


@dataclass
class _Reading:
    taxonomy: Taxonomy
    modes: dict[str, bool] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    task_completed: bool | None = None
    pending: str | None = None  # a mode named on its own line, waiting for its "Present: no" line
    named: set[str] = field(default_factory=set)

    def answer(self, mode_id: str, value: bool) -> None:
        if mode_id in self.modes and self.modes[mode_id] != value:
            self.problems.append(f"{mode_id} answered both yes and no")
        self.modes[mode_id] = value

    def close_pending(self) -> None:
        if self.pending is not None and self.pending not in self.modes:
            self.problems.append(f"{self.pending}: named without a yes/no answer")
        self.pending = None


def _mode_of(label: str, taxonomy: Taxonomy) -> str | None:
    """The mode a label names, or None; an unknown code (``FM-4.1``) raises :class:`UnknownMode`."""
    label = label.strip().strip("\"'").strip()
    if not label:
        return None
    for candidate in (label, _PAREN.sub(" ", label).strip()):
        try:
            return taxonomy.resolve(candidate)
        except UnknownMode:
            if _CODE_START.match(candidate):
                raise
    return None


def _split_label(line: str, taxonomy: Taxonomy) -> tuple[str, str, str]:
    """``(label, mode_id or "", rest)`` of a line; the label absorbs a repeated mode name ("FM-1.1: Disobey
    task specification: no")."""
    m = _JSON_ID.search(line)
    if m:
        return m.group("label"), _mode_of(m.group("label"), taxonomy) or "", line[:m.start()] + line[m.end():]
    m = _QUOTED_KEY.match(line)
    if m:
        label, rest = m.group("label"), line[m.end():]
    else:
        sep = _SEPARATOR.search(line)
        label, rest = (line[:sep.start()], line[sep.end():]) if sep else (line, "")
    mode_id = _mode_of(label, taxonomy) or ""
    if mode_id:
        sep = _SEPARATOR.search(rest)
        if sep and taxonomy.resolve_name(_PAREN.sub(" ", rest[:sep.start()]).strip()) == mode_id:
            rest = rest[sep.end():]
    return label, mode_id, rest


def _read_row(cells: list[str], reading: _Reading) -> None:
    for i, cell in enumerate(cells):
        try:
            mode_id = _mode_of(cell, reading.taxonomy)
        except UnknownMode:
            reading.problems.append(f"unknown mode {cell.strip()!r}")
            return
        if mode_id or _COMPLETION.search(cell):
            break
    else:
        return
    answers = {a for a in (exact_answer(c) for c in cells[i + 1:]) if a is not None}
    if not mode_id:
        if len(answers) == 1:
            reading.task_completed = answers.pop()
        return
    reading.close_pending()
    reading.named.add(mode_id)
    if len(answers) == 1:
        reading.answer(mode_id, answers.pop())
    else:
        what = "conflicting yes/no cells" if answers else "no yes/no cell"
        reading.problems.append(f"{mode_id}: {what} in table row {'|'.join(cells).strip()!r}")


def _read_line(raw: str, reading: _Reading) -> None:
    if raw.count("|") >= 2:
        if not _TABLE_RULE.match(raw):
            _read_row(raw.replace("**", "").replace("`", "").strip().strip("|").split("|"), reading)
        return
    line = _PREFIX.sub("", raw.replace("**", "").replace("`", "")).strip()
    if not line or line in "{}[],":
        return
    try:
        label, mode_id, rest = _split_label(line, reading.taxonomy)
    except UnknownMode:
        reading.problems.append(f"unknown mode {line.split(':')[0].strip()!r}")
        return
    if mode_id:
        reading.close_pending()
        reading.named.add(mode_id)
        if not rest.strip(" ,{"):
            if mode_id not in reading.modes:
                reading.pending = mode_id  # a heading; its answer comes on a later line
            return
        value, problem = read_answer(rest)
        if problem:
            reading.problems.append(f"{mode_id}: {problem}")
        else:
            reading.answer(mode_id, value)
        return
    pairs = keyed_pairs(line)
    key = pairs[0][0] if pairs else label
    if _COMPLETION.search(key):
        value, problem = read_answer(rest if not pairs else line)
        if not problem:
            reading.task_completed = value
        return
    if reading.pending is None:
        return
    value = exact_answer(line)
    if value is None and pairs:
        value, problem = read_answer(line)
        if problem and "no readable value" in problem:
            reading.problems.append(f"{reading.pending}: {problem}")
    if value is not None:
        reading.answer(reading.pending, value)
        reading.pending = None


def _is_summary(line: str, taxonomy: Taxonomy) -> bool:
    """MAST's "A. <summary>" line, unless the lettered line answers a mode ("A. Step repetition: yes")."""
    if not _SUMMARY.match(line):
        return False
    try:
        return not _split_label(_PREFIX.sub("", line.replace("**", "")).strip(), taxonomy)[1]
    except UnknownMode:
        return False


def parse_mast_text(text: str, taxonomy: Taxonomy) -> TextVerdict | None:
    """Read a text answer; None when no line names a mode at all."""
    reading = _Reading(taxonomy)
    summary = ""
    for line in text.splitlines():
        if not summary and _is_summary(line, taxonomy):
            summary = _SUMMARY.match(line).group("text").strip()
            continue
        _read_line(line, reading)
    reading.close_pending()
    if not reading.named and not reading.problems:
        return None
    missing = [m for m in taxonomy.ids if m not in reading.named]
    if missing:
        reading.problems.append(f"missing modes: {', '.join(missing)}")
    modes = {m: reading.modes[m] for m in taxonomy.ids if m in reading.modes}
    return TextVerdict(summary, reading.task_completed, modes, list(dict.fromkeys(reading.problems)))
