"""Import reference labels (human or other) as an annotation set (judge "labels").

Accepted: CSV with a ``trace_id`` column and one column per mode (``FM-1.1`` or ``1.1`` headers; values
1/0, yes/no, true/false; blank = not assessed), optionally ``FM-x.y_step`` (the mode's first step; a step
for a blank mode marks it present), ``decisive_step``, ``decisive_agent`` and ``decisive_reason`` (where the
run went wrong; steps are mastlens step indices, as ``mastlens show`` numbers them), JSONL / JSON records
with the same keys, and MAD records
whose ``mast_annotation`` maps mode codes to 0/1 (labelling trace ``mas_name/llm_name/benchmark_name/trace_id``,
the MAD adapter's id). A bad row is reported with its line; the rest continue.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mastlens.store import Store
from mastlens.taxonomy import Taxonomy, UnknownMode, load_taxonomy
from mastlens.trace import Annotation, label_annotation

LABELS_JUDGE = "labels"
_TRUE = {"1", "yes", "y", "true", "t", "present"}
_FALSE = {"0", "no", "n", "false", "f", "absent"}
_ID_KEYS = ("trace_id", "id")
_DECISIVE_KEYS = ("decisive_step", "decisive_agent", "decisive_reason")
_STEP_SUFFIX = "_step"
_MAD_ID_KEYS = ("mas_name", "llm_name", "benchmark_name", "trace_id")


class LabelImportError(ValueError):
    """A labels file that cannot be read at all."""


@dataclass
class ImportReport:
    set: str
    path: str
    rows: int = 0
    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line or record number, reason)
    unmatched: list[str] = field(default_factory=list)  # labelled ids with no stored trace (yet)
    ignored_columns: list[str] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"set": self.set, "path": self.path, "rows": self.rows, "imported": self.imported,
                "errors": [{"line": line, "reason": reason} for line, reason in self.errors],
                "unmatched": self.unmatched, "ignored_columns": self.ignored_columns, "modes": self.modes}


def parse_flag(value: Any) -> bool | None:
    """True / False / None (not assessed) from a label cell; ValueError for anything else."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("", "null", "none", "na", "n/a"):
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"cannot read {value!r} as a label (use 1/0, yes/no or true/false; blank = not assessed)")


def parse_step(value: Any) -> int | None:
    """A step index from a label cell (blank = none); ValueError for anything but a non-negative integer."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "null", "none", "na", "n/a")):
        return None
    if isinstance(value, bool):
        raise ValueError(f"cannot read {value!r} as a step index")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(f"cannot read {value!r} as a step index (a non-negative integer, blank = none)")
    return int(text)


def _step_columns(keys: list[str], taxonomy: Taxonomy) -> dict[str, str]:
    """``FM-x.y_step`` headers -> mode id."""
    out = {}
    for key in keys:
        if key and key.strip().lower().endswith(_STEP_SUFFIX) and key.strip().lower() not in _DECISIVE_KEYS:
            try:
                out[key] = taxonomy.resolve(key.strip()[:-len(_STEP_SUFFIX)])
            except UnknownMode:
                continue
    return out


def _attribution(record: dict[str, Any], cells: dict[str, Any], steps: dict[str, str],
                 flags: dict[str, bool | None]) -> tuple[dict[str, Any], dict[str, int]]:
    """The decisive step/agent/reason and the mode onsets of one record (ValueError naming the column)."""
    decisive: dict[str, Any] = {}
    for key, value in record.items():
        name = str(key).strip().lower()
        if name == "decisive_step":
            try:
                decisive[name] = parse_step(value)
            except ValueError as exc:
                raise ValueError(f"column {key!r}: {exc}") from None
        elif name in ("decisive_agent", "decisive_reason") and value not in (None, ""):
            decisive[name] = str(value).strip()
    onsets: dict[str, int] = {}
    for key, mode_id in steps.items():
        try:
            step = parse_step(cells.get(key))
        except ValueError as exc:
            raise ValueError(f"column {key!r}: {exc}") from None
        if step is None:
            continue
        if flags.get(mode_id) is False:
            raise ValueError(f"column {key!r}: a first step for {mode_id}, which the row marks absent")
        flags[mode_id] = True
        onsets[mode_id] = step
    return decisive, onsets


def _mode_columns(keys: list[str], taxonomy: Taxonomy, ignored: set[str]) -> dict[str, str]:
    out = {}
    for key in keys:
        if key is None or key.strip().lower() in _ID_KEYS or key.strip().lower() in _DECISIVE_KEYS:
            continue
        if key.strip().lower().endswith(_STEP_SUFFIX):
            continue
        try:
            out[key] = taxonomy.resolve(key)
        except UnknownMode:
            ignored.add(key)
    return out


def _records(path: Path, text: str) -> tuple[list[tuple[int, dict[str, Any] | None, str | None]], bool]:
    """(number, record or None, parse error) triples, and whether the numbers are lines."""
    stripped = text.lstrip()
    if path.suffix.lower() in (".csv", ".tsv") or not stripped.startswith(("{", "[")):
        dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
        reader = csv.DictReader(io.StringIO(text), dialect=dialect)
        if not reader.fieldnames:
            raise LabelImportError(f"{path}: empty file")
        return [(reader.line_num, row, None) for row in reader], True
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LabelImportError(f"{path}: not valid JSON: {exc}") from None
        return [(i, r if isinstance(r, dict) else None, None if isinstance(r, dict) else "not an object")
                for i, r in enumerate(data, 1)], False
    out: list[tuple[int, dict[str, Any] | None, str | None]] = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            out.append((i, None, f"not valid JSON: {exc.msg}"))
            continue
        out.append((i, record if isinstance(record, dict) else None, None if isinstance(record, dict) else "not an object"))
    return out, True


def _label_id(record: dict[str, Any]) -> str | None:
    """The trace id a record labels; MAD records use the MAD adapter's composite id."""
    if isinstance(record.get("mast_annotation"), dict) and all(record.get(k) for k in _MAD_ID_KEYS):
        return "/".join(str(record[k]).strip() for k in _MAD_ID_KEYS)
    value = next((record[k] for k in record if str(k).strip().lower() in _ID_KEYS and record[k] not in (None, "")),
                 None)
    return None if value is None else str(value).strip()


def _stored_id(label_id: str, stored: set[str], by_original: dict[str, list[str]]) -> str | None:
    if label_id in stored:
        return label_id
    candidates = by_original.get(label_id, [])
    return candidates[0] if len(candidates) == 1 else None


def _step_out_of_range(store: Store, trace_id: str, decisive_step: int | None, onsets: dict[str, int]) -> str | None:
    steps = [("decisive_step", decisive_step)] + [(f"{m}_step", s) for m, s in onsets.items()]
    if all(s is None for _, s in steps):
        return None
    row = store.conn.execute("SELECT n_steps FROM traces WHERE id = ?", (trace_id,)).fetchone()
    for column, step in steps:
        if step is not None and row is not None and step >= row[0]:
            return f"column {column!r}: step {step} is past the end of trace {trace_id!r} ({row[0]} steps)"
    return None


def import_labels(store: Store, path: str | Path, set_name: str, *, taxonomy: Taxonomy | None = None) -> ImportReport:
    """Read labels from ``path`` into annotation set ``set_name``. Raises ``LabelImportError`` only when
    the file as a whole cannot be read or the set belongs to a judge; bad rows land in ``report.errors``."""
    taxonomy = taxonomy or load_taxonomy()
    path = Path(path)
    existing = store.get_set(set_name)
    if existing is not None and existing.judge != LABELS_JUDGE:
        raise LabelImportError(f"set {set_name!r} holds annotations by judge {existing.judge!r}; "
                               "import labels into a set of their own")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelImportError(f"{path}: cannot read: {exc}") from None
    records, by_line = _records(path, text)
    where = "line" if by_line else "record"
    report = ImportReport(set=set_name, path=str(path))
    stored = set(store.trace_hashes())
    by_original: dict[str, list[str]] = {}
    for trace_id in stored:
        if "@" in trace_id:
            by_original.setdefault(trace_id.rsplit("@", 1)[0], []).append(trace_id)
    ignored: set[str] = set()
    seen: dict[str, int] = {}
    used_modes: set[str] = set()
    pending: list[Annotation] = []
    for number, record, problem in records:
        report.rows += 1
        if record is None:
            report.errors.append((number, f"{where} {number}: {problem}"))
            continue
        label_id = _label_id(record)
        if not label_id:
            report.errors.append((number, f"{where} {number}: no trace_id"))
            continue
        cells = record.get("mast_annotation") if isinstance(record.get("mast_annotation"), dict) else record
        columns = _mode_columns([str(k) for k in cells], taxonomy, ignored if cells is record else set())
        flags: dict[str, bool | None] = {}
        try:
            for key, mode_id in columns.items():
                flag = parse_flag(cells[key])
                if flag is not None:
                    flags[mode_id] = flag
        except ValueError as exc:
            report.errors.append((number, f"{where} {number}: column {key!r}: {exc}"))
            continue
        try:
            decisive, onsets = _attribution(record, cells, _step_columns([str(k) for k in cells], taxonomy), flags)
        except ValueError as exc:
            report.errors.append((number, f"{where} {number}: {exc}"))
            continue
        if not columns and not onsets and decisive.get("decisive_step") is None and not decisive.get("decisive_agent"):
            hint = (" (a MAD human-labelled record with per-annotator votes: read it with `mastlens ingest`)"
                    if isinstance(record.get("annotations"), list) else " (expected FM-1.1 or 1.1 style keys)")
            report.errors.append((number, f"{where} {number}: no mode columns{hint}"))
            continue
        if label_id in seen:
            report.errors.append((number, f"{where} {number}: trace {label_id!r} already labelled in {where} {seen[label_id]}"))
            continue
        seen[label_id] = number
        trace_id = _stored_id(label_id, stored, by_original)
        if trace_id is None:
            report.unmatched.append(label_id)
            trace_id = label_id
        else:
            problem = _step_out_of_range(store, trace_id, decisive.get("decisive_step"), onsets)
            if problem:
                report.errors.append((number, f"{where} {number}: {problem}"))
                del seen[label_id]
                continue
        used_modes.update(m for m, flag in flags.items() if flag is not None)
        pending.append(label_annotation(trace_id, set_name, flags, taxonomy.ids, metadata={"labels_file": path.name},
                                        onsets=onsets, **decisive))
    report.ignored_columns = sorted(c for c in ignored if c not in ("mast_annotation",))
    report.modes = [m for m in taxonomy.ids if m in used_modes]
    if pending:
        store.ensure_set(set_name, judge=LABELS_JUDGE, taxonomy_version=taxonomy.version,
                         params={"source": path.name})
        store.save_annotations(pending)
        report.imported = len(pending)
    return report
