"""Failure vectors read from an exported Parquet dataset through DuckDB (``stats --from``, ``report --from``).

``mastlens export --to parquet DIR`` writes a hive-partitioned dataset (``analysis/export.py``); this module
reads it back as the frame :func:`~mastlens.analysis.vectors.failure_vectors` builds from the store, so
:func:`~mastlens.analysis.stats.stats_from_vectors` gives the same figures from either. DuckDB scans the files
out of core: it keeps only the rows of the asked set and only the columns the statistics use (id, outcome,
the group key, the mode and onset columns; no other metadata), so the frame holds a few bytes per trace and
mode whatever the files carry. The source is a dataset folder, a glob (``'DIR/**/*.parquet'``) or one file.
"""

from __future__ import annotations

import glob as globbing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mastlens.analysis.export import MANIFEST, read_manifest
from mastlens.analysis.stats import stats_from_vectors
from mastlens.analysis.vectors import AS_INGESTED, ONSET_SUFFIX
from mastlens.analysis.groups import DEFAULT_RULES, VerdictRules
from mastlens.analysis.results import StatsResult
from mastlens.taxonomy import Taxonomy, load_taxonomy

_WILDCARDS = ("*", "?", "[")
#: Arrow types read as the store frame's nullable pandas dtypes (modes and success tri-state, whole numbers)
_STORE_DTYPES = {pa.bool_(): pd.BooleanDtype(), pa.int64(): pd.Int64Dtype()}
_OUTCOME = ("id", "model", "system", "task", "success", "score", "decisive_step", "decisive_agent")


@dataclass
class ParquetSource:
    """Where the vectors are: the files DuckDB scans and the folder of the dataset's manifest."""

    pattern: str
    root: Path
    manifest: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, source: str | Path) -> ParquetSource:
        """A dataset folder, a glob or a ``.parquet`` file. Raises ``ValueError`` when nothing matches."""
        text = str(source)
        path = Path(text)
        if path.is_dir():
            pattern, root = str(path / "**" / "*.parquet"), path
        else:  # a glob or a file: the manifest sits in the folder before the first wildcard
            pattern, root = text, Path(path.anchor)
            for part in path.parent.parts[len(Path(path.anchor).parts):] if path.anchor else path.parent.parts:
                if any(mark in part for mark in _WILDCARDS):
                    break
                root = root / part
        if not globbing.glob(pattern, recursive=True):
            raise ValueError(f"{text}: no Parquet file there (export one with `mastlens export --to parquet DIR`)")
        manifest = read_manifest(root) if (root / MANIFEST).is_file() else {"sets": {}}
        return cls(pattern, root, manifest)

    def connect(self):  # noqa: ANN202 - a duckdb connection (imported lazily)
        import duckdb

        return duckdb.connect()

    def scan(self) -> str:
        return "read_parquet(?, hive_partitioning = true, union_by_name = true)"

    def columns(self, con) -> list[str]:  # noqa: ANN001
        return [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {self.scan()}", [self.pattern]).fetchall()]

    def sets(self, con, columns: list[str]) -> list[str]:  # noqa: ANN001
        if "set" not in columns:
            return []
        return [r[0] for r in con.execute(f'SELECT DISTINCT "set" FROM {self.scan()} ORDER BY 1',
                                          [self.pattern]).fetchall()]


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _group_source(columns: list[str], group_by: str, mode_ids: list[str]) -> str | None:
    """The column :func:`~mastlens.analysis.stats.group_column` would pick (a tag before a metadata key)."""
    for name in (group_by, f"tag.{group_by}", f"meta.{group_by}"):
        if name in columns and name not in mode_ids:
            return name
    return None


def _nullable(values: pd.Series, dtype: str) -> pd.Series:
    return values.astype(dtype) if len(values) else pd.Series([], dtype=dtype)


def vectors_from_parquet(source: str | Path | ParquetSource, set_name: str | None = None, *,
                         group_by: str = "model", taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """The failure vectors of ``set_name`` (default: the dataset's only set) in the Parquet dataset, as the
    frame :func:`~mastlens.analysis.vectors.failure_vectors` builds (same columns, dtypes and row order),
    with only the ``group_by`` column of the metadata and tags. Raises ``ValueError`` for an unknown set
    or group key."""
    src = source if isinstance(source, ParquetSource) else ParquetSource.open(source)
    taxonomy = taxonomy or load_taxonomy()
    con = src.connect()
    try:
        columns = src.columns(con)
        sets = src.sets(con, columns)
        if set_name is None:
            if len(sets) > 1:
                raise ValueError(f"the dataset holds several sets ({', '.join(sets)}): choose one with --set")
            set_name = sets[0] if sets else ""
        elif set_name not in sets:
            raise ValueError(f"no set {set_name!r} in the dataset (sets there: {', '.join(sets) or 'none'})")
        mode_ids = [m for m in taxonomy.ids if m in columns]
        group = _group_source(columns, group_by, mode_ids)
        if group is None and group_by not in ("model", "system", "task"):
            keys = sorted({c.split(".", 1)[1] for c in columns if c.startswith(("meta.", "tag."))})
            raise ValueError(f"cannot group by {group_by!r}: use model, system, task, a tag or a metadata key "
                             f"({', '.join(keys) or 'the traces have none'})")
        wanted = [c for c in _OUTCOME if c in columns]
        if group and group not in wanted:
            wanted.append(group)
        onsets = [f"{m}{ONSET_SUFFIX}" for m in mode_ids if f"{m}{ONSET_SUFFIX}" in columns]
        selected = [_quote(c) for c in wanted + mode_ids] + [f"CAST({_quote(c)} AS DOUBLE) AS {_quote(c)}"
                                                             for c in onsets]  # NaN where there is none
        where = 'WHERE "set" = ?' if "set" in columns else ""
        params = [src.pattern] + ([set_name] if where else [])
        arrow = con.sql(f"SELECT {', '.join(selected)} FROM {src.scan()} {where} ORDER BY id",
                        params=params).to_arrow_table()
    finally:
        con.close()
    # column by column, freeing the Arrow buffers as they are converted: the frame, not two copies of it
    df = arrow.to_pandas(types_mapper=_STORE_DTYPES.get, self_destruct=True, split_blocks=True)
    del arrow
    df = _typed(df, mode_ids, onsets)
    facts = src.manifest.get("sets", {}).get(set_name, {})
    df.attrs["set"] = set_name
    df.attrs["success_rule"] = facts.get("success_rule") or AS_INGESTED
    df.attrs["success_decided"] = facts.get("success_decided", "")
    df.attrs["excluded"] = facts.get("excluded") or {"stale": 0, "errors": 0, "not_in_store": 0}
    df.attrs["modes"] = list(taxonomy.ids)
    return df


def _typed(df: pd.DataFrame, mode_ids: list[str], onsets: list[str]) -> pd.DataFrame:
    """The store frame's dtypes where Arrow's differ: a nullable score; onsets as floats with NaN (also when
    the dataset has no row)."""
    df["score"] = _nullable(df["score"], "Float64")
    for name in ["success", *mode_ids]:
        if df[name].dtype != "boolean":  # an all-null column comes back untyped
            df[name] = _nullable(df[name], "boolean")
    if "decisive_step" in df and df["decisive_step"].dtype != "Int64":
        df["decisive_step"] = _nullable(df["decisive_step"], "Int64")
    for column in onsets:
        df[column] = df[column].to_numpy(dtype=float, na_value=np.nan)
    return df


def stats_from_parquet(source: str | Path, set_name: str | None = None, *, group_by: str = "model",
                       compare: list[str] | tuple[str, str] | None = None, rules: VerdictRules = DEFAULT_RULES,
                       model_aliases: dict[str, str] | None = None) -> StatsResult:
    """:func:`~mastlens.analysis.stats.compute_stats` on an exported Parquet dataset instead of the store."""
    taxonomy = load_taxonomy()
    df = vectors_from_parquet(source, set_name, group_by=group_by, taxonomy=taxonomy)
    return stats_from_vectors(df, set_name=df.attrs["set"], group_by=group_by, compare=compare, rules=rules,
                              taxonomy=taxonomy, model_aliases=model_aliases)
