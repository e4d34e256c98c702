"""Failure vectors written as tables (CSV, Parquet, JSON lines) for notebooks, BI tools and other stacks.

Mode columns stay tri-state in every format: present true, absent false, not assessed null (an empty
cell in CSV). Whole-number columns (metadata such as ``task_id`` or ``trial``, first-evidence steps) stay
integers, as nullable integers where some traces lack the value, instead of pandas' ``30.0``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mastlens.analysis.vectors import ONSET_SUFFIX

TABLE_FORMATS = ("csv", "parquet", "jsonl")


def _mixed(values: pd.Series) -> bool:
    """True when a column holds values of different kinds (e.g. a metadata field that is 2 in one trace and
    "Medium" in another), which Parquet cannot store in one typed column; such columns are written as text."""
    kinds = {"number" if isinstance(v, (int, float)) and not isinstance(v, bool) else type(v).__name__
             for v in values if v is not None}
    return len(kinds) > 1


def _whole(values: pd.Series) -> bool:
    present = values.dropna()
    return len(present) > 0 and bool((present % 1 == 0).all())


def with_integer_columns(df: pd.DataFrame) -> pd.DataFrame:
    """A copy where the metadata and first-step columns holding only whole numbers are nullable ``Int64``
    (the score stays a float: it is one by nature)."""
    out = df.copy()
    for column in out.columns:
        if not (column.startswith("meta.") or column.endswith(ONSET_SUFFIX)):
            continue
        values = out[column]
        if pd.api.types.is_bool_dtype(values):
            continue
        if column.endswith(ONSET_SUFFIX):  # a step index, or empty
            out[column] = values.astype("Int64")
        elif pd.api.types.is_float_dtype(values) and _whole(values):
            out[column] = values.astype("Int64")
        elif values.dtype == object:
            kept = values.dropna()
            if len(kept) and all(isinstance(v, int) and not isinstance(v, bool) for v in kept):
                out[column] = values.astype("Int64")
    return out


def write_vectors(df: pd.DataFrame, fmt: str, path: Path) -> None:
    """Write failure vectors (from :func:`~mastlens.analysis.failure_vectors`) as ``fmt``."""
    df = with_integer_columns(df)
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "parquet":
        table = df.copy()
        table.attrs = {}  # run facts (excluded counts...) are not columns; keep the file plain
        for column in table.columns:
            if table[column].dtype == object and _mixed(table[column]):
                table[column] = table[column].map(lambda v: None if v is None else str(v))
        table.to_parquet(path, index=False)
    elif fmt == "jsonl":
        df.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        raise ValueError(f"unknown table format {fmt!r}; choose one of {', '.join(TABLE_FORMATS)}")
