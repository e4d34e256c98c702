"""Failure vectors read from an exported Parquet dataset through DuckDB (``stats --from``, ``report --from``).

``mastlens export --to parquet DIR`` writes a hive-partitioned dataset (``analysis/export.py``).
:func:`stats_from_parquet` scans the asked set's files once (the ``set_key`` partition prunes the other sets'
files) and reduces the rows batch by batch to :class:`~mastlens.analysis.patterns.Patterns`, the distinct
vectors with counts, which the statistics are computed from exactly as on the store's path: out of core, with
memory bounded by the batch and the number of distinct vectors, not by the number of traces.
:func:`vectors_from_parquet` reads the set back as the frame :func:`~mastlens.analysis.vectors.failure_vectors`
builds (only the columns the statistics use). The source is a dataset folder, a glob (``'DIR/**/*.parquet'``)
or one file.
"""

from __future__ import annotations

import glob as globbing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mastlens.analysis.export import MANIFEST, partition_value, read_manifest
from mastlens.analysis.patterns import STORE_DTYPES, Patterns, Relation, reduce_vectors
from mastlens.analysis.stats import group_labels, playbook_modes, source_labels, stats_from_patterns
from mastlens.analysis.vectors import AS_INGESTED, JUDGE_TASK_COMPLETED, ONSET_SUFFIX
from mastlens.analysis.groups import DEFAULT_RULES, VerdictRules
from mastlens.analysis.results import StatsResult
from mastlens.taxonomy import Taxonomy, load_taxonomy

_WILDCARDS = ("*", "?", "[")
_STORE_DTYPES = STORE_DTYPES  # Arrow types read as the store frame's nullable pandas dtypes
_OUTCOME = ("id", "model", "system", "task", "format", "source", "success", "score", "decisive_step",
            "decisive_agent", JUDGE_TASK_COMPLETED)


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


def _chosen_set(src: ParquetSource, con, columns: list[str], set_name: str | None) -> str:  # noqa: ANN001
    sets = src.sets(con, columns)
    if set_name is None:
        if len(sets) > 1:
            raise ValueError(f"the dataset holds several sets ({', '.join(sets)}): choose one with --set")
        return sets[0] if sets else ""
    if set_name not in sets:
        raise ValueError(f"no set {set_name!r} in the dataset (sets there: {', '.join(sets) or 'none'})")
    return set_name


def _no_group(group_by: str, columns: list[str]) -> str:
    keys = sorted({c.split(".", 1)[1] for c in columns if c.startswith(("meta.", "tag."))})
    return (f"cannot group by {group_by!r}: use model, system, task, a tag or a metadata key "
            f"({', '.join(keys) or 'the traces have none'})")


def _where(src: ParquetSource, columns: list[str], set_name: str) -> tuple[str, list[Any]]:
    """The set's rows; with the ``set_key`` partition too, so that DuckDB skips the other sets' files."""
    if "set" not in columns:
        return "", [src.pattern]
    if "set_key" in columns:
        return 'WHERE set_key = ? AND "set" = ?', [src.pattern, partition_value(set_name), set_name]
    return 'WHERE "set" = ?', [src.pattern, set_name]


def _scan_plan(src: ParquetSource, con, set_name: str | None, group_by: str,  # noqa: ANN001
               taxonomy: Taxonomy) -> tuple[list[str], str, list[str], str | None]:
    """The dataset's columns, the chosen set, the mode columns present and the column to group by."""
    columns = src.columns(con)
    mode_ids = [m for m in taxonomy.ids if m in columns]
    return columns, _chosen_set(src, con, columns, set_name), mode_ids, _group_source(columns, group_by, mode_ids)


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
        columns, set_name, mode_ids, group = _scan_plan(src, con, set_name, group_by, taxonomy)
        if group is None and group_by not in ("model", "system", "task"):
            raise ValueError(_no_group(group_by, columns))
        wanted = [c for c in _OUTCOME if c in columns]
        if group and group not in wanted:
            wanted.append(group)
        onsets = [f"{m}{ONSET_SUFFIX}" for m in mode_ids if f"{m}{ONSET_SUFFIX}" in columns]
        selected = [_quote(c) for c in wanted + mode_ids] + [f"CAST({_quote(c)} AS DOUBLE) AS {_quote(c)}"
                                                             for c in onsets]  # NaN where there is none
        where, params = _where(src, columns, set_name)
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
    for name in ["success", *mode_ids, *([JUDGE_TASK_COMPLETED] if JUDGE_TASK_COMPLETED in df else [])]:
        if df[name].dtype != "boolean":  # an all-null column comes back untyped
            df[name] = _nullable(df[name], "boolean")
    if "decisive_step" in df and df["decisive_step"].dtype != "Int64":
        df["decisive_step"] = _nullable(df["decisive_step"], "Int64")
    for column in onsets:
        df[column] = df[column].to_numpy(dtype=float, na_value=np.nan)
    return df


def _labeler(group_by: str, group: str | None, model_aliases: dict[str, str] | None):  # noqa: ANN202
    """Group and source labels of the distinct key values, as :func:`~mastlens.analysis.stats.group_labels` and
    :func:`~mastlens.analysis.stats.source_labels` name them on the store's frame (the same functions, on
    the distinct values instead of every row)."""

    def labels(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
        frame.attrs["modes"] = []
        groups = group_labels(frame, group_by, model_aliases)
        sources = source_labels(frame)
        by_source: list[str] = []
        if sources is not None and group == "model":
            no_model = ~frame["model"].map(lambda v: isinstance(v, str) and bool(v)).to_numpy(dtype=bool)
            by_source = sorted(set(sources[no_model].tolist()))
        return groups, sources, by_source

    return labels


def patterns_from_parquet(source: str | Path | ParquetSource, set_name: str | None = None, *,
                          group_by: str = "model", model_aliases: dict[str, str] | None = None,
                          taxonomy: Taxonomy | None = None) -> tuple[Patterns, dict[str, Any]]:
    """The set's vectors in the Parquet dataset reduced to :class:`~mastlens.analysis.patterns.Patterns`
    in one DuckDB scan (nothing per trace stays in memory), and the run facts of the manifest (as
    ``df.attrs``). Raises ``ValueError`` for an unknown set or group key."""
    src = source if isinstance(source, ParquetSource) else ParquetSource.open(source)
    taxonomy = taxonomy or load_taxonomy()
    con = src.connect()
    try:
        columns, set_name, mode_ids, group = _scan_plan(src, con, set_name, group_by, taxonomy)
        if group is None:
            raise ValueError(_no_group(group_by, columns))
        keys = [group] + [c for c in ("model", "source") if c in columns and c != group
                          and (c == "source" or group == "model")]
        where, params = _where(src, columns, set_name)
        rel = Relation(con, f"(SELECT * FROM {src.scan()} {where})", params, set(columns), keys, order="id")
        patterns = reduce_vectors(rel, mode_ids, _labeler(group_by, group, model_aliases), JUDGE_TASK_COMPLETED,
                                  ONSET_SUFFIX, playbook_modes())
    finally:
        con.close()
    return patterns, _attrs(src, set_name, taxonomy)


def _attrs(src: ParquetSource, set_name: str, taxonomy: Taxonomy) -> dict[str, Any]:
    facts = src.manifest.get("sets", {}).get(set_name, {})
    return {"set": set_name, "success_rule": facts.get("success_rule") or AS_INGESTED,
            "success_decided": facts.get("success_decided", ""),
            "excluded": facts.get("excluded") or {"stale": 0, "errors": 0, "not_in_store": 0},
            "modes": list(taxonomy.ids)}


def stats_from_parquet(source: str | Path, set_name: str | None = None, *, group_by: str = "model",
                       compare: list[str] | tuple[str, str] | None = None, rules: VerdictRules = DEFAULT_RULES,
                       model_aliases: dict[str, str] | None = None) -> StatsResult:
    """:func:`~mastlens.analysis.stats.compute_stats` on an exported Parquet dataset instead of the store:
    DuckDB scans the files once into :class:`~mastlens.analysis.patterns.Patterns`, and the statistics are
    computed from those as on the store's path."""
    taxonomy = load_taxonomy()
    patterns, attrs = patterns_from_parquet(source, set_name, group_by=group_by, model_aliases=model_aliases,
                                            taxonomy=taxonomy)
    return stats_from_patterns(patterns, attrs, set_name=attrs["set"], group_by=group_by, compare=compare,
                               rules=rules, taxonomy=taxonomy, model_aliases=model_aliases)
