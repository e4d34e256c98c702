"""Typed taxonomy: categories and failure modes, loaded from versioned data."""

from __future__ import annotations

import re
from enum import Enum

from pydantic import BaseModel, Field, PrivateAttr, model_validator


class Stage(str, Enum):
    PRE_EXECUTION = "pre-execution"
    EXECUTION = "execution"
    POST_EXECUTION = "post-execution"


class Category(BaseModel):
    id: str
    name: str
    description: str


class Mode(BaseModel):
    """One failure mode, with the guidance judges and reports use."""

    id: str = Field(pattern=r"^FM-\d+\.\d+$")
    code: str = Field(pattern=r"^\d+\.\d+$")
    name: str
    category: str
    stage: Stage
    secondary_stage: Stage | None = None
    definition: str = Field(min_length=1)
    counts: str = Field(min_length=1)
    does_not_count: str = Field(min_length=1)
    single_agent: str = Field(min_length=1)
    # short worked cases where the boundary is easy to miss, each "Present: ..." or "Absent: ..."
    examples: list[str] = []
    aliases: list[str] = []

    @model_validator(mode="after")
    def _code_matches_id(self) -> Mode:
        if self.id != f"FM-{self.code}":
            raise ValueError(f"mode {self.id}: code {self.code!r} does not match its id")
        return self


class UnknownMode(ValueError):
    """A mode name or code that resolves to no mode of the taxonomy."""


def normalize_label(text: str) -> str:
    """Lower-case, drop punctuation and collapse spaces, for name matching."""
    text = text.lower().replace("'", "").replace("’", "")
    return " ".join(re.sub(r"[^a-z0-9.]+", " ", text).split())


_CODE = re.compile(r"^\s*(?:fm)?[\s_-]*(\d+)\s*[.\-_]\s*(\d+)\b", re.IGNORECASE)


class Taxonomy(BaseModel):
    """A versioned set of failure modes. Use :func:`load_taxonomy` to build one."""

    name: str
    version: str
    description: str = ""
    categories: list[Category]
    modes: list[Mode]
    legacy_unmapped: list[str] = []
    _index: dict[str, str] = PrivateAttr(default_factory=dict)
    _by_id: dict[str, Mode] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Taxonomy:
        ids = [m.id for m in self.modes]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate mode ids: {', '.join(dupes)}")
        cats = {c.id for c in self.categories}
        for m in self.modes:
            if m.category not in cats:
                raise ValueError(f"mode {m.id}: unknown category {m.category!r}")
        self._index = self._build_index()
        self._by_id = {m.id: m for m in self.modes}
        return self

    def _build_index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for m in self.modes:
            for label in [m.name, *m.aliases]:
                key = normalize_label(label)
                if key in index and index[key] != m.id:
                    raise ValueError(f"label {label!r} names both {index[key]} and {m.id}")
                index[key] = m.id
        return index

    @property
    def ids(self) -> list[str]:
        return [m.id for m in self.modes]

    def mode(self, mode_id: str) -> Mode:
        return self.by_id[self.resolve(mode_id)]

    @property
    def by_id(self) -> dict[str, Mode]:
        return self._by_id

    def category(self, category_id: str) -> Category:
        return next(c for c in self.categories if c.id == category_id)

    def resolve_name(self, name: str) -> str | None:
        """Mode id for a name or alias (no codes), or None."""
        return self._index.get(normalize_label(name))

    def resolve(self, label: str) -> str:
        """Mode id for an id, bare code, name or alias ("FM-3.3", "3.3", "FM 3.3", "Weak Verification").

        A label that starts with a code (e.g. "1.3 Step Repetition") resolves by the code.
        Raises :class:`UnknownMode` when nothing matches.
        """
        if label in self._by_id:
            return label
        m = _CODE.match(label)
        if m:
            mode_id = f"FM-{int(m.group(1))}.{int(m.group(2))}"
            if mode_id in self.by_id:
                return mode_id
            raise UnknownMode(f"unknown failure mode code {label.strip()!r}")
        found = self.resolve_name(label)
        if found:
            return found
        raise UnknownMode(f"unknown failure mode {label.strip()!r}")

    def category_of(self, mode_id: str) -> str:
        return self.by_id[mode_id].category
