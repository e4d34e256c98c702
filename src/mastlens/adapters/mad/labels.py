"""MAST-Data (MAD) reference labels as per-set mode flags.

The full dataset's ``mast_annotation`` uses the final codes (``{"1.1": 0|1, ...}``). The human-labelled
file's ``annotations`` list ``{"failure mode": "<code> <name>\\n\\n<definition>", "annotator_1": bool,
...}`` in three taxonomy versions whose numbers mean different things, so entries are matched by
name only (the taxonomy's names and aliases); names of retired modes map to nothing, and every mode
with no entry stays not assessed for that record.

The published human-labelled file carries fewer label blocks than records: records of different systems and
tasks share a byte-identical ``annotations`` array, every annotator's column included (19 records, 8 blocks in
the copy checked; reported upstream as MAST issue #16). :class:`SharedBlocks` finds them in any file of this
shape, says so in the ingest notes, and marks each label with its block so agreement can warn.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mastlens.taxonomy import Taxonomy, UnknownMode
from mastlens.taxonomy.models import normalize_label

_CODE_PREFIX = re.compile(r"^\s*\d+(?:\.\d+)?\s*")
_ANNOTATOR = re.compile(r"^annotator_\d+$")


@dataclass
class LabelMapping:
    """Names seen in a file that map to no mode: retired ones (known) and unknown ones, with counts."""

    retired: Counter[str] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)
    no_source: Counter[str] = field(default_factory=Counter)  # mode id -> records with no entry for it

    def notes(self) -> list[str]:
        out = []
        if self.retired:
            names = ", ".join(f"{n} ({c}x)" for n, c in sorted(self.retired.items()))
            out.append(f"label entries from earlier MAST versions that map to no mode: {names}")
        if self.unknown:
            names = ", ".join(f"{n} ({c}x)" for n, c in sorted(self.unknown.items()))
            out.append(f"label entries with unknown failure-mode names (ignored): {names}")
        if self.no_source:
            modes = ", ".join(f"{m} in {c} records" for m, c in sorted(self.no_source.items()))
            out.append(f"modes with no label entry, stored as not assessed: {modes}")
        return out


def block_digest(annotations: Any) -> str | None:
    """A digest of a record's whole ``annotations`` array (every annotator's column); None when it is empty."""
    if not isinstance(annotations, list) or not annotations:
        return None
    text = json.dumps(annotations, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class SharedBlocks:
    """The label blocks of one file's records, to find records that carry the very same block."""

    members: dict[str, list[str]] = field(default_factory=dict)  # digest -> trace ids, in file order

    def add(self, digest: str | None, trace_id: str) -> None:
        if digest is not None:
            self.members.setdefault(digest, []).append(trace_id)

    def others(self, digest: str | None, trace_id: str) -> list[str]:
        """The other records whose block is ``digest``."""
        return [t for t in self.members.get(digest or "", []) if t != trace_id]

    def notes(self) -> list[str]:
        shared = [ids for ids in self.members.values() if len(ids) > 1]
        if not shared:
            return []
        records = sum(len(ids) for ids in self.members.values())
        n_shared = sum(len(ids) for ids in shared)
        example = " = ".join(max(shared, key=len)[:3])
        return [f"human labels: {n_shared} of {records} records share a byte-identical annotation block (every "
                f"annotator's column) with another record, {len(self.members)} distinct blocks in all (e.g. "
                f"{example}): these labels were not made per trace, so agreement with them says little about a "
                "judge; each label records its block (label_block, label_block_shared_with)"]


def flag(value: Any) -> bool | None:
    """True / False, or None for a missing vote (null, NaN, blank); ValueError for anything else."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("", "yes", "no", "true", "false", "1", "0"):
        text = value.strip().lower()
        return None if not text else text in ("yes", "true", "1")
    raise ValueError(f"cannot read {value!r} as a label")


def entry_name(failure_mode: str) -> str:
    """The mode name of a ``failure mode`` cell: its first line without the code."""
    first = failure_mode.strip().split("\n", 1)[0]
    return _CODE_PREFIX.sub("", first).strip()


def resolve_entry(name: str, taxonomy: Taxonomy, mapping: LabelMapping) -> str | None:
    mode_id = taxonomy.resolve_name(name)
    if mode_id is None:
        retired = {normalize_label(n) for n in taxonomy.legacy_unmapped}
        (mapping.retired if normalize_label(name) in retired else mapping.unknown)[name] += 1
    return mode_id


def human_flags(annotations: Any, taxonomy: Taxonomy, mapping: LabelMapping) -> dict[str, dict[str, bool | None]]:
    """Flags per set (``mad-annotator_N`` and ``mad-majority``) from a record's ``annotations`` list."""
    if not isinstance(annotations, list):
        raise ValueError("annotations is not a list")
    per_set: dict[str, dict[str, bool | None]] = {}
    votes: dict[str, list[bool]] = {}
    mapped: set[str] = set()
    for i, entry in enumerate(annotations):
        if not isinstance(entry, dict) or not isinstance(entry.get("failure mode"), str):
            raise ValueError(f"annotation {i} has no 'failure mode' text")
        mode_id = resolve_entry(entry_name(entry["failure mode"]), taxonomy, mapping)
        if mode_id:
            mapped.add(mode_id)
        for key, value in entry.items():
            if not _ANNOTATOR.match(key):
                continue
            try:
                vote = flag(value)
            except ValueError as exc:
                raise ValueError(f"annotation {i}, {key}: {exc}") from None
            flags = per_set.setdefault(f"mad-{key}", {})
            if mode_id is None or vote is None:
                continue
            flags[mode_id] = bool(flags.get(mode_id)) or vote  # two entries for one mode: either says present
            votes.setdefault(mode_id, []).append(vote)
    mapping.no_source.update(m for m in taxonomy.ids if m not in mapped)
    if per_set:
        # present when more than half of the votes cast say so; a mode nobody voted on stays not assessed
        per_set["mad-majority"] = {m: sum(v) * 2 > len(v) for m, v in votes.items() if v}
    return per_set


def dataset_flags(annotation: Any, taxonomy: Taxonomy, mapping: LabelMapping) -> dict[str, bool | None]:
    """Flags from the full dataset's ``mast_annotation`` (final codes, e.g. ``{"1.1": 0, ...}``)."""
    if not isinstance(annotation, dict):
        raise ValueError("mast_annotation is not an object")
    flags: dict[str, bool | None] = {}
    for code, value in annotation.items():
        try:
            mode_id = taxonomy.resolve(str(code))
        except UnknownMode:
            mapping.unknown[str(code)] += 1
            continue
        try:
            flags[mode_id] = flag(value)
        except ValueError as exc:
            raise ValueError(f"mast_annotation {code!r}: {exc}") from None
    return flags
