"""Failure vectors written as tables (CSV, Parquet, JSON lines) for notebooks, BI tools and other stacks.

Mode columns stay tri-state in every format: present true, absent false, not assessed null (an empty
cell in CSV). Whole-number columns (metadata such as ``task_id`` or ``trial``, first-evidence steps) stay
integers, as nullable integers where some traces lack the value, instead of pandas' ``30.0``.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads

from mastlens.analysis.vectors import ONSET_SUFFIX
from mastlens.store import Store
from mastlens.trace.model_names import group_model

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


def _parquet_ready(df: pd.DataFrame) -> pd.DataFrame:
    """A copy Parquet can store: no run facts (they are not columns) and mixed-kind columns as text."""
    table = df.copy()
    table.attrs = {}
    for column in table.columns:
        if table[column].dtype == object and _mixed(table[column]):
            table[column] = table[column].map(lambda v: None if v is None else str(v))
    return table


def write_vectors(df: pd.DataFrame, fmt: str, path: Path) -> None:
    """Write failure vectors (from :func:`~mastlens.analysis.failure_vectors`) as ``fmt``."""
    df = with_integer_columns(df)
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "parquet":
        _parquet_ready(df).to_parquet(path, index=False)
    elif fmt == "jsonl":
        df.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        raise ValueError(f"unknown table format {fmt!r}; choose one of {', '.join(TABLE_FORMATS)}")


# -- a partitioned Parquet dataset (``export --to parquet DIR``), read back by analysis/parquet_source.py -----

#: the file beside the partitions saying which sets the dataset holds and their run facts
MANIFEST = "_mastlens.json"
DATASET_FORMAT = "mastlens-vectors-1"
#: hive partition keys, outermost first: the annotation set, the model's group name, the day traces were ingested
PARTITION_KEYS = ("set_key", "model_key", "ingest_day")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def partition_value(value: str | None) -> str:
    """A partition directory value: letters, digits, ``.``, ``_`` and ``-`` only (``openai:gpt-4.1`` ->
    ``openai_gpt-4.1``), so the layout reads the same on every file system and in every engine."""
    return _UNSAFE.sub("_", value or "").strip("_") or "unknown"


def ingest_days(store: Store, ids: list[str]) -> list[str]:
    """The day (``YYYY-MM-DD``, UTC) each trace was ingested, in the order of ``ids``."""
    day = dict(store.conn.execute("SELECT id, substr(ingested_at, 1, 10) FROM traces").fetchall())
    return [day.get(i) or "unknown" for i in ids]


def write_vector_dataset(df: pd.DataFrame, directory: Path, days: list[str]) -> dict[str, Any]:
    """Write failure vectors as a hive-partitioned Parquet dataset under ``directory``
    (``set_key=.../model_key=.../ingest_day=.../*.parquet``), replacing what an earlier export of the same
    set wrote there, and record the set's run facts in ``_mastlens.json``. Returns what was written."""
    set_name = str(df.attrs.get("set", ""))
    table = _parquet_ready(with_integer_columns(df))
    table.insert(0, "set", set_name)
    table["set_key"] = partition_value(set_name)
    table["model_key"] = [partition_value(group_model(m if isinstance(m, str) else None)) for m in df["model"]]
    table["ingest_day"] = days
    directory.mkdir(parents=True, exist_ok=True)
    old = directory / f"set_key={partition_value(set_name)}"
    if old.is_dir():
        shutil.rmtree(old)
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    if len(table):
        pads.write_dataset(arrow, directory, format="parquet", partitioning=list(PARTITION_KEYS),
                           partitioning_flavor="hive", basename_template=f"{uuid.uuid4().hex}-{{i}}.parquet",
                           existing_data_behavior="overwrite_or_ignore",
                           max_partitions=1_000_000)  # models x ingest days: far beyond pyarrow's default 1,024
    manifest = read_manifest(directory)
    manifest["sets"][set_name] = {
        "rows": len(table), "modes": list(df.attrs.get("modes", [])),
        "success_rule": df.attrs.get("success_rule", ""), "success_decided": df.attrs.get("success_decided", ""),
        "excluded": df.attrs.get("excluded", {}),
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return {"rows": len(table), "files": len(list(old.rglob("*.parquet"))) if old.is_dir() else 0,
            "partitions": list(PARTITION_KEYS)}


def read_manifest(directory: Path) -> dict[str, Any]:
    """A dataset's manifest (an empty one where there is none yet). Raises ``ValueError`` for a file that is
    not one."""
    path = directory / MANIFEST
    if not path.is_file():
        return {"format": DATASET_FORMAT, "sets": {}}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a mastlens dataset manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != DATASET_FORMAT or not isinstance(
            manifest.get("sets"), dict):
        raise ValueError(f"{path}: not a {DATASET_FORMAT} manifest")
    return manifest
